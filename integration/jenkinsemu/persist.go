package jenkinsemu

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// persisted is JENKINS_HOME's content for the emulator: one JSON file
// (Jenkins keeps config.xml files; the emulator needs only the facts).
type persisted struct {
	InstanceKey string          `json:"instanceKey"`
	NextQueueID int64           `json:"nextQueueId"`
	Jobs        []persistedJob  `json:"jobs"`
	Nodes       []persistedNode `json:"nodes"`
	// Queue is queue.xml: the waiting, blocked and buildable items with
	// their ids (Queue.save/Queue.load). Pipeline node blocks are not kept:
	// their run is aborted by the restart.
	Queue []persistedItem `json:"queue"`
}

type persistedItem struct {
	ID             int64  `json:"id"`
	Job            string `json:"job"`
	State          string `json:"state"` // waiting, blocked or buildable
	InQueueSince   int64  `json:"inQueueSince"`
	QuietUntil     int64  `json:"timestamp"`
	BuildableSince int64  `json:"buildableStartMilliseconds"`
	BuildableSeq   int64  `json:"buildableSeq"`
}

var itemStateNames = map[itemState]string{waiting: "waiting", blocked: "blocked", buildable: "buildable"}

type persistedJob struct {
	Name            string           `json:"name"`
	ConfigXML       string           `json:"configXml"`
	NextBuildNumber int              `json:"nextBuildNumber"`
	Builds          []persistedBuild `json:"builds"`
}

type persistedBuild struct {
	Number    int    `json:"number"`
	QueueID   int64  `json:"queueId"`
	Result    string `json:"result"`
	Timestamp int64  `json:"timestamp"`
	Duration  int64  `json:"duration"`
	BuiltOn   string `json:"builtOn"`
	AbortedBy string `json:"abortedBy,omitempty"`
}

type persistedNode struct {
	Spec         NodeSpec `json:"spec"`
	TempOffline  bool     `json:"temporarilyOffline"`
	OfflineCause string   `json:"offlineCause"`
	OfflineBy    string   `json:"offlineBy"`
	OfflineSince int64    `json:"offlineSince"`
}

func (j *Jenkins) statePath() string { return filepath.Join(j.cfg.Home, "jenkins-emulator.json") }

// saveLocked writes the home atomically. Jenkins writes a job's next build
// number as soon as it is assigned, a build's build.xml when it starts,
// and queue.xml on shutdown and (Queue.Saver) after items enter or leave;
// the emulator writes all of it at once on every such change, so nothing
// handed out is ever handed out again.
func (j *Jenkins) saveLocked() {
	if j.cfg.Home == "" {
		return
	}
	st := persisted{InstanceKey: string(j.instanceKey), NextQueueID: j.nextQueueID}
	for _, name := range j.sortedJobNames() {
		job := j.jobs[name]
		pj := persistedJob{Name: name, ConfigXML: job.ConfigXML, NextBuildNumber: job.NextBuildNumber}
		for _, b := range job.Builds {
			pj.Builds = append(pj.Builds, persistedBuild{Number: b.Number, QueueID: b.QueueID, Result: b.Result, Timestamp: b.Timestamp, Duration: b.Duration, BuiltOn: b.BuiltOn, AbortedBy: b.AbortedBy})
		}
		st.Jobs = append(st.Jobs, pj)
	}
	for _, n := range j.sortedNodes() {
		st.Nodes = append(st.Nodes, persistedNode{Spec: NodeSpec{Name: n.Name, Description: n.Description, RemoteFS: n.RemoteFS, Labels: n.LabelString,
			NumExecutors: n.NumExecutors, Mode: n.Mode, WebSocket: n.WebSocket}, TempOffline: n.TempOffline, OfflineCause: n.OfflineCause,
			OfflineBy: n.offlineBy, OfflineSince: n.offlineSince})
	}
	for _, it := range j.queue {
		name, ok := itemStateNames[it.state]
		if !ok || it.placeholder {
			continue
		}
		st.Queue = append(st.Queue, persistedItem{ID: it.ID, Job: it.job.Name, State: name, InQueueSince: it.inQueueSince,
			QuietUntil: it.quietUntil, BuildableSince: it.buildableSince, BuildableSeq: it.buildableSeq})
	}
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return
	}
	tmp := j.statePath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		j.log.WithError(err).Warn("cannot save JENKINS_HOME")
		return
	}
	if err := os.Rename(tmp, j.statePath()); err != nil {
		j.log.WithError(err).Warn("cannot save JENKINS_HOME")
	}
}

// load reads the home; builds that were running when it was written are
// recorded as ABORTED, as Jenkins does for builds cut off by a restart.
func (j *Jenkins) load() error {
	if j.cfg.Home == "" {
		return nil
	}
	if err := os.MkdirAll(j.cfg.Home, 0o755); err != nil {
		return fmt.Errorf("jenkinsemu: home %s: %w", j.cfg.Home, err)
	}
	b, err := os.ReadFile(j.statePath())
	if os.IsNotExist(err) {
		j.saveLocked()
		return nil
	}
	if err != nil {
		return fmt.Errorf("jenkinsemu: home: %w", err)
	}
	var st persisted
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("jenkinsemu: home %s is corrupt: %w", j.statePath(), err)
	}
	j.instanceKey = []byte(st.InstanceKey)
	j.nextQueueID = st.NextQueueID
	j.jobs = map[string]*Job{}
	for _, pj := range st.Jobs {
		job, err := parseJobConfig(pj.Name, pj.ConfigXML)
		if err != nil {
			return fmt.Errorf("jenkinsemu: home: job %s: %w", pj.Name, err)
		}
		job.NextBuildNumber = pj.NextBuildNumber
		for _, pb := range pj.Builds {
			res := pb.Result
			if res == "" {
				res = "ABORTED"
			}
			job.Builds = append(job.Builds, &Build{job: job, Number: pb.Number, QueueID: pb.QueueID, Result: res, Timestamp: pb.Timestamp, Duration: pb.Duration, BuiltOn: pb.BuiltOn, AbortedBy: pb.AbortedBy})
		}
		j.jobs[job.Name] = job
	}
	j.nodes = map[string]*Node{}
	for _, pn := range st.Nodes {
		n, msg := j.addNodeLocked(pn.Spec)
		if msg != "" {
			return fmt.Errorf("jenkinsemu: home: node %s: %s", pn.Spec.Name, msg)
		}
		n.TempOffline, n.OfflineCause, n.offlineBy, n.offlineSince = pn.TempOffline, pn.OfflineCause, pn.OfflineBy, pn.OfflineSince
	}
	states := map[string]itemState{"waiting": waiting, "blocked": blocked, "buildable": buildable}
	for _, pi := range st.Queue {
		job := j.jobs[pi.Job]
		state, ok := states[pi.State]
		if job == nil || !ok {
			continue // the job is gone: Queue.load drops such items
		}
		it := &QueueItem{ID: pi.ID, job: job, state: state, inQueueSince: pi.InQueueSince, quietUntil: pi.QuietUntil,
			buildableSince: pi.BuildableSince, buildableSeq: pi.BuildableSeq}
		if !job.Pipeline {
			it.label, it.labelKey = job.label, job.labelKey
		}
		if it.ID > j.nextQueueID {
			j.nextQueueID = it.ID
		}
		if it.buildableSeq > j.buildableSeq {
			j.buildableSeq = it.buildableSeq
		}
		j.queue = append(j.queue, it)
	}
	j.saveLocked() // builds cut off are ABORTED on disk too
	return nil
}

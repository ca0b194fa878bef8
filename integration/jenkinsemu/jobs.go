package jenkinsemu

import (
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Job is a freestyle project or a Pipeline job.
type Job struct {
	Name            string
	Pipeline        bool
	Description     string
	AssignedNode    string // freestyle label expression
	CanRoam         bool
	Commands        []string // freestyle shell steps
	Script          string   // Pipeline script
	ConfigXML       string
	NextBuildNumber int
	Builds          []*Build // oldest first
	Concurrent      bool

	label    *labelExpr
	labelKey string // label.String(), computed once
	urlPath  string // "job/NAME/"
	fullURL  string
}

// Build is a run of a job.
type Build struct {
	job       *Job
	Number    int
	QueueID   int64
	Building  bool
	Result    string // "" while building
	Timestamp int64  // emulated epoch ms
	Duration  int64
	BuiltOn   string
	Log       string // what the emulator has to say in the console (errors)

	estimate int64 // the job's estimated duration when the build started (ms, -1 unknown)
}

// consoleText is the build's console as /consoleText serves it: the
// emulator does not capture step output, only its own messages.
func consoleText(b *Build) string {
	var s strings.Builder
	s.WriteString("Started by user admin\n")
	if b.BuiltOn != "" {
		s.WriteString("Running on " + b.BuiltOn + "\n")
	}
	if b.Log != "" {
		s.WriteString(strings.TrimSuffix(b.Log, "\n") + "\n")
	}
	if !b.Building {
		s.WriteString("Finished: " + b.Result + "\n")
	}
	return s.String()
}

// step is what a build does once it has an executor: sleep, then exit.
type step struct {
	sleep time.Duration
	exit  int
}

type freestyleXML struct {
	XMLName      xml.Name
	Description  string `xml:"description"`
	AssignedNode string `xml:"assignedNode"`
	CanRoam      string `xml:"canRoam"`
	Concurrent   string `xml:"concurrentBuild"`
	Builders     struct {
		Shell []struct {
			Command string `xml:"command"`
		} `xml:"hudson.tasks.Shell"`
	} `xml:"builders"`
	Definition struct {
		Script string `xml:"script"`
	} `xml:"definition"`
}

// parseJobConfig reads a freestyle <project> or a Pipeline <flow-definition>.
func parseJobConfig(name, config string) (*Job, error) {
	var x freestyleXML
	if err := xmlUnmarshal([]byte(config), &x); err != nil {
		return nil, fmt.Errorf("Failed to parse config.xml: %v", err)
	}
	j := &Job{Name: name, Description: x.Description, ConfigXML: config, NextBuildNumber: 1, urlPath: "job/" + name + "/"}
	switch x.XMLName.Local {
	case "project":
		j.AssignedNode = strings.TrimSpace(x.AssignedNode)
		j.CanRoam = strings.TrimSpace(x.CanRoam) != "false"
		if j.AssignedNode != "" && strings.TrimSpace(x.CanRoam) == "" {
			j.CanRoam = false
		}
		j.Concurrent = strings.TrimSpace(x.Concurrent) == "true"
		for _, sh := range x.Builders.Shell {
			j.Commands = append(j.Commands, sh.Command)
		}
	case "flow-definition":
		j.Pipeline = true
		j.Script = x.Definition.Script
		j.Concurrent = true
	default:
		return nil, fmt.Errorf("Unsupported job type <%s>: only freestyle <project> and Pipeline <flow-definition> are emulated", x.XMLName.Local)
	}
	if !j.CanRoam && j.AssignedNode != "" {
		e, err := parseLabelExpr(j.AssignedNode)
		if err != nil {
			return nil, fmt.Errorf("Invalid label expression %q: %v", j.AssignedNode, err)
		}
		j.label = e
		j.labelKey = e.String()
	} else {
		j.CanRoam = true
	}
	return j, nil
}

var (
	sleepRe   = regexp.MustCompile(`(?m)^\s*sleep\s+([0-9.]+)([smhd]?)\s*$`)
	exitRe    = regexp.MustCompile(`(?m)^\s*exit\s+([0-9]+)\s*$`)
	nodeRe    = regexp.MustCompile(`node\s*\(\s*(?:label\s*:\s*)?['"]([^'"]*)['"]\s*\)`)
	shRe      = regexp.MustCompile(`sh\s*\(?\s*['"]([^'"]*)['"]`)
	durations = map[string]time.Duration{"": time.Second, "s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
)

// stepsOf turns shell commands into what the emulator honours: `sleep N`
// lines (emulated time) and `exit N`; other commands are accepted and
// ignored.
func stepsOf(commands []string) step {
	var s step
	for _, c := range commands {
		for _, m := range sleepRe.FindAllStringSubmatch(c, -1) {
			f, _ := strconv.ParseFloat(m[1], 64)
			s.sleep += time.Duration(f * float64(durations[m[2]]))
		}
		if m := exitRe.FindStringSubmatch(c); m != nil && s.exit == 0 {
			s.exit, _ = strconv.Atoi(m[1])
		}
	}
	return s
}

// pipelineNode returns the label of the script's node('...') block and the
// shell commands inside it.
func pipelineNode(script string) (label string, hasNode bool, commands []string) {
	if m := nodeRe.FindStringSubmatch(script); m != nil {
		label, hasNode = m[1], true
	}
	for _, m := range shRe.FindAllStringSubmatch(script, -1) {
		commands = append(commands, m[1])
	}
	return label, hasNode, commands
}

func (b *Build) url(root string) string {
	return root + "job/" + b.job.Name + "/" + strconv.Itoa(b.Number) + "/"
}

// url is the job's absolute URL (computed once: the root never changes).
func (j *Job) url(root string) string {
	if j.fullURL == "" {
		j.fullURL = root + j.urlPath
	}
	return j.fullURL
}

func (j *Job) lastBuild() *Build {
	if len(j.Builds) == 0 {
		return nil
	}
	return j.Builds[len(j.Builds)-1]
}

// runningBuild is the newest build still in progress, nil for none.
func (j *Job) runningBuild() *Build {
	for i := len(j.Builds) - 1; i >= 0; i-- {
		if j.Builds[i].Building {
			return j.Builds[i]
		}
	}
	return nil
}

// estimatedDuration is Job.getEstimatedDuration: the mean duration of the
// last successful build and up to two more recent SUCCESS/UNSTABLE builds
// (FAILURE ones fill in), among the last six; -1 when there are none.
func (j *Job) estimatedDuration() int64 {
	var cands, fallback []*Build
	var lastOK *Build
	for i := len(j.Builds) - 1; i >= 0; i-- {
		if b := j.Builds[i]; !b.Building && b.Result == "SUCCESS" {
			lastOK = b
			break
		}
	}
	if lastOK != nil {
		cands = append(cands, lastOK)
	}
	for i, k := len(j.Builds)-1, 0; i >= 0 && len(cands) < 3 && k < 6; i, k = i-1, k+1 {
		b := j.Builds[i]
		if b.Building || b.Result == "" || b == lastOK {
			continue
		}
		switch b.Result {
		case "SUCCESS", "UNSTABLE":
			cands = append(cands, b)
		case "FAILURE":
			fallback = append(fallback, b)
		}
	}
	for len(cands) < 3 && len(fallback) > 0 {
		cands, fallback = append(cands, fallback[0]), fallback[1:]
	}
	var total int64
	for _, b := range cands {
		total += b.Duration
	}
	if len(cands) == 0 || total == 0 {
		return -1
	}
	return int64(math.Round(float64(total) / float64(len(cands))))
}

// remainingLocked is Executor.getEstimatedRemainingTime for a running
// build: "N/A" without an estimate or past it.
func (jk *Jenkins) remainingLocked(b *Build) string {
	est := b.estimate
	if est < 0 {
		return "N/A"
	}
	eta := est - (jk.nowMillis() - b.Timestamp)
	if eta <= 0 {
		return "N/A"
	}
	return timeSpan(eta)
}

func (j *Job) building() bool {
	for _, b := range j.Builds {
		if b.Building {
			return true
		}
	}
	return false
}

// color is the ball color: notbuilt, blue, red, aborted; _anime while building.
func (j *Job) color() string {
	var last *Build
	for i := len(j.Builds) - 1; i >= 0; i-- {
		if !j.Builds[i].Building {
			last = j.Builds[i]
			break
		}
	}
	c := "notbuilt"
	if last != nil {
		switch last.Result {
		case "SUCCESS":
			c = "blue"
		case "FAILURE":
			c = "red"
		case "UNSTABLE":
			c = "yellow"
		case "ABORTED":
			c = "aborted"
		}
	}
	if j.building() {
		c += "_anime"
	}
	return c
}

// startBuildLocked creates build #N of a job for a queue item.
func (jk *Jenkins) startBuildLocked(job *Job, item *QueueItem, builtOn string) *Build {
	b := &Build{job: job, Number: job.NextBuildNumber, QueueID: item.ID, Building: true, Timestamp: jk.nowMillis(), BuiltOn: builtOn,
		estimate: job.estimatedDuration()}
	job.NextBuildNumber++
	job.Builds = append(job.Builds, b)
	jk.saveLocked() // Job.assignBuildNumber saves nextBuildNumber; the build's directory exists from now on
	jk.log.WithField("build", job.Name+" #"+strconv.Itoa(b.Number)).Info("build started")
	return b
}

// finishBuildLocked records a result and frees what the build held.
func (jk *Jenkins) finishBuildLocked(b *Build, result string) {
	if !b.Building || jk.closed {
		return
	}
	b.Building = false
	b.Result = result
	b.Duration = jk.nowMillis() - b.Timestamp
	jk.log.WithField("build", b.job.Name+" #"+strconv.Itoa(b.Number)).Infof("build finished: %s", result)
	jk.saveLocked()
	jk.kickLocked()
}

// xmlUnmarshal reads Jenkins' XML, which declares version 1.1 (Go's
// decoder knows only 1.0; the documents use nothing 1.1 adds).
func xmlUnmarshal(b []byte, v any) error {
	s := string(b)
	if strings.HasPrefix(strings.TrimSpace(s), "<?xml") {
		if end := strings.Index(s, "?>"); end >= 0 {
			prolog := strings.NewReplacer(`version='1.1'`, `version='1.0'`, `version="1.1"`, `version="1.0"`).Replace(s[:end])
			s = prolog + s[end:]
		}
	}
	return xml.Unmarshal([]byte(s), v)
}

func (j *Jenkins) serveCreateJob(w http.ResponseWriter, r *http.Request) {
	if !requirePOST(w, r) {
		return
	}
	name := r.URL.Query().Get("name")
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		htmlPage(w, http.StatusBadRequest, "Error", "<p>Failed to read the request body: "+html.EscapeString(err.Error())+"</p>")
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if name == "" {
		failure(w, "Query parameter 'name' is required")
		return
	}
	if msg := checkJobName(name); msg != "" {
		failure(w, msg)
		return
	}
	if _, ok := j.jobs[name]; ok {
		failure(w, "A job already exists with the name ‘"+name+"’")
		return
	}
	job, err := parseJobConfig(name, string(body))
	if err != nil {
		htmlPage(w, http.StatusInternalServerError, "Error", "<p>"+html.EscapeString(err.Error())+"</p>")
		return
	}
	j.jobs[name] = job
	j.saveLocked()
	w.WriteHeader(http.StatusOK)
}

// serveConfigXML is AbstractItem.doConfigDotXml: GET reads the job's
// config.xml, POST replaces it (updateByXml: the job keeps its builds and
// next build number, and its queued builds now ask for the new label),
// any other method is a bare 400.
func (j *Jenkins) serveConfigXML(w http.ResponseWriter, r *http.Request, job *Job) {
	switch r.Method {
	case http.MethodGet:
		j.mu.Lock()
		config := job.ConfigXML
		j.mu.Unlock()
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, config)
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil {
			htmlPage(w, http.StatusBadRequest, "Error", "<p>Failed to read the request body: "+html.EscapeString(err.Error())+"</p>")
			return
		}
		next, err := parseJobConfig(job.Name, string(body))
		if err == nil && next.Pipeline != job.Pipeline {
			err = fmt.Errorf("Expecting class %s but got class %s instead", jobClass(job), jobClass(next))
		}
		if err != nil {
			htmlPage(w, http.StatusInternalServerError, "Error", "<p>"+html.EscapeString(err.Error())+"</p>")
			return
		}
		j.mu.Lock()
		job.Description, job.AssignedNode, job.CanRoam, job.Commands = next.Description, next.AssignedNode, next.CanRoam, next.Commands
		job.Script, job.Concurrent, job.ConfigXML = next.Script, next.Concurrent, next.ConfigXML
		job.label, job.labelKey = next.label, next.labelKey
		for _, it := range j.queue {
			// Queue.Item.getAssignedLabel asks the task each time.
			if it.job == job && !it.placeholder && it.state != leftQueue && !job.Pipeline {
				it.label, it.labelKey = job.label, job.labelKey
			}
		}
		j.saveLocked()
		j.kickLocked()
		j.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

func checkJobName(name string) string {
	if name == "." || name == ".." {
		return "‘" + name + "’ is not an allowed name"
	}
	for _, c := range name {
		if c < 0x20 || strings.ContainsRune(`?*/\%!@#$^&|<>[]:;`, c) {
			return "‘" + string(c) + "’ is an unsafe character"
		}
	}
	return ""
}

func (j *Jenkins) serveJob(w http.ResponseWriter, r *http.Request, name string, rest []string) {
	j.mu.Lock()
	job := j.jobs[name]
	j.mu.Unlock()
	if job == nil {
		notFound(w)
		return
	}
	switch {
	case len(rest) == 0:
		htmlPage(w, http.StatusOK, name, "<h1>Project "+html.EscapeString(name)+"</h1>")
	case isAPI(rest):
		j.serveBean(w, r, func() any { return j.jobBean(job) })
	case rest[0] == "build" || rest[0] == "buildWithParameters":
		if !requirePOST(w, r) {
			return
		}
		quiet := j.cfg.QuietPeriod
		if d := r.URL.Query().Get("delay"); d != "" {
			if v, err := strconv.Atoi(strings.TrimSuffix(d, "sec")); err == nil {
				quiet = time.Duration(v) * time.Second
			}
		}
		j.mu.Lock()
		it := j.enqueueLocked(job, quiet)
		j.mu.Unlock()
		w.Header().Set("Location", j.root+"queue/item/"+strconv.FormatInt(it.ID, 10)+"/")
		w.WriteHeader(http.StatusCreated)
	case rest[0] == "config.xml":
		j.serveConfigXML(w, r, job)
	case rest[0] == "doDelete":
		if !requirePOST(w, r) {
			return
		}
		j.mu.Lock()
		delete(j.jobs, name)
		j.saveLocked()
		j.mu.Unlock()
		http.Redirect(w, r, j.root, http.StatusFound)
	default:
		j.mu.Lock()
		var b *Build
		switch rest[0] {
		case "lastBuild":
			b = job.lastBuild()
		default:
			if n, err := strconv.Atoi(rest[0]); err == nil {
				for _, x := range job.Builds {
					if x.Number == n {
						b = x
					}
				}
			}
		}
		j.mu.Unlock()
		if b == nil {
			notFound(w)
			return
		}
		if isAPI(rest[1:]) {
			j.serveBean(w, r, func() any { return j.buildBean(b) })
			return
		}
		if len(rest) > 1 && rest[1] == "consoleText" {
			j.mu.Lock()
			text := consoleText(b)
			j.mu.Unlock()
			w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
			_, _ = io.WriteString(w, text)
			return
		}
		htmlPage(w, http.StatusOK, name+" #"+rest[0], "<h1>Build #"+rest[0]+"</h1>")
	}
}

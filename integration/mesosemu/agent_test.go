package mesosemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// runToEnd acknowledges every update of a task until a terminal one, and
// returns the states seen.
func runToEnd(s *stream, url, taskID string) []mesos.TaskStatus {
	s.t.Helper()
	var seen []mesos.TaskStatus
	for {
		st := s.update(taskID)
		seen = append(seen, st)
		if len(st.UUID) > 0 {
			s.ack(url, st)
		}
		if isTerminal(st.GetState()) {
			return seen
		}
	}
}

// ackUntil acknowledges a task's updates up to and including state.
func ackUntil(s *stream, url, taskID string, state mesos.TaskState) {
	s.t.Helper()
	for {
		st := s.update(taskID)
		s.ack(url, st)
		if st.GetState() == state {
			return
		}
	}
}

func states(sts []mesos.TaskStatus) string {
	var out []string
	for _, st := range sts {
		out = append(out, st.GetState().String())
	}
	return strings.Join(out, " ")
}

func TestCommandTaskRunsAsARealProcess(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	task := commandTask("hello", o, 0.2, 32, `echo "hello $GREETING" > out.txt; sleep 20`)
	task.Command.Environment = &mesos.Environment{Variables: []mesos.Environment_Variable{{Name: "GREETING", Value: f2s("mesos")}}}
	start := time.Now()
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, task))
	seen := runToEnd(s, url, "hello")
	if got := states(seen); got != "TASK_STARTING TASK_RUNNING TASK_FINISHED" {
		t.Fatalf("states %q, want TASK_STARTING TASK_RUNNING TASK_FINISHED", got)
	}
	uuids := map[string]bool{}
	for _, st := range seen {
		if len(st.UUID) != 16 || uuids[string(st.UUID)] {
			t.Fatalf("update %s: want a fresh 16-byte uuid", describe(st))
		}
		uuids[string(st.UUID)] = true
		if st.AgentID.GetValue() != o.AgentID.Value {
			t.Fatalf("update agent %v, want %v", st.AgentID, o.AgentID)
		}
	}
	if seen[2].GetMessage() != "Command exited with status 0" {
		t.Fatalf("final message %q", seen[2].GetMessage())
	}
	// sleep 20 is emulated time: 1 s at scale 20. Unscaled it would take
	// 20 s, so only a real failure to scale crosses 15 s.
	if el := time.Since(start); el > 15*time.Second {
		t.Fatalf("task took %v: `sleep` is not scaled", el)
	}
	b, err := os.ReadFile(filepath.Join(c.TaskSandbox(s.fwID, "hello"), "out.txt"))
	if err == nil {
		t.Fatalf("a finished, acknowledged task should be forgotten, but its sandbox is still indexed: %s", b)
	}
}

func f2s(s string) *string { return &s }

func TestTaskSandboxHoldsItsOutput(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, commandTask("w", o, 0.2, 32, `echo written > out.txt; echo to-stdout; sleep 1000`)))
	for st := s.update("w"); st.GetState() != mesos.TASK_RUNNING; st = s.update("w") {
		s.ack(url, st)
	}
	dir := c.TaskSandbox(s.fwID, "w")
	waitFor(t, "the task to write its file", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "out.txt"))
		return err == nil && string(b) == "written\n"
	})
	waitFor(t, "stdout in the sandbox", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "stdout"))
		return string(b) == "to-stdout\n"
	})
}

func TestFailedCommandIsTaskFailedWithExitStatus(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, commandTask("bad", o, 0.2, 32, "exit 3")))
	seen := runToEnd(s, url, "bad")
	last := seen[len(seen)-1]
	if last.GetState() != mesos.TASK_FAILED || last.GetMessage() != "Command exited with status 3" {
		t.Fatalf("got %s, want TASK_FAILED \"Command exited with status 3\"", describe(last))
	}
}

func TestUpdatesAreResentUntilAcknowledgedOneAtATime(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, commandTask("t", o, 0.2, 32, "true")))
	first := s.update("t")
	if first.GetState() != mesos.TASK_STARTING {
		t.Fatalf("first update %s, want TASK_STARTING", describe(first))
	}
	// Not acknowledged: the same update (same uuid) comes again after the
	// 10 s retry (500 ms real), and nothing newer is forwarded meanwhile.
	again := s.update("t")
	if again.GetState() != mesos.TASK_STARTING || string(again.UUID) != string(first.UUID) {
		t.Fatalf("retry %s, want the same TASK_STARTING with the same uuid", describe(again))
	}
	s.ack(url, again)
	next := s.update("t")
	if next.GetState() != mesos.TASK_RUNNING {
		t.Fatalf("after ACK got %s, want TASK_RUNNING", describe(next))
	}
	s.ack(url, next)
	fin := s.update("t")
	if fin.GetState() != mesos.TASK_FINISHED {
		t.Fatalf("got %s, want TASK_FINISHED", describe(fin))
	}
	// Before the terminal ACK the master still knows the task.
	if _, ok := c.TaskState(s.fwID, "t"); !ok {
		t.Fatalf("task forgotten before its terminal update was acknowledged")
	}
	s.ack(url, fin)
	waitFor(t, "the terminal ACK to forget the task", func() bool { _, ok := c.TaskState(s.fwID, "t"); return !ok })
}

func TestKillWithKillingStateAndGracePeriod(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw", mesos.FrameworkInfo_Capability_TASK_KILLING_STATE))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	// The task ignores SIGTERM, so only SIGKILL after the grace period ends it.
	task := commandTask("stubborn", o, 0.2, 32, `trap "" TERM; touch trapped; while true; do sleep 1; done`)
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, task))
	ackUntil(s, url, "stubborn", mesos.TASK_RUNNING)
	dir := c.TaskSandbox(s.fwID, "stubborn")
	waitFor(t, "the task to trap SIGTERM", func() bool { _, err := os.Stat(filepath.Join(dir, "trapped")); return err == nil })
	start := time.Now()
	grace := mesos.DurationInfo{Nanoseconds: int64(20 * time.Second)} // 1 s real
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "stubborn"}, KillPolicy: &mesos.KillPolicy{GracePeriod: &grace}}})
	seen := runToEnd(s, url, "stubborn")
	if got := states(seen); got != "TASK_KILLING TASK_KILLED" {
		t.Fatalf("states after KILL %q, want TASK_KILLING then TASK_KILLED", got)
	}
	if el := time.Since(start); el < 800*time.Millisecond {
		t.Fatalf("killed after %v (%s), want the 20 s (1 s real) grace period to pass first", el, describe(seen[len(seen)-1]))
	}
}

func TestKillWithoutKillingStateCapability(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, commandTask("k", o, 0.2, 32, "sleep 1000")))
	ackUntil(s, url, "k", mesos.TASK_RUNNING)
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "k"}}})
	seen := runToEnd(s, url, "k")
	if got := states(seen); got != "TASK_KILLED" {
		t.Fatalf("states %q, want only TASK_KILLED without the TASK_KILLING_STATE capability", got)
	}
}

func TestKillOfUnknownTaskIsAnsweredByReconciliation(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "ghost"}, AgentID: &o.AgentID}})
	st := s.update("ghost")
	if st.GetState() != mesos.TASK_LOST || st.GetReason() != mesos.REASON_RECONCILIATION || st.GetSource() != mesos.SOURCE_MASTER || len(st.UUID) != 0 {
		t.Fatalf("got %s, want TASK_LOST (not partition aware) / REASON_RECONCILIATION / master / no uuid", describe(st))
	}
	pa := subscribeRaw(t, url, frameworkInfo("pa", mesos.FrameworkInfo_Capability_PARTITION_AWARE))
	pa.next(scheduler.Event_SUBSCRIBED)
	pa.mustCall(url, &scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "ghost"}, AgentID: &o.AgentID}})
	if st := pa.update("ghost"); st.GetState() != mesos.TASK_GONE {
		t.Fatalf("partition aware: got %s, want TASK_GONE", describe(st))
	}
}

func TestDockerTaskRunsTheImageStandIn(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1, Images: map[string][]string{"example/echo": {"/bin/sh", "-c", `echo "$0 $* $GREETING" > out.txt; sleep 1000`}}})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	task := commandTask("d", o, 0.2, 32, "")
	task.Command = &mesos.CommandInfo{Shell: new(bool), Arguments: []string{"one", "two"},
		Environment: &mesos.Environment{Variables: []mesos.Environment_Variable{{Name: "GREETING", Value: f2s("hi")}}}}
	task.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(), Docker: &mesos.ContainerInfo_DockerInfo{Image: "example/echo:1.2"}}
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, task))
	for st := s.update("d"); st.GetState() != mesos.TASK_RUNNING; st = s.update("d") {
		s.ack(url, st)
	}
	dir := c.TaskSandbox(s.fwID, "d")
	waitFor(t, "the stand-in to see its arguments and environment", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "out.txt"))
		return string(b) == "one two hi\n"
	})
}

func TestDockerLaunchFailuresLookAsOnARealAgent(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1, Images: map[string][]string{"example/ok": {"/bin/true"}, "example/flaky": {"/bin/true"}}})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	docker := func(id, image string, mutate func(*mesos.TaskInfo)) mesos.TaskInfo {
		tk := commandTask(id, o, 0.1, 16, "")
		tk.Command = &mesos.CommandInfo{Shell: new(bool)}
		tk.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(), Docker: &mesos.ContainerInfo_DockerInfo{Image: image}}
		if mutate != nil {
			mutate(&tk)
		}
		return tk
	}
	bridge := mesos.ContainerInfo_DockerInfo_BRIDGE
	c.FailImage("example/flaky", 1)
	// The pull comes first: a bad image is the containerizer's failure.
	pulls := []mesos.TaskInfo{
		docker("unmapped", "nobody/knows:latest", nil),
		docker("fault", "example/flaky", nil),
	}
	pullWant := map[string]string{
		"unmapped": "pull access denied for nobody/knows",
		"fault":    "docker -H unix:///var/run/docker.sock pull example/flaky",
	}
	// Then the Docker executor builds the run options: configuration errors.
	runs := []mesos.TaskInfo{
		docker("ports-on-host", "example/ok", func(tk *mesos.TaskInfo) {
			tk.Container.Docker.PortMappings = []mesos.ContainerInfo_DockerInfo_PortMapping{{HostPort: 31000, ContainerPort: 8080}}
		}),
		docker("port-not-in-resources", "example/ok", func(tk *mesos.TaskInfo) {
			tk.Container.Docker.Network = &bridge
			tk.Container.Docker.PortMappings = []mesos.ContainerInfo_DockerInfo_PortMapping{{HostPort: 31000, ContainerPort: 8080}}
			tk.Resources = append(tk.Resources, mesos.Resource{Name: "ports", Type: mesos.RANGES.Enum(),
				Ranges: &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: 31001, End: 31001}}}})
		}),
		docker("shell-without-value", "example/ok", func(tk *mesos.TaskInfo) { tk.Command.Shell = nil }),
		docker("bad-parameter", "example/ok", func(tk *mesos.TaskInfo) {
			tk.Container.Docker.Parameters = []mesos.Parameter{{Key: "no-such-flag", Value: "x"}}
		}),
	}
	runWant := map[string]string{
		"ports-on-host":         "Failed to create docker run options: Port mappings are only supported for bridge and user-defined networks",
		"port-not-in-resources": "Failed to create docker run options: Port [31000] not included in resources",
		"shell-without-value":   "Failed to create docker run options: Shell specified but no command value provided",
		"bad-parameter":         "Container exited with status 125",
	}
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, append(pulls, runs...)...))
	for _, tk := range pulls {
		st := s.update(tk.TaskID.Value)
		if st.GetState() != mesos.TASK_FAILED || st.GetReason() != mesos.REASON_CONTAINER_LAUNCH_FAILED || st.GetSource() != mesos.SOURCE_AGENT || !strings.Contains(st.GetMessage(), pullWant[tk.TaskID.Value]) {
			t.Fatalf("%s: got %s, want TASK_FAILED / CONTAINER_LAUNCH_FAILED from the agent containing %q", tk.TaskID.Value, describe(st), pullWant[tk.TaskID.Value])
		}
		s.ack(url, st)
	}
	for _, tk := range runs {
		st := s.update(tk.TaskID.Value)
		if st.GetState() != mesos.TASK_STARTING || st.GetSource() != mesos.SOURCE_EXECUTOR {
			t.Fatalf("%s: first update %s, want TASK_STARTING from the executor", tk.TaskID.Value, describe(st))
		}
		s.ack(url, st)
		st = s.update(tk.TaskID.Value)
		if st.GetState() != mesos.TASK_FAILED || st.Reason != nil || st.GetSource() != mesos.SOURCE_EXECUTOR || st.GetMessage() != runWant[tk.TaskID.Value] {
			t.Fatalf("%s: got %s, want TASK_FAILED from the executor, no reason, %q", tk.TaskID.Value, describe(st), runWant[tk.TaskID.Value])
		}
		s.ack(url, st)
	}
	// The injected fault was for one launch only.
	o = s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	ok := docker("ok", "example/flaky", nil)
	ok.AgentID = o.AgentID
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, ok))
	if seen := runToEnd(s, url, "ok"); states(seen) != "TASK_STARTING TASK_RUNNING TASK_FINISHED" {
		t.Fatalf("after the fault: %s", states(seen))
	}
}

// TestMesosContainerizerProvisionsTheImage: a MESOS container with a
// Docker image runs the image's entrypoint (shell=false, no value) with
// the task's environment and fetched URIs; the Mesos containerizer pulls
// with its own registry client, so a refused image fails with the
// manifest's 401, and a private image fails even with a Docker config
// in the sandbox (the Docker CLI's lookup is not the provisioner's).
func TestMesosContainerizerProvisionsTheImage(t *testing.T) {
	src := filepath.Join(t.TempDir(), "docker.tar.gz")
	if err := os.WriteFile(src, tarGz(t, map[string]string{".docker/": "", ".docker/config.json": dockerConfig("registry.example.com", "ci", "pw")}), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newTestCluster(t, Config{Agents: 1,
		Images:        map[string][]string{"example/echo": {"/bin/sh", "-c", `echo "$GREETING $MESOS_SANDBOX" > out.txt; sleep 1000`}, "registry.example.com/ci/agent": {"/bin/true"}},
		PrivateImages: map[string]string{"registry.example.com/ci/agent": "ci:pw"}})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	ucr := func(id, image string, uris ...string) mesos.TaskInfo {
		tk := commandTask(id, o, 0.1, 16, "")
		tk.Command = &mesos.CommandInfo{Shell: new(bool), Environment: &mesos.Environment{Variables: []mesos.Environment_Variable{{Name: "GREETING", Value: f2s("hi")}}}}
		for _, u := range uris {
			tk.Command.URIs = append(tk.Command.URIs, mesos.CommandInfo_URI{Value: u})
		}
		tk.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), Mesos: &mesos.ContainerInfo_MesosInfo{
			Image: &mesos.Image{Type: mesos.Image_DOCKER.Enum(), Docker: &mesos.Image_Docker{Name: image}}}}
		return tk
	}
	run := ucr("run", "example/echo:3")
	run.Labels = &mesos.Labels{Labels: []mesos.Label{{Key: "team", Value: f2s("ci")}, {Key: "flag"}}}
	run.Limits = map[string]mesos.Value_Scalar{"cpus": {Value: 2}, "mem": {Value: 64}}
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, run, ucr("unknown", "nobody/knows"), ucr("private", "registry.example.com/ci/agent:1", src)))
	for _, id := range []string{"unknown", "private"} {
		st := s.update(id)
		want := "Failed to launch container: Unexpected HTTP response '401 Unauthorized' when trying to get the manifest"
		if st.GetState() != mesos.TASK_FAILED || st.GetReason() != mesos.REASON_CONTAINER_LAUNCH_FAILED || st.GetSource() != mesos.SOURCE_AGENT || st.GetMessage() != want {
			t.Errorf("%s: got %s, want TASK_FAILED / CONTAINER_LAUNCH_FAILED from the agent, %q", id, describe(st), want)
		}
		s.ack(url, st)
	}
	for st := s.update("run"); st.GetState() != mesos.TASK_RUNNING; st = s.update("run") {
		s.ack(url, st)
	}
	dir := c.TaskSandbox(s.fwID, "run")
	waitFor(t, "the entrypoint to see the task's environment", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "out.txt"))
		return string(b) == "hi "+dir+"\n"
	})
	// /master/state shows the task's labels, limits and container, as Mesos
	// writes a Task (common/http.cpp).
	r := doRequest(t, http.MethodGet, url+"/master/state", nil, nil)
	var state struct {
		Frameworks []struct {
			Tasks []struct {
				ID        string              `json:"id"`
				Labels    []map[string]string `json:"labels"`
				Limits    map[string]float64  `json:"limits"`
				Container struct {
					Type  string `json:"type"`
					Mesos struct {
						Image struct {
							Type   string `json:"type"`
							Docker struct {
								Name string `json:"name"`
							} `json:"docker"`
						} `json:"image"`
					} `json:"mesos"`
				} `json:"container"`
			} `json:"tasks"`
		} `json:"frameworks"`
	}
	if err := json.Unmarshal([]byte(r.body), &state); err != nil || len(state.Frameworks) != 1 || len(state.Frameworks[0].Tasks) != 1 {
		t.Fatalf("/master/state: %v %s", err, r.body)
	}
	task := state.Frameworks[0].Tasks[0]
	if task.Container.Type != "MESOS" || task.Container.Mesos.Image.Type != "DOCKER" || task.Container.Mesos.Image.Docker.Name != "example/echo:3" {
		t.Errorf("task container in /master/state: %+v", task.Container)
	}
	if task.Limits["cpus"] != 2 || task.Limits["mem"] != 64 || len(task.Limits) != 2 {
		t.Errorf("task limits in /master/state: %v", task.Limits)
	}
	if len(task.Labels) != 2 || task.Labels[0]["key"] != "team" || task.Labels[0]["value"] != "ci" || task.Labels[1]["key"] != "flag" {
		t.Errorf("task labels in /master/state: %v", task.Labels)
	}
}

// oneAgentsOffer subscribes to a one-agent cluster and returns the
// leader's URL, the stream, the first offer and its agent's endpoint
// (http://IP:PORT, from the offer's url).
func oneAgentsOffer(t *testing.T) (string, *stream, mesos.Offer, string) {
	t.Helper()
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	a := o.GetURL().GetAddress()
	return url, s, o, fmt.Sprintf("http://%s:%d", a.GetIP(), a.GetPort())
}

// TestAgentServesSandboxFiles: the agent the offer names serves its
// executors' sandbox files (GET /files/read, src/files/files.cpp) at the
// latest run's virtual path, after the task has ended too.
func TestAgentServesSandboxFiles(t *testing.T) {
	url, s, o, addr := oneAgentsOffer(t)
	if a := o.GetURL().GetAddress(); a.GetIP() != "127.0.0.1" || a.GetPort() <= 0 || a.GetHostname() != o.GetHostname() {
		t.Fatalf("offer URL address %+v: want the hostname, 127.0.0.1 and the agent's port", a)
	}
	base := addr + "/files/read"
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, commandTask("w", o, 0.2, 32, `echo to-stdout; echo "SEVERE: no controller" >&2; exit 1`)))
	if last := runToEnd(s, url, "w"); last[len(last)-1].GetState() != mesos.TASK_FAILED {
		t.Fatalf("got %s, want TASK_FAILED", describe(last[len(last)-1]))
	}
	latest := "/frameworks/" + s.fwID + "/executors/w/runs/latest"
	read := func(query string) httpResult {
		return doRequest(t, "GET", base+"?"+query, nil, nil)
	}
	r := read("path=" + latest + "/stderr&offset=0")
	var got struct {
		Data   string `json:"data"`
		Offset int64  `json:"offset"`
	}
	if r.code != 200 || json.Unmarshal([]byte(r.body), &got) != nil || !strings.HasSuffix(got.Data, "SEVERE: no controller\n") || got.Offset != 0 {
		t.Fatalf("read stderr: %d %s", r.code, r.body)
	}
	size := int64(len(got.Data))
	r = read("path=" + latest + "/stderr") // offset -1: the size, no data
	if r.code != 200 || json.Unmarshal([]byte(r.body), &got) != nil || got.Data != "" || got.Offset != size {
		t.Fatalf("read with no offset: %d %s, want the size %d", r.code, r.body, size)
	}
	r = read(fmt.Sprintf("path=%s/stdout&offset=3&length=3", latest))
	if r.code != 200 || json.Unmarshal([]byte(r.body), &got) != nil || got.Data != "std" || got.Offset != 3 {
		t.Fatalf("read 3 bytes at 3: %d %s", r.code, r.body)
	}
	for query, want := range map[string]int{
		"path=" + latest + "/nothing":                           404,
		"path=/frameworks/other/executors/w/runs/latest/stderr": 404,
		"path=" + latest:                                        400, // a directory
		"offset=0":                                              400, // no path
		"path=" + latest + "/stderr&offset=-2":                  400,
		"path=" + latest + "/stderr&length=x":                   400,
	} {
		if r := read(query); r.code != want {
			t.Errorf("%s: %d %s, want %d", query, r.code, r.body, want)
		}
	}
	master := strings.TrimSuffix(url, "/api/v1/scheduler")
	port := o.GetURL().Address.GetPort()
	st := doRequest(t, "GET", master+"/master/state", nil, nil)
	if !strings.Contains(st.body, fmt.Sprintf(`"pid":"slave(1)@127.0.0.1:%d"`, port)) {
		t.Fatalf("master state does not name the agent's endpoint as its pid: %s", st.body)
	}
	// GET /master/slaves (readonly_handler.cpp): the agents, one by ID.
	var slaves struct {
		Slaves []struct {
			ID   string `json:"id"`
			PID  string `json:"pid"`
			Port int32  `json:"port"`
		} `json:"slaves"`
		Recovered []any `json:"recovered_slaves"`
	}
	r = doRequest(t, "GET", master+"/master/slaves?slave_id="+o.AgentID.Value, nil, nil)
	if r.code != 200 || json.Unmarshal([]byte(r.body), &slaves) != nil || len(slaves.Slaves) != 1 || slaves.Slaves[0].ID != o.AgentID.Value ||
		slaves.Slaves[0].Port != port || slaves.Slaves[0].PID != fmt.Sprintf("slave(1)@127.0.0.1:%d", port) || slaves.Recovered == nil {
		t.Fatalf("/master/slaves?slave_id: %d %s", r.code, r.body)
	}
	r = doRequest(t, "GET", master+"/master/slaves?slave_id=nobody", nil, nil)
	if r.code != 200 || !strings.Contains(r.body, `"slaves":[]`) {
		t.Fatalf("/master/slaves of an unknown agent: %d %s", r.code, r.body)
	}
}

// TestAgentReportsTaskUsage: /monitor/statistics lists each running
// executor with its process tree's real CPU time and resident memory,
// and limits with the command executor's own 0.1 CPU and 32 MB added.
func TestAgentReportsTaskUsage(t *testing.T) {
	url, s, o, addr := oneAgentsOffer(t)
	stats := addr + "/monitor/statistics"
	// A shell loop burns some CPU in a child, then the task idles.
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, commandTask("busy", o, 0.2, 32, `sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; sleep 1000' & sleep 1000`)))
	for st := s.update("busy"); st.GetState() != mesos.TASK_RUNNING; st = s.update("busy") {
		s.ack(url, st)
	}
	type entry struct {
		Framework  string `json:"framework_id"`
		Executor   string `json:"executor_id"`
		Statistics struct {
			Timestamp float64 `json:"timestamp"`
			User      float64 `json:"cpus_user_time_secs"`
			System    float64 `json:"cpus_system_time_secs"`
			CPUsLimit float64 `json:"cpus_limit"`
			RSS       int64   `json:"mem_rss_bytes"`
			MemLimit  int64   `json:"mem_limit_bytes"`
		} `json:"statistics"`
	}
	var got []entry
	waitFor(t, "CPU time spent by the task's child", func() bool {
		r := doRequest(t, "GET", stats, nil, nil)
		got = nil
		return r.code == 200 && json.Unmarshal([]byte(r.body), &got) == nil && len(got) == 1 && got[0].Statistics.User+got[0].Statistics.System >= 0.05
	})
	e := got[0]
	if e.Framework != s.fwID || e.Executor != "busy" || e.Statistics.RSS <= 0 || e.Statistics.CPUsLimit != 0.3 ||
		e.Statistics.MemLimit != 64<<20 || e.Statistics.Timestamp < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Fatalf("statistics: %+v", e)
	}
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "busy"}}})
	runToEnd(s, url, "busy")
	if r := doRequest(t, "GET", stats, nil, nil); r.code != 200 || strings.TrimSpace(r.body) != "[]" {
		t.Fatalf("statistics after the task ended: %d %s", r.code, r.body)
	}
}

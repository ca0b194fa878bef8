package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/jenkins-mesos/jenkins-mesos/integration/zktest"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/driver"
)

// frameworkStatus reads the framework's /status.
type frameworkStatus struct {
	Subscribed bool           `json:"subscribed"`
	Agents     map[string]int `json:"agents"`
	Templates  []struct {
		Name   string `json:"name"`
		Code   string `json:"code"`
		Reason string `json:"reason"`
	} `json:"templates"`
	Waiting []struct {
		Build    int64    `json:"build"`
		Template string   `json:"template"`
		Quiet    bool     `json:"quiet"`
		Waited   *float64 `json:"waited_seconds"`
		Code     string   `json:"code"`
		Reason   string   `json:"reason"`
	} `json:"waiting"`
	Sizing []struct {
		Template  string `json:"template"`
		SIGKilled int    `json:"sigkilled"`
		Advice    string `json:"advice"`
	} `json:"sizing"`
}

func (w *world) status() frameworkStatus {
	w.t.Helper()
	var st frameworkStatus
	resp, err := http.Get("http://" + w.httpListen + "/status")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		w.t.Fatal(err)
	}
	return st
}

func countLaunches(log string) int {
	return len(regexp.MustCompile(`"msg":"launching `).FindAllStringIndex(log, -1))
}

// TestBadImageOpensTheBreakerAndSIGHUPFixesIt: a template whose image
// cannot be pulled. The launches fail, back off and go one at a time;
// the breaker opens after limits.breaker_threshold failures; no more
// launches follow; /status and the log give the pull error as the
// reason; no node is left in Jenkins. The operator fixes the image in
// the file and sends SIGHUP: the builds get agents and succeed.
func TestBadImageOpensTheBreakerAndSIGHUPFixesIt(t *testing.T) {
	bad := `
  - name: mesos
    labels: mesos
    cpus: 0.2
    mem: 30
    image: jenkins/inbound-agnet
    connect_timeout: 3m`
	w := newWorld(t, worldOpts{templates: bad, limits: "  breaker_threshold: 3\n  breaker_cooldown: 1h\n"})
	for i := 1; i <= 4; i++ {
		w.freestyle(fmt.Sprintf("b-%d", i), "mesos", 20)
		w.build(fmt.Sprintf("b-%d", i))
	}
	w.framework.await(t, "the breaker to open", regexp.MustCompile(`template mesos: launches stopped for 1h0m0s after 3 launch failures in a row`))
	w.waitFor("no node left behind", 20*time.Second, func() bool { return len(w.nodes()) == 0 && w.liveTasks() == 0 })
	st := w.status()
	if len(st.Templates) != 1 || st.Templates[0].Code != "breaker_open" || !strings.Contains(st.Templates[0].Reason, "pull access denied for jenkins/inbound-agnet") {
		t.Fatalf("/status templates = %+v; want mesos breaker_open with the pull error", st.Templates)
	}
	if len(st.Waiting) != 4 || st.Waiting[0].Code != "breaker_open" {
		t.Fatalf("/status waiting = %+v; want the 4 builds waiting with breaker_open", st.Waiting)
	}
	// Each names its template and how long it has waited since its quiet
	// period ended (which may be just now): under a minute.
	for _, wt := range st.Waiting {
		if wt.Template != "mesos" || wt.Waited == nil || *wt.Waited < 0 || *wt.Waited > 60 {
			t.Fatalf("/status waiting %+v; want template mesos and how long it waited", wt)
		}
	}
	// The first failures came in a burst (4 builds, 4 agents at once);
	// after them one agent at a time, and nothing once the breaker is
	// open. The breaker opened at the 3rd failure in a row, so at most
	// the burst was launched.
	launched := countLaunches(w.framework.output())
	if launched < 3 || launched > 4 {
		t.Fatalf("%d launches before the breaker opened; want 3 or 4 (the first burst)", launched)
	}
	// The core's own deadline says when the next try is; it is an hour.
	if !regexp.MustCompile(`next try in (59m|1h0m)`).MatchString(st.Templates[0].Reason) {
		t.Fatalf("the breaker's reason %q does not say the next try is an hour away", st.Templates[0].Reason)
	}

	fixed := strings.Replace(w.config, "jenkins/inbound-agnet", "jenkins/inbound-agent", 1)
	if err := os.WriteFile(w.configPath, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.framework.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	w.framework.await(t, "the reload", regexp.MustCompile(`configuration reloaded: 1 templates; changed: mesos`))
	w.waitSucceeded("the 4 builds to succeed after the fix", 90*time.Second, numbered("b", 4)...)
	w.waitClean()
	if n := countLaunches(w.framework.output()) - launched; n != 4 {
		t.Fatalf("%d launches after the fix; want one per build (4)", n)
	}
}

// TestSIGHUPWithABrokenFileKeepsTheRunningConfiguration: a reload that
// does not validate is refused with the reason, and the framework keeps
// serving builds with what it had.
func TestSIGHUPWithABrokenFileKeepsTheRunningConfiguration(t *testing.T) {
	w := newWorld(t, worldOpts{})
	broken := strings.Replace(w.config, "cpus: 0.2", "cpus: -1", 1)
	if err := os.WriteFile(w.configPath, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.framework.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	w.framework.await(t, "the refusal", regexp.MustCompile(`templates\[0\] \(mesos\)\.cpus -1: must be positive.*SIGHUP: configuration refused; the running configuration stays`))
	w.freestyle("after", "mesos", 10)
	w.build("after")
	w.waitFor("the build to succeed", 60*time.Second, func() bool { return w.result("after").Result == "SUCCESS" })
}

// restartFramework starts `jenkins-mesos run` again with the same file
// and environment (the same state directory).
func (w *world) restartFramework() {
	w.t.Helper()
	w.framework = start(w.t, w.env, w.bin, "run", "--config", w.configPath)
}

var subscribedAs = regexp.MustCompile(`subscribed as framework (\S+?)"`)

// TestKill9WithSixBuildsRunningThenRestart: the framework is killed with
// SIGKILL while six builds run on six agents. Restarted on the same
// state, it re-subscribes with the same framework ID, adopts the six
// running tasks (six launches in all, not twelve), every build succeeds
// and nothing is left behind.
func TestKill9WithSixBuildsRunningThenRestart(t *testing.T) {
	w := newWorld(t, worldOpts{})
	jobs := w.buildMesos("long", 6, 300) // 15 s at time scale 20
	w.waitFor("6 builds running", 60*time.Second, func() bool { return w.allRunning(jobs...) })
	first := w.framework.output()
	id := subscribedAs.FindStringSubmatch(first)
	if id == nil {
		t.Fatal("no framework ID in the first instance's log")
	}
	if err := w.framework.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = w.framework.cmd.Wait()
	restarted := time.Now()
	w.restartFramework()
	w.framework.await(t, "re-subscription", regexp.MustCompile(`subscribed as framework `+regexp.QuoteMeta(id[1])))
	w.waitFor("the 6 nodes adopted", 10*time.Second, func() bool {
		return len(regexp.MustCompile(`"msg":"adopted node `).FindAllString(w.framework.output(), -1)) == 6
	})
	t.Logf("6 agents adopted %s after the restart", time.Since(restarted).Round(time.Millisecond))
	w.waitSucceeded("6 builds to succeed", 90*time.Second, jobs...)
	w.waitClean()
	if a, b := countLaunches(first), countLaunches(w.framework.output()); a != 6 || b != 0 {
		t.Fatalf("launches: %d before the kill, %d after; want 6 and 0", a, b)
	}
	if fws := w.state().Frameworks; len(fws) != 1 {
		t.Fatalf("%d frameworks registered; want the one, re-subscribed", len(fws))
	}
}

// startInstance starts one more `jenkins-mesos run` on the same
// configuration but its own HTTP address; it returns the process and
// that address.
func (w *world) startInstance() (*proc, string) {
	w.t.Helper()
	listen := freeAddr(w.t)
	cfg := strings.Replace(w.config, "listen: "+w.httpListen, "listen: "+listen, 1)
	path := filepath.Join(w.t.TempDir(), "second.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return start(w.t, w.env, "jenkins-mesos", "run", "--config", path), listen
}

// TestTwoInstancesOneLeadsAndAStandbyTakesOver: two instances share
// state.zk. Only one subscribes; the other stands by (healthy, naming the
// leader). Killing the leader (SIGKILL: its session simply stops) hands
// over within the ZooKeeper session timeout; the new leader re-subscribes
// with the same framework ID and adopts the running agents: no new
// launch, every build succeeds, nothing left behind, one framework.
func TestTwoInstancesOneLeadsAndAStandbyTakesOver(t *testing.T) {
	zkAddr := zktest.Start(t)
	const zkPass = "zk-digest-pass-7"
	w := newWorld(t, worldOpts{stateZK: "zk://" + zkAddr + "/jenkins-mesos", stateZKCreds: "jenkins-mesos:" + zkPass})
	leader := w.framework
	standby, standbyHTTP := w.startInstance()
	standby.await(t, "the second instance to stand by", regexp.MustCompile(`standby; another instance leads`))
	resp, err := http.Get("http://" + standbyHTTP + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "standby; the leader is") {
		t.Fatalf("standby /healthz: %d %q; want 200 naming the leader", resp.StatusCode, body)
	}
	if l, s := w.metrics(w.httpListen)["jenkins_mesos_leader"], w.metrics(standbyHTTP)["jenkins_mesos_leader"]; l != 1 || s != 0 {
		t.Fatalf("jenkins_mesos_leader: %v on the leader, %v on the standby; want 1 and 0", l, s)
	}
	jobs := w.buildMesos("ha", 3, 300)
	w.waitFor("3 builds running", 60*time.Second, func() bool { return w.allRunning(jobs...) })
	if strings.Contains(standby.output(), "subscribed as framework") || strings.Contains(standby.output(), `"msg":"creating node`) {
		t.Fatal("the standby subscribed or touched Jenkins while the leader led")
	}
	id := subscribedAs.FindStringSubmatch(leader.output())[1]
	if err := leader.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = leader.cmd.Wait()
	killed := time.Now()
	standby.await(t, "the standby to lead", regexp.MustCompile(`elected leader`))
	took := time.Since(killed)
	standby.await(t, "re-subscription with the same ID", regexp.MustCompile(`subscribed as framework `+regexp.QuoteMeta(id)))
	t.Logf("the standby led %s after the leader was killed (session timeout 3s)", took.Round(time.Millisecond))
	if took > 3*time.Second+5*time.Second {
		t.Fatalf("handover took %s; want within the 3 s session timeout (plus slack)", took)
	}
	w.framework = standby
	if m := w.metrics(standbyHTTP); m["jenkins_mesos_leader"] != 1 || m[`jenkins_mesos_launches_total{template="mesos"}`] != 0 {
		t.Fatalf("the new leader's /metrics: leader %v, launches %v; want 1 and 0 (it adopts)", m["jenkins_mesos_leader"], m[`jenkins_mesos_launches_total{template="mesos"}`])
	}
	w.waitSucceeded("3 builds to succeed", 90*time.Second, jobs...)
	w.waitClean()
	if a, b := countLaunches(leader.output()), countLaunches(standby.output()); a != 3 || b != 0 {
		t.Fatalf("launches: %d by the first leader, %d by the second; want 3 and 0 (adopted)", a, b)
	}
	if n := len(regexp.MustCompile(`"msg":"adopted node `).FindAllString(standby.output(), -1)); n != 3 {
		t.Fatalf("the new leader adopted %d nodes; want 3", n)
	}
	if fws := w.state().Frameworks; len(fws) != 1 {
		t.Fatalf("%d frameworks registered; want one", len(fws))
	}
	// With credentials the state can be read by anyone but changed only by
	// the instances, and the password shows in no log.
	raw, _, err := zk.Connect([]string{zkAddr}, 4*time.Second, zk.WithLogger(driver.QuietZK{}))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, _, err := raw.Get("/jenkins-mesos/state"); err != nil {
		t.Fatalf("reading the state without credentials: %v", err)
	}
	if _, err := raw.Set("/jenkins-mesos/state", []byte("x"), -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("changing the state without credentials: %v; want ErrNoAuth", err)
	}
	for _, p := range []*proc{leader, standby} {
		if strings.Contains(p.output(), zkPass) {
			t.Fatal("the ZooKeeper password appears in an instance's log")
		}
	}
	// Decommissioning with state.zk: teardown waits to lead, so it runs
	// only once the last instance is stopped.
	_ = standby.cmd.Process.Signal(syscall.SIGTERM)
	_ = standby.cmd.Wait()
	if out, code := w.teardown(); code != 0 || !strings.Contains(out, "framework "+id+" torn down") {
		t.Fatalf("teardown with state.zk: exit %d, %q", code, out)
	}
	if fws := w.state().Frameworks; len(fws) != 0 {
		t.Fatalf("%d frameworks registered after teardown", len(fws))
	}
}

// TestJenkinsUnavailableLongerThanConnectTimeoutKillsNothing: Jenkins
// answers 503 for longer than connect_timeout while two builds run and a
// third build's agent is starting (its node created, its task launched,
// unable to connect). Nothing is killed or deleted because Jenkins did not
// answer: when Jenkins is back the third agent connects, every build
// succeeds, on three launches.
func TestJenkinsUnavailableLongerThanConnectTimeoutKillsNothing(t *testing.T) {
	w := newWorld(t, worldOpts{templates: `
  - {name: mesos, labels: mesos, cpus: 0.2, mem: 30, image: jenkins/inbound-agent, connect_timeout: 2s}`})
	for i := 1; i <= 3; i++ {
		w.freestyle(fmt.Sprintf("j-%d", i), "mesos", 400) // 20 s at time scale 20
	}
	w.build("j-1")
	w.build("j-2")
	w.waitFor("2 builds running", 60*time.Second, func() bool { return w.result("j-1").Building && w.result("j-2").Building })
	w.build("j-3")
	w.framework.await(t, "the third agent's node", regexp.MustCompile(`(?s)(node \S+ created.*){3}`))
	// Its task too: the master must know all three before the outage.
	w.waitFor("3 live tasks", 30*time.Second, func() bool { return w.liveTasks() == 3 })
	// 8 real seconds of 503s at time scale 20: four connect timeouts.
	if r, b := w.jenkinsDo("POST", "emulator/unavailable?seconds=160", "", ""); r.StatusCode != 204 {
		t.Fatalf("emulator/unavailable: %d %s", r.StatusCode, b)
	}
	outage := time.Now()
	for time.Since(outage) < 7*time.Second {
		if n := w.liveTasks(); n != 3 {
			t.Fatalf("%d live tasks during the Jenkins outage; want all 3 kept", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	w.waitSucceeded("3 builds to succeed", 120*time.Second, numbered("j", 3)...)
	w.waitClean()
	log := w.framework.output()
	if n := countLaunches(log); n != 3 {
		t.Fatalf("%d launches; want 3 (nothing relaunched)", n)
	}
	for _, bad := range []string{`"event":"connect_timeout"`, `"event":"node_vanished"`} {
		if strings.Contains(log, bad) {
			t.Fatalf("the framework acted on a Jenkins that did not answer: %s in its log", bad)
		}
	}
}

// TestAgentThatNeverConnectsIsCleanedUp: the container starts but its
// agent never connects to Jenkins. After connect_timeout its task is
// killed and its node deleted, the failure is counted (the build waits
// with the reason), and the next try comes after a backoff.
//
// What the container said is read from its sandbox on the Mesos agent:
// logged in full (secrets masked) and its last line quoted in the reason.
func TestAgentThatNeverConnectsIsCleanedUp(t *testing.T) {
	script := filepath.Join(t.TempDir(), "lost-agent")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"starting with secret $JENKINS_SECRET\"\necho 'SEVERE: http://jenkins.invalid:8080/ is not reachable' >&2\nexec sleep 3600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, worldOpts{images: []string{"example/lost=" + script}, templates: `
  - {name: mesos, labels: mesos, cpus: 0.2, mem: 30, image: example/lost, connect_timeout: 2s}`})
	w.freestyle("lonely", "mesos", 10)
	w.build("lonely")
	m := w.framework.await(t, "the connect timeout", regexp.MustCompile(`"msg":"(mesos-[0-9a-f]{8}): agent did not connect within 2s"`))
	first := m[1]
	w.waitFor("the silent agent's node and task gone", 20*time.Second, func() bool {
		for _, n := range w.nodes() {
			if n == first {
				return false
			}
		}
		for _, f := range w.state().Frameworks {
			for _, tk := range f.Tasks {
				if tk.ID == first {
					return false
				}
			}
		}
		return true
	})
	out := w.framework.await(t, "the agent's output", regexp.MustCompile(`"event":"agent_output".*"stdout":"([^"]*)"`))
	if !strings.Contains(out[0], `SEVERE: http://jenkins.invalid:8080/ is not reachable`) || !strings.Contains(out[1], "starting with secret ********") {
		t.Fatalf("agent_output line: %s; want stderr's line and stdout with the secret masked", out[0])
	}
	w.waitFor("the output quoted in the build's reason", 20*time.Second, func() bool {
		st := w.status()
		return len(st.Waiting) == 1 && strings.Contains(st.Waiting[0].Reason, "agent did not connect within 2s; its output ends: SEVERE: http://jenkins.invalid:8080/ is not reachable")
	})
	if regexp.MustCompile(`secret [0-9a-f]{64}`).MatchString(w.framework.output()) {
		t.Fatal("an agent secret from the container's output appears in the framework's log")
	}
}

// mesosFault posts to one of the Mesos emulator's fault endpoints, which
// answer 204.
func (w *world) mesosFault(path string) {
	w.t.Helper()
	resp, err := http.Post(w.mesos+path, "", nil)
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		w.t.Fatalf("POST %s: %d", path, resp.StatusCode)
	}
}

// TestPartitionedAgentThatComesBackInTimeKeepsItsBuild: the Mesos agent
// under a running build is partitioned from the master (TASK_UNREACHABLE)
// and comes back within the unreachable grace: its node and task are
// kept, and the build succeeds on the one agent.
func TestPartitionedAgentThatComesBackInTimeKeepsItsBuild(t *testing.T) {
	w := newWorld(t, worldOpts{agents: 1})
	w.freestyle("p", "mesos", 200) // 10 s at time scale 20
	w.build("p")
	w.waitFor("the build running", 60*time.Second, func() bool { return w.result("p").Building })
	w.mesosFault("/emulator/agents/agent1/partition")
	w.framework.await(t, "the task unreachable", regexp.MustCompile(`unreachable; its node is kept for 5m0s`))
	time.Sleep(2 * time.Second) // polls go on; nothing may be killed
	w.mesosFault("/emulator/agents/agent1/restore")
	// The master tells the framework the task's state when the agent
	// re-registers (TASK_RUNNING, REASON_AGENT_REREGISTERED).
	w.framework.await(t, "the task reachable again", regexp.MustCompile(`task \S+ reachable again`))
	w.waitFor("the build to succeed", 60*time.Second, func() bool { return w.result("p").Result == "SUCCESS" })
	w.waitClean()
	if n := countLaunches(w.framework.output()); n != 1 {
		t.Fatalf("%d launches; want the one agent, kept through the partition", n)
	}
	log := w.framework.output()
	// One KILL, the reclaim after the build; no retirement for any other
	// reason on the way.
	if n := strings.Count(log, `"call":"KILL"`); n != 1 || !strings.Contains(log, `"event":"reclaimed"`) {
		t.Fatalf("%d KILLs (want 1, the reclaim after the build)", n)
	}
	for _, bad := range []string{`"event":"unreachable"`, `"event":"task_ended"`, `"event":"node_vanished"`, `"event":"connect_timeout"`} {
		if strings.Contains(log, bad) {
			t.Fatalf("the partitioned agent was given up: %s", bad)
		}
	}
}

// TestPartitionedAgentIsGivenUpAfterTheConfiguredGrace: an idle agent
// (retention idle) whose Mesos agent is partitioned and stays away past
// limits.unreachable_grace (2 s here, 5 min by default) is given up: its
// node deleted and its task killed. When the agent comes back later with
// the task still running, that task has no node and is killed too.
func TestPartitionedAgentIsGivenUpAfterTheConfiguredGrace(t *testing.T) {
	w := newWorld(t, worldOpts{agents: 1, limits: "  unreachable_grace: 2s\n", templates: `
  - {name: mesos, labels: mesos, cpus: 0.2, mem: 30, image: jenkins/inbound-agent, retention: idle, idle_timeout: 1h}`})
	w.freestyle("q", "mesos", 20) // 1 s at time scale 20
	w.build("q")
	w.waitFor("the build to succeed", 60*time.Second, func() bool { return w.result("q").Result == "SUCCESS" })
	if n := len(w.nodes()); n != 1 {
		t.Fatalf("%d nodes after the build; want the idle agent kept", n)
	}
	w.mesosFault("/emulator/agents/agent1/partition")
	w.framework.await(t, "the task unreachable", regexp.MustCompile(`unreachable; its node is kept for 2s`))
	w.framework.await(t, "the agent given up", regexp.MustCompile(`"event":"unreachable"`))
	w.waitFor("the node deleted", 20*time.Second, func() bool { return len(w.nodes()) == 0 })
	w.mesosFault("/emulator/agents/agent1/restore")
	w.waitClean()
	if n := countLaunches(w.framework.output()); n != 1 {
		t.Fatalf("%d launches; want 1", n)
	}
}

// TestNoNewAgentOnAnAgentGoingIntoMaintenance: the operator schedules
// maintenance for agent1 starting in 2 minutes (POST
// /master/maintenance/schedule, as on a real master). Its offers carry
// the window; within limits.maintenance_horizon (10 min by default) no
// agent is launched there, so all three builds run on agent2.
func TestNoNewAgentOnAnAgentGoingIntoMaintenance(t *testing.T) {
	w := newWorld(t, worldOpts{agents: 2})
	start := time.Now().Add(2 * time.Minute).UnixNano()
	body := fmt.Sprintf(`{"windows":[{"machine_ids":[{"hostname":"agent1","ip":"127.0.0.1"}],"unavailability":{"start":{"nanoseconds":%d},"duration":{"nanoseconds":3600000000000}}}]}`, start)
	resp, err := http.Post(w.mesos+"/master/maintenance/schedule", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /master/maintenance/schedule: %d", resp.StatusCode)
	}
	jobs := w.buildMesos("m", 3, 20)
	w.waitSucceeded("3 builds to succeed", 90*time.Second, jobs...)
	w.waitClean()
	for _, host := range w.launches() {
		if host != "agent2" {
			t.Fatalf("launches on %v; want every one on agent2 (agent1 goes into maintenance within the horizon)", w.launches())
		}
	}
	if len(w.launches()) != 3 {
		t.Fatalf("%d launches; want 3", len(w.launches()))
	}
}

// TestInverseOfferAcceptedOnceTheBuildThereEnds: maintenance is scheduled
// for the agent under a running build. Mesos sends an inverse offer; the
// framework leaves it unanswered while the build runs (the build is not
// cut), and accepts it once the build has ended and its agent is
// reclaimed: /master/maintenance/status then shows ACCEPT for it.
func TestInverseOfferAcceptedOnceTheBuildThereEnds(t *testing.T) {
	w := newWorld(t, worldOpts{agents: 1})
	w.freestyle("long", "mesos", 100) // 5 s at time scale 20
	w.build("long")
	w.waitFor("the build running", 60*time.Second, func() bool { return w.result("long").Building })
	body := fmt.Sprintf(`{"windows":[{"machine_ids":[{"hostname":"agent1","ip":"127.0.0.1"}],"unavailability":{"start":{"nanoseconds":%d}}}]}`, time.Now().Add(time.Hour).UnixNano())
	resp, err := http.Post(w.mesos+"/master/maintenance/schedule", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	w.framework.await(t, "the inverse offer", regexp.MustCompile(`"event":"inverse_offer"`))
	status := func() string {
		resp, err := http.Get(w.mesos + "/master/maintenance/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if st := status(); strings.Contains(st, `"status"`) {
		t.Fatalf("the inverse offer was answered while the build runs: %s", st)
	}
	w.waitFor("the build to succeed", 60*time.Second, func() bool { return w.result("long").Result == "SUCCESS" })
	w.waitFor("the inverse offer accepted", 30*time.Second, func() bool { return strings.Contains(status(), `"status":"ACCEPT"`) })
	w.waitClean()
	if strings.Contains(w.framework.output(), `"call":"DECLINE_INVERSE_OFFERS"`) {
		t.Fatal("the framework declined an inverse offer")
	}
}

// TestJenkinsProcessRestartWithHomeMidBuild: the Jenkins process itself
// is stopped while two builds run and started again on the same home and
// address. The framework stays up through the refused connections; the
// cut builds end as Jenkins records them (ABORTED); their agents are
// reclaimed; a new build gets an agent; nothing is left behind.
func TestJenkinsProcessRestartWithHomeMidBuild(t *testing.T) {
	w := newWorld(t, worldOpts{jenkinsHome: true})
	w.freestyle("cut-1", "mesos", 400)
	w.freestyle("cut-2", "mesos", 400)
	w.freestyle("after", "mesos", 20)
	w.build("cut-1")
	w.build("cut-2")
	w.waitFor("2 builds running", 60*time.Second, func() bool { return w.result("cut-1").Building && w.result("cut-2").Building })
	addr := strings.TrimSuffix(strings.TrimPrefix(w.jenkins, "http://"), "/")
	if err := w.jenkinsProc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = w.jenkinsProc.cmd.Wait()
	time.Sleep(2 * time.Second) // polls meet a refused connection
	args := append([]string(nil), w.jenkinsArgs...)
	for i := range args {
		if args[i] == "127.0.0.1:0" {
			args[i] = addr
		}
	}
	w.jenkinsProc = start(t, []string{"JENKINS_EMULATOR_TOKEN=" + w.token}, "jenkins-emulator", args...)
	w.jenkinsProc.await(t, "Jenkins back", regexp.MustCompile(`at http://`))
	w.waitFor("the cut builds recorded as ABORTED", 30*time.Second, func() bool {
		return w.result("cut-1").Result == "ABORTED" && w.result("cut-2").Result == "ABORTED"
	})
	w.waitClean()
	w.build("after")
	w.waitSucceeded("a new build after the restart", 90*time.Second, "after")
	w.waitClean()
	if strings.Contains(w.framework.output(), `"level":"fatal"`) || w.framework.cmd.ProcessState != nil {
		t.Fatal("the framework did not stay up")
	}
}

// teardown runs `jenkins-mesos teardown` on the world's configuration and
// returns its output and exit code.
func (w *world) teardown(args ...string) (string, int) {
	w.t.Helper()
	cmd := exec.Command(filepath.Join(binaries(w.t), "jenkins-mesos"), append([]string{"teardown", "--config", w.configPath}, args...)...)
	cmd.Env = append(os.Environ(), w.env...)
	out, err := cmd.CombinedOutput()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		w.t.Fatal(err)
	}
	return string(out), code
}

// TestTeardownRemovesTheFrameworkForGood: decommissioning. While an
// instance runs on the state.dir, `jenkins-mesos teardown` refuses (and
// so does a second `run`: one instance per state.dir); with a build
// running, or Jenkins unreachable, it refuses and changes nothing. Once
// the framework is stopped with an idle agent left (retention: idle), it tears
// the framework down in Mesos (the agent's task killed, the framework
// gone), deletes the Jenkins node and clears the stored ID: the next start
// registers a new framework.
func TestTeardownRemovesTheFrameworkForGood(t *testing.T) {
	w := newWorld(t, worldOpts{agents: 1, templates: `
  - {name: mesos, labels: mesos, cpus: 0.2, mem: 30, image: jenkins/inbound-agent, retention: idle, idle_timeout: 1h}`})
	w.freestyle("busy", "mesos", 200) // 10 s at time scale 20
	w.build("busy")
	w.waitFor("the build running", 60*time.Second, func() bool { return w.result("busy").Building })
	inUse := regexp.MustCompile(`state\.dir \S+ is in use by pid [0-9]+ on \S+`)
	out, code := w.teardown("--force")
	if code != 1 || !inUse.MatchString(out) || !strings.Contains(out, "stop the framework's instance first") {
		t.Fatalf("teardown beside a running instance: exit %d, %q; want a refusal naming the instance", code, out)
	}
	second := exec.Command(filepath.Join(binaries(t), "jenkins-mesos"), "run", "--config", w.configPath, "--http.listen", freeAddr(t))
	second.Env = append(os.Environ(), w.env...)
	secondOut, err := second.CombinedOutput()
	if err == nil || !inUse.MatchString(string(secondOut)) || !strings.Contains(string(secondOut), "one instance per state.dir") {
		t.Fatalf("a second run on the same state.dir: %v, %q; want it to refuse at once", err, secondOut)
	}
	first := subscribedAs.FindStringSubmatch(w.framework.output())[1]
	_ = w.framework.cmd.Process.Signal(syscall.SIGTERM)
	_ = w.framework.cmd.Wait()
	if n := strings.Count(w.framework.output(), "subscribed as framework"); n != 1 {
		t.Fatalf("the running instance subscribed %d times; the refused commands must not disturb it", n)
	}
	if out, code := w.teardown("--jenkins.url", "http://127.0.0.1:1/"); code != 1 || !strings.Contains(out, "with --force the framework is torn down in Mesos anyway") {
		t.Fatalf("teardown with Jenkins unreachable: exit %d, %q; want a refusal that names --force", code, out)
	}
	w.env = append(w.env, "JENKINS_MESOS_JENKINS_TOKEN=not-the-token")
	out, code = w.teardown()
	w.env = w.env[:len(w.env)-1]
	if code != 1 || !strings.Contains(out, `401 Unauthorized (Jenkins refused user "admin" with the token from JENKINS_MESOS_JENKINS_TOKEN`) || strings.Contains(out, "not-the-token") {
		t.Fatalf("teardown with a wrong token: exit %d, %q; want a refusal that says which credentials to check, without the token", code, out)
	}
	out, code = w.teardown()
	if code != 1 || !strings.Contains(out, "builds run on mesos-") || !strings.Contains(out, "--force") {
		t.Fatalf("teardown with a build running: exit %d, %q; want a refusal naming the busy node", code, out)
	}
	w.waitFor("the build to succeed", 60*time.Second, func() bool { return w.result("busy").Result == "SUCCESS" })
	if len(w.nodes()) != 1 || w.liveTasks() != 1 {
		t.Fatalf("after SIGTERM: %d nodes, %d tasks; want the idle agent still there", len(w.nodes()), w.liveTasks())
	}
	out, code = w.teardown()
	if code != 0 || !strings.Contains(out, "framework "+first+" torn down") || !strings.Contains(out, "1 Jenkins node(s)") {
		t.Fatalf("teardown: exit %d, %q", code, out)
	}
	w.waitFor("the task killed and the framework gone", 30*time.Second, func() bool { return w.liveTasks() == 0 && len(w.state().Frameworks) == 0 })
	if n := len(w.nodes()); n != 0 {
		t.Fatalf("%d nodes left after teardown", n)
	}
	if out, code = w.teardown(); code != 0 || !strings.Contains(out, "nothing to tear down") {
		t.Fatalf("teardown again: exit %d, %q; want nothing to do", code, out)
	}
	w.restartFramework()
	m := w.framework.await(t, "a new subscription", subscribedAs)
	if m[1] == first {
		t.Fatalf("restarted as %s again; want a new framework", first)
	}
}

// TestJenkinsQuietingDownGetsNoNewAgents: while Jenkins prepares for
// shutdown (POST /quietDown) the running build finishes on its agent,
// and a build queued meanwhile gets no agent (Jenkins would not start it,
// so an agent would only time out): it waits in /status with the reason.
// Once the shutdown is cancelled it gets an agent and succeeds.
func TestJenkinsQuietingDownGetsNoNewAgents(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.freestyle("before", "mesos", 60) // 3 s at time scale 20
	w.freestyle("during", "mesos", 60) // 3 s: long enough to be seen busy
	w.build("before")
	w.waitFor("the first build running", 60*time.Second, func() bool { return w.result("before").Building })
	if r, b := w.jenkinsDo("POST", "quietDown?message=upgrade", "", ""); r.StatusCode != 302 {
		t.Fatalf("quietDown: %d %s", r.StatusCode, b)
	}
	// Queued with a quiet period of 200 s (10 s here): until it ends, the
	// build's why tells nothing of the shutdown and it is the only item,
	// so only the root's quietingDown can keep it from an agent.
	if r, _ := w.jenkinsDo("POST", "job/during/build?delay=200sec", "", ""); r.StatusCode != 201 {
		t.Fatalf("build during: %d", r.StatusCode)
	}
	w.waitFor("the build in its quiet period held, with the reason in /status", 30*time.Second, func() bool {
		for _, wt := range w.status().Waiting {
			if wt.Code == "jenkins_shutting_down" && wt.Quiet {
				return true
			}
		}
		return false
	})
	// The first build ends seconds later: polls enough with the held
	// build in the queue, and the first agent's resources free again.
	w.waitFor("the first build to succeed", 60*time.Second, func() bool { return w.result("before").Result == "SUCCESS" })
	if n := countLaunches(w.framework.output()); n != 1 {
		t.Fatalf("%d launches while Jenkins quiets down; want only the first build's", n)
	}
	if r, b := w.jenkinsDo("POST", "cancelQuietDown", "", ""); r.StatusCode != 302 {
		t.Fatalf("cancelQuietDown: %d %s", r.StatusCode, b)
	}
	w.waitSucceeded("the held build", 60*time.Second, "during")
	w.waitClean()

	if n := countLaunches(w.framework.output()); n != 2 {
		t.Fatalf("%d launches; want 2", n)
	}
}

// TestAgentThatDiesMidBuildLeavesItsLastWords: the container under a
// running build dies (here it says it ran out of memory and is killed);
// the framework reads its output from the Mesos sandbox and logs it.
func TestAgentThatDiesMidBuildLeavesItsLastWords(t *testing.T) {
	script := filepath.Join(t.TempDir(), "dying-agent")
	body := "#!/bin/sh\n" + filepath.Join(binaries(t), "jenkins-emulator") + " agent &\npid=$!\nsleep 200\n" + // 10 s here (the emulator scales sleep): the build starts well before
		"echo 'Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space' >&2\nkill -9 $pid\nexit 137\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, worldOpts{images: []string{"example/dying=" + script}, templates: `
  - {name: mesos, labels: mesos, cpus: 0.2, mem: 30, image: example/dying}`})
	w.freestyle("long", "mesos", 2000) // 100 s at time scale 20: it outlives its agent
	w.build("long")
	w.waitFor("the build running", 60*time.Second, func() bool { return w.result("long").Building })
	m := w.framework.await(t, "the dead agent's output", regexp.MustCompile(`"event":"agent_output".*`))
	if !strings.Contains(m[0], `java.lang.OutOfMemoryError: Java heap space`) || !strings.Contains(m[0], `"level":"warning"`) {
		t.Fatalf("agent_output line: %s; want its stderr's last line at warn level", m[0])
	}
	if n := strings.Count(w.framework.output(), `"event":"agent_output"`); n != 1 {
		t.Fatalf("%d agent_output lines; want 1 for the one dead agent", n)
	}
	// Its container died of SIGKILL (exit 137) unasked: under the Docker
	// containerizer that is how an OOM kill looks, and sizing says so.
	w.waitFor("the SIGKILL in the sizing", 30*time.Second, func() bool {
		z := w.status().Sizing
		return len(z) == 1 && z[0].Template == "mesos" && z[0].SIGKilled == 1 && strings.Contains(z[0].Advice, "died of SIGKILL (exit 137)")
	})
	if m := w.metrics(w.httpListen); m[`jenkins_mesos_agent_sigkills_total{template="mesos"}`] != 1 {
		t.Fatalf("jenkins_mesos_agent_sigkills_total = %v, want 1", m[`jenkins_mesos_agent_sigkills_total{template="mesos"}`])
	}
}

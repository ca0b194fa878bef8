package integration

import (
	"bufio"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"github.com/jenkins-mesos/jenkins-mesos/integration/syncbuf"
	"io"
	stdlog "log"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests run the product the way an operator does: mesos-emulator,
// jenkins-emulator and `jenkins-mesos run` as three processes, the
// framework configured only through its YAML file (and its token through
// the environment).

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func binaries(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "jenkins-mesos-bin-")
		if binErr != nil {
			return
		}
		// As the release image builds them (make static): no cgo.
		build := exec.Command("go", "build", "-trimpath", "-o", binDir+"/", "../cmd/...")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := build.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build ../cmd/...: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// proc is a started program whose output is kept.
type proc struct {
	cmd *exec.Cmd
	syncbuf.Buffer
}

func (p *proc) output() string { return p.String() }

func start(t *testing.T, env []string, name string, args ...string) *proc {
	t.Helper()
	prog := name
	if !filepath.IsAbs(name) {
		prog = filepath.Join(binaries(t), name)
	}
	p := &proc{cmd: exec.Command(prog, args...)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("--- %s output:\n%s", name, p.output())
		}
	})
	return p
}

func (p *proc) await(t *testing.T, what string, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
	return nil
}

type world struct {
	t          *testing.T
	mesos      string
	jenkins    string
	token      string
	framework  *proc
	httpListen string
	configPath string // the framework's YAML file
	config     string // its text
	env        []string
	bin        string // the jenkins-mesos binary: a name in binaries() or a path
	sandbox    string // the Mesos emulator's --sandbox

	jenkinsProc *proc
	jenkinsArgs []string
}

type worldOpts struct {
	agents       int
	resources    string
	mesosScale   string
	jenkinsScale string
	templates    string
	logLevel     string
	mesosSecret  string
	limits       string   // more keys under limits:, indented by two spaces
	stateZK      string   // state.zk (and a 3 s session timeout) when set
	stateZKCreds string   // JENKINS_MESOS_STATE_ZK_CREDENTIALS when set
	images       []string // more IMAGE=PROGRAM mappings for the Mesos emulator
	mesosArgs    []string // more flags for the Mesos emulator
	zk           string   // a ZooKeeper host:port: 3 masters contend there, the framework finds the leader there
	jenkinsHome  bool     // the Jenkins emulator keeps its home in a directory
	frameworkBin string   // another jenkins-mesos binary (the chaos suite's broken one)
	jenkinsArgs  []string // more flags for the Jenkins emulator
	// jenkinsPassword: the Jenkins admin also has this password, and the
	// framework is given it instead of the API token.
	jenkinsPassword string
}

func newWorld(t *testing.T, o worldOpts) *world {
	if o.agents == 0 {
		o.agents = 2
	}
	if o.resources == "" {
		o.resources = "cpus:4;mem:8192;disk:20000;ports:[31000-32000]"
	}
	if o.mesosScale == "" {
		o.mesosScale = "20"
	}
	if o.jenkinsScale == "" {
		o.jenkinsScale = "20"
	}
	if o.logLevel == "" {
		o.logLevel = "debug"
	}
	if o.templates == "" {
		o.templates = `
  - name: mesos
    labels: mesos
    cpus: 0.2
    mem: 30
    image: jenkins/inbound-agent
    max_instances: 20
    connect_timeout: 3m`
	}
	bin := binaries(t)
	w := &world{t: t, token: "tok-" + fmt.Sprint(time.Now().UnixNano()), sandbox: t.TempDir()}
	margs := []string{"--listen", "127.0.0.1:0", "--agents", fmt.Sprint(o.agents), "--agent-resources", o.resources,
		"--time-scale", o.mesosScale, "--sandbox", w.sandbox, "--image", "jenkins/inbound-agent=" + filepath.Join(bin, "jenkins-emulator") + " agent"}
	for _, im := range o.images {
		margs = append(margs, "--image", im)
	}
	margs = append(margs, o.mesosArgs...)
	if o.zk != "" {
		margs = append(margs, "--masters", "3", "--zk", "zk://"+o.zk+"/mesos")
	}
	m := start(t, nil, "mesos-emulator", margs...)
	w.mesos = strings.TrimSuffix(m.await(t, "the Mesos emulator", regexp.MustCompile(`master 0: (http://\S+)/api/v1/scheduler`))[1], "/")
	jargs := []string{"--listen", "127.0.0.1:0", "--user", "admin", "--time-scale", o.jenkinsScale}
	if o.jenkinsHome {
		jargs = append(jargs, "--home", t.TempDir())
	}
	jargs = append(jargs, o.jenkinsArgs...)
	jenv := []string{"JENKINS_EMULATOR_TOKEN=" + w.token}
	if o.jenkinsPassword != "" {
		jenv = append(jenv, "JENKINS_EMULATOR_PASSWORD="+o.jenkinsPassword)
	}
	j := start(t, jenv, "jenkins-emulator", jargs...)
	w.jenkins = j.await(t, "the Jenkins emulator", regexp.MustCompile(`at (http://\S+/) `))[1]
	w.jenkinsProc, w.jenkinsArgs = j, jargs
	dir := t.TempDir()
	w.httpListen = freeAddr(t)
	principal := ""
	if o.mesosSecret != "" {
		principal = "jenkins-mesos"
	}
	stateZK := ""
	if o.stateZK != "" {
		stateZK = fmt.Sprintf("  zk: %s\n  zk_session_timeout: 3s\n", o.stateZK)
	}
	master := w.mesos
	if o.zk != "" {
		master = "zk://" + o.zk + "/mesos"
	}
	cfg := fmt.Sprintf(`mesos:
  master: %s
  framework_name: jenkins-mesos
  role: "*"
  user: jenkins
  failover_timeout: 168h
  principal: %q
  usage_interval: 1s
jenkins:
  url: %s
  user: admin
  poll_interval: 1s
state:
  dir: %s
%shttp:
  listen: %s
strategy: spread
limits:
  max_agents: 100
%slog:
  level: %s
templates:%s
`, master, principal, w.jenkins, filepath.Join(dir, "state"), stateZK, w.httpListen, o.limits, o.logLevel, o.templates)
	path := filepath.Join(dir, "jenkins-mesos.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"JENKINS_MESOS_JENKINS_TOKEN=" + w.token}
	if o.jenkinsPassword != "" {
		env = []string{"JENKINS_MESOS_JENKINS_TOKEN=" + o.jenkinsPassword}
	}
	if o.mesosSecret != "" {
		env = append(env, "JENKINS_MESOS_MESOS_SECRET="+o.mesosSecret)
	}
	if o.stateZKCreds != "" {
		env = append(env, "JENKINS_MESOS_STATE_ZK_CREDENTIALS="+o.stateZKCreds)
	}
	w.configPath, w.config, w.env = path, cfg, env
	w.bin = "jenkins-mesos"
	if o.frameworkBin != "" {
		w.bin = o.frameworkBin
	}
	w.framework = start(t, env, w.bin, "run", "--config", path)
	w.framework.await(t, "the framework to subscribe", regexp.MustCompile(`subscribed as framework`))
	return w
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func (w *world) jenkinsDo(method, path, contentType, body string) (*http.Response, []byte) {
	w.t.Helper()
	req, _ := http.NewRequest(method, w.jenkins+path, strings.NewReader(body))
	req.SetBasicAuth("admin", w.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (w *world) freestyle(name, label string, sleep int) {
	w.t.Helper()
	var esc strings.Builder
	_ = xml.EscapeText(&esc, []byte(label)) // a label expression's && is XML's &amp;&amp;
	w.createJob(name, fmt.Sprintf("<project><assignedNode>%s</assignedNode><canRoam>false</canRoam><builders><hudson.tasks.Shell><command>sleep %d</command></hudson.tasks.Shell></builders></project>", esc.String(), sleep))
}

// buildMesos creates n freestyle jobs labelled mesos (prefix1, prefix2,
// …), each running sleep seconds, and triggers a build of each.
func (w *world) buildMesos(prefix string, n, sleep int) []string {
	w.t.Helper()
	jobs := numbered(prefix, n)
	for _, j := range jobs {
		w.freestyle(j, "mesos", sleep)
		w.build(j)
	}
	return jobs
}

func (w *world) pipeline(name, script string) {
	w.t.Helper()
	w.createJob(name, "<flow-definition><definition class='org.jenkinsci.plugins.workflow.cps.CpsFlowDefinition'><script>"+script+"</script></definition></flow-definition>")
}

func (w *world) createJob(name, config string) {
	w.t.Helper()
	if r, b := w.jenkinsDo("POST", "createItem?name="+name, "application/xml", config); r.StatusCode != 200 {
		w.t.Fatalf("createItem %s: %d %s", name, r.StatusCode, b)
	}
}

func (w *world) build(name string) {
	w.t.Helper()
	if r, _ := w.jenkinsDo("POST", "job/"+name+"/build?delay=0sec", "", ""); r.StatusCode != 201 {
		w.t.Fatalf("build %s: %d", name, r.StatusCode)
	}
}

type buildJSON struct {
	Result   string `json:"result"`
	Building bool   `json:"building"`
	BuiltOn  string `json:"builtOn"`
}

func (w *world) result(job string) buildJSON {
	var b buildJSON
	if r, body := w.jenkinsDo("GET", "job/"+job+"/1/api/json", "", ""); r.StatusCode == 200 {
		_ = json.Unmarshal(body, &b)
	}
	return b
}

// computer is a Jenkins node as /computer/api/json lists it.
type computer struct {
	DisplayName string `json:"displayName"`
	Offline     bool   `json:"offline"`
	Idle        bool   `json:"idle"`
}

// agents lists the framework's nodes (not the built-in one, not the
// anchor) that keep passes.
func (w *world) agents(keep func(computer) bool) []string {
	var set struct {
		Computer []computer `json:"computer"`
	}
	_, body := w.jenkinsDo("GET", "computer/api/json?tree=computer[displayName,offline,idle]", "", "")
	_ = json.Unmarshal(body, &set)
	var out []string
	for _, c := range set.Computer {
		if c.DisplayName != "Built-In Node" && c.DisplayName != "jenkins-mesos-anchor" && keep(c) {
			out = append(out, c.DisplayName)
		}
	}
	return out
}

func (w *world) nodes() []string { return w.agents(func(computer) bool { return true }) }

type masterState struct {
	Slaves []struct {
		Hostname string             `json:"hostname"`
		Used     map[string]float64 `json:"used_resources"`
	} `json:"slaves"`
	Frameworks []struct {
		Name  string `json:"name"`
		Tasks []struct {
			ID      string `json:"id"`
			State   string `json:"state"`
			SlaveID string `json:"slave_id"`
		} `json:"tasks"`
		CompletedTasks []struct {
			ID string `json:"id"`
		} `json:"completed_tasks"`
	} `json:"frameworks"`
}

func (w *world) state() masterState {
	w.t.Helper()
	resp, err := http.Get(w.mesos + "/master/state")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st masterState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		w.t.Fatal(err)
	}
	return st
}

func (w *world) liveTasks() int {
	n := 0
	for _, f := range w.state().Frameworks {
		n += len(f.Tasks)
	}
	return n
}

func (w *world) waitFor(what string, limit time.Duration, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// launches reads the framework's log: node → host of each launch.
func (w *world) launches() map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(w.framework.output()))
	re := regexp.MustCompile(`launching (\S+) on (\S+) `)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			out[m[1]] = m[2]
		}
	}
	return out
}

// TestFrameworkEndToEndAsThreeProcesses is the classic scenario: five
// builds labelled mesos, two agents; five agents of 0.2 CPU / 30 MB
// spread 3/2, every build succeeds, then every node is deleted, every
// task ended and every agent's resources free; no secret in the log.
func TestFrameworkEndToEndAsThreeProcesses(t *testing.T) {
	w := newWorld(t, worldOpts{mesosSecret: "mesos-secret-value-42"})
	jobs := numbered("sleep", 5)
	for _, j := range jobs {
		w.freestyle(j, "mesos", 100)
	}
	for _, j := range jobs {
		w.build(j)
	}
	secrets := map[string]bool{}
	w.waitFor("5 builds to succeed", 90*time.Second, func() bool {
		for _, n := range w.nodes() { // collect the agent secrets while the nodes exist
			if r, b := w.jenkinsDo("GET", "computer/"+n+"/jenkins-agent.jnlp", "", ""); r.StatusCode == 200 {
				if m := regexp.MustCompile(`<argument>([0-9a-f]{64})</argument>`).FindSubmatch(b); m != nil {
					secrets[string(m[1])] = true
				}
			}
		}
		return w.allSucceeded(jobs...)
	})
	w.waitClean()
	for _, s := range w.state().Slaves {
		if s.Used["cpus"] != 0 || s.Used["mem"] != 0 {
			t.Fatalf("agent %s still has %v in use", s.Hostname, s.Used)
		}
	}
	// The classic 30 MB slice without a mem_limit: run says, at start, that
	// a real inbound agent's JVM would not live in it.
	if !strings.Contains(w.framework.output(), "template mesos: a container of 30 MB (mem, and no mem_limit) is likely too little for the inbound agent's JVM") {
		t.Errorf("run did not warn of the 30 MB slice")
	}
	perHost := map[string]int{}
	for _, host := range w.launches() {
		perHost[host]++
	}
	if len(w.launches()) != 5 || len(perHost) != 2 || (perHost["agent1"] != 3 && perHost["agent2"] != 3) {
		t.Fatalf("launches per host %v, want 5 agents spread 3/2 over both hosts", perHost)
	}
	if !strings.Contains(w.framework.output(), "cpus=0.2 mem=30") {
		t.Fatalf("no launch of 0.2 CPU / 30 MB in the log")
	}
	log := w.framework.output()
	if len(secrets) == 0 {
		t.Fatal("no agent secret was seen to check the log against")
	}
	for s := range secrets {
		if strings.Contains(log, s) {
			t.Fatalf("an agent secret appears in the framework's log")
		}
	}
	for _, s := range []string{w.token, "mesos-secret-value-42"} {
		if strings.Contains(log, s) {
			t.Fatalf("a secret (%d chars) appears in the framework's log", len(s))
		}
	}
	if resp, err := http.Get("http://" + w.httpListen + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz while subscribed: %v %v", resp, err)
	}
	m := w.metrics(w.httpListen)
	for series, want := range map[string]float64{
		`jenkins_mesos_launches_total{template="mesos"}`:           5,
		`jenkins_mesos_events_total{event="launch"}`:               5,
		`jenkins_mesos_events_total{event="reclaimed"}`:            5,
		`jenkins_mesos_jenkins_node_operations_total{op="create"}`: 5,
		`jenkins_mesos_leader`:                                     1,
		`jenkins_mesos_subscribed`:                                 1,
		`jenkins_mesos_build_wait_seconds_count{template="mesos"}`: 5,
		`jenkins_mesos_events_total{event="agent_done"}`:           5,
	} {
		if m[series] != want {
			t.Errorf("/metrics %s = %v; want %v", series, m[series], want)
		}
	}
	if m[`jenkins_mesos_task_updates_total{state="TASK_RUNNING"}`] < 5 || m[`jenkins_mesos_offers_received_total`] < m[`jenkins_mesos_offers_accepted_total`] || m[`jenkins_mesos_offers_accepted_total`] < 1 {
		t.Errorf("/metrics: %v TASK_RUNNING updates (want at least 5), %v offers received, %v accepted", m[`jenkins_mesos_task_updates_total{state="TASK_RUNNING"}`], m[`jenkins_mesos_offers_received_total`], m[`jenkins_mesos_offers_accepted_total`])
	}
	// Every agent lived a few real seconds (its 100 s build at ×20), with
	// its 0.2 CPU / 30 MB slice reserved all along.
	secs := m[`jenkins_mesos_agent_seconds_total{template="mesos"}`]
	if secs < 5*2 || math.Abs(m[`jenkins_mesos_agent_reserved_cpu_seconds_total{template="mesos"}`]-0.2*secs) > 1e-6*secs ||
		math.Abs(m[`jenkins_mesos_agent_reserved_memory_byte_seconds_total{template="mesos"}`]-30*1024*1024*secs) > 1e-6*30*1024*1024*secs {
		t.Errorf("/metrics: agent seconds %v, CPU seconds %v, memory byte-seconds %v; want at least 10 s for 5 agents, and 0.2 CPU and 30 MB for each of those seconds",
			secs, m[`jenkins_mesos_agent_reserved_cpu_seconds_total{template="mesos"}`], m[`jenkins_mesos_agent_reserved_memory_byte_seconds_total{template="mesos"}`])
	}
	// Each agent's accounting line names the build it ran, as Jenkins
	// showed it on the node's executor.
	done := regexp.MustCompile(`"builds":"(http://[^"]+/job/[^"]+/1/)"[^\n]*"event":"agent_done"[^\n]*"seconds":"([0-9.]+)"`).FindAllStringSubmatch(log, -1)
	if len(done) != 5 {
		t.Errorf("%d agent_done lines naming a build; want 5:\n%s", len(done), log)
	}
	for _, d := range done {
		if secs, _ := strconv.ParseFloat(d[2], 64); secs <= 0 {
			t.Errorf("agent_done for %s: %s seconds", d[1], d[2])
		}
	}
	// Each build waited a node, an offer, a container and a connection:
	// well under a minute here, more than nothing.
	if sum := m[`jenkins_mesos_build_wait_seconds_sum{template="mesos"}`]; sum <= 0 || sum > 5*60 ||
		m[`jenkins_mesos_build_wait_seconds_bucket{template="mesos",le="60"}`] != 5 {
		t.Errorf("/metrics: builds waited %v s in all, %v of them within a minute; want 5 short waits", sum, m[`jenkins_mesos_build_wait_seconds_bucket{template="mesos",le="60"}`])
	}
	// Sizing: every agent lived seconds, so each was sampled (each second)
	// by its Mesos agent: a real process's resident memory and CPU time.
	if n := m[`jenkins_mesos_agent_memory_peak_bytes_count{template="mesos"}`]; n != 5 {
		t.Errorf("/metrics: %v agents' peak memory observed; want 5", n)
	}
	if sum := m[`jenkins_mesos_agent_memory_peak_bytes_sum{template="mesos"}`]; sum < 5*(1<<20) {
		t.Errorf("/metrics: peaks sum to %v bytes; want more than 1 MB for each agent (a real process)", sum)
	}
	if _, ok := m[`jenkins_mesos_agent_used_cpu_seconds_total{template="mesos"}`]; !ok {
		t.Error("/metrics: no jenkins_mesos_agent_used_cpu_seconds_total for mesos")
	}
	var sizing struct {
		Sizing []struct {
			Template string  `json:"template"`
			Agents   int     `json:"agents"`
			CPUs     float64 `json:"cpus"`
			Mem      float64 `json:"mem"`
			Peak     float64 `json:"peak_mem_mb"`
			Limit    float64 `json:"mem_limit_mb"`
		} `json:"sizing"`
	}
	if resp, err := http.Get("http://" + w.httpListen + "/status"); err != nil {
		t.Error(err)
	} else {
		_ = json.NewDecoder(resp.Body).Decode(&sizing)
		resp.Body.Close()
		if len(sizing.Sizing) != 1 || sizing.Sizing[0].Template != "mesos" || sizing.Sizing[0].Agents != 5 || sizing.Sizing[0].Mem != 30 ||
			sizing.Sizing[0].CPUs != 0.2 || sizing.Sizing[0].Peak < 1 || sizing.Sizing[0].Limit != 62 {
			t.Errorf("/status sizing = %+v; want mesos: 5 agents, 0.2 CPU and 30 MB slices, a peak above 1 MB, a 62 MB limit (30 + the executor's 32)", sizing.Sizing)
		}
	}
	for series, v := range m {
		if strings.HasPrefix(series, "jenkins_mesos_oldest_build_wait_seconds") {
			t.Errorf("/metrics %s = %v with no build waiting", series, v)
		}
		if strings.HasPrefix(series, "jenkins_mesos_agents{") && v != 0 {
			t.Errorf("/metrics %s = %v after every agent was reclaimed", series, v)
		}
	}
}

// metrics scrapes the /metrics of the instance listening on addr: series
// (name and labels, as written) to value.
func (w *world) metrics(addr string) map[string]float64 {
	w.t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		w.t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			w.t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestTwoOneCPUAgentsHoldExactlyTenSlices: 12 builds on two agents of
// exactly 1 CPU: 10 run at once (never 6 on one agent), 2 wait with a
// reason, then run; all 12 succeed.
func TestTwoOneCPUAgentsHoldExactlyTenSlices(t *testing.T) {
	w := newWorld(t, worldOpts{resources: "cpus:1;mem:4096;disk:20000;ports:[31000-32000]"})
	jobs := numbered("b", 12)
	for _, j := range jobs {
		w.freestyle(j, "mesos", 200)
	}
	for _, j := range jobs {
		w.build(j)
	}
	peak, peakPerHost := 0, 0
	w.waitFor("12 builds to succeed", 120*time.Second, func() bool {
		st := w.state()
		running := 0
		perSlave := map[string]int{}
		for _, f := range st.Frameworks {
			for _, tk := range f.Tasks {
				if tk.State == "TASK_RUNNING" || tk.State == "TASK_STARTING" || tk.State == "TASK_STAGING" {
					running++
					perSlave[tk.SlaveID]++
				}
			}
		}
		peak = max(peak, running)
		for _, n := range perSlave {
			peakPerHost = max(peakPerHost, n)
		}
		return w.allSucceeded(jobs...)
	})
	if peak != 10 || peakPerHost != 5 {
		t.Fatalf("peak %d tasks at once, %d on one agent; want 10 and 5 (two agents of exactly 1 CPU)", peak, peakPerHost)
	}
	if !strings.Contains(w.framework.output(), "no offer fits: ") {
		t.Fatalf("the two builds that waited were given no reason in the log")
	}
}

// TestPipelineLabelsPickTheFirstMatchingTemplate: node('mesos && linux')
// is served by the template labelled "mesos linux", not by the earlier
// one labelled "mesos"; a build labelled gpu gets no agent and its
// reason says no template serves it.
func TestPipelineLabelsPickTheFirstMatchingTemplate(t *testing.T) {
	w := newWorld(t, worldOpts{templates: `
  - {name: plain, labels: mesos, cpus: 0.2, mem: 30, image: jenkins/inbound-agent}
  - {name: linux, labels: mesos linux, cpus: 0.3, mem: 64, image: jenkins/inbound-agent}`})
	w.pipeline("pipe", "node('mesos &amp;&amp; linux') { sh 'sleep 20' }")
	w.freestyle("cuda", "gpu", 1)
	w.build("pipe")
	w.build("cuda")
	w.waitFor("the Pipeline to succeed", 90*time.Second, func() bool { return w.result("pipe").Result == "SUCCESS" })
	var linux, plain int
	for node := range w.launches() {
		switch {
		case strings.HasPrefix(node, "linux-"):
			linux++
		case strings.HasPrefix(node, "plain-"):
			plain++
		}
	}
	if linux != 1 || plain != 0 {
		t.Fatalf("launched %d linux and %d plain agents; want the node('mesos && linux') block on one linux agent", linux, plain)
	}
	log := w.framework.output()
	if !strings.Contains(log, "label `gpu` matches no template") {
		t.Fatalf("the gpu build's reason is not in the log")
	}
	if w.result("cuda").Result != "" {
		t.Fatalf("the gpu build ran somewhere")
	}
}

// TestSuppressedUntilABuildArrives: with nothing waiting the framework
// suppresses; a build makes it revive, and its agent is launched within
// one allocation interval (1 s, unscaled) of the node being created.
func TestSuppressedUntilABuildArrives(t *testing.T) {
	w := newWorld(t, worldOpts{mesosScale: "1"})
	w.framework.await(t, "SUPPRESS with nothing waiting", regexp.MustCompile(`"msg":"SUPPRESS"`))
	w.freestyle("late", "mesos", 20)
	time.Sleep(1500 * time.Millisecond) // a few polls with nothing waiting: still suppressed, nothing launched
	if strings.Contains(w.framework.output(), `"msg":"REVIVE"`) {
		t.Fatal("revived with nothing waiting")
	}
	w.build("late")
	w.framework.await(t, "REVIVE when the build arrives", regexp.MustCompile(`"msg":"REVIVE"`))
	created := w.framework.await(t, "the node", regexp.MustCompile(`"msg":"node \S+ created".*"time":"([^"]+)"`))
	launched := w.framework.await(t, "the launch", regexp.MustCompile(`"msg":"launching .*"time":"([^"]+)"`))
	tc, _ := time.Parse(time.RFC3339, created[1])
	tl, _ := time.Parse(time.RFC3339, launched[1])
	// The log has whole seconds: one allocation interval plus the rounding.
	if tl.Sub(tc) > 2*time.Second {
		t.Fatalf("launched %s after the node was created; want within one allocation interval", tl.Sub(tc))
	}
	w.waitFor("the build to succeed", 60*time.Second, func() bool { return w.result("late").Result == "SUCCESS" })
}

// numbered returns prefix-1 … prefix-n.
func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i+1)
	}
	return out
}

// waitSucceeded waits until every job's build #1 succeeded.
func (w *world) waitSucceeded(what string, limit time.Duration, jobs ...string) {
	w.t.Helper()
	w.waitFor(what, limit, func() bool { return w.allSucceeded(jobs...) })
}

// allSucceeded tells whether every job's build #1 succeeded.
func (w *world) allSucceeded(jobs ...string) bool {
	for _, j := range jobs {
		if w.result(j).Result != "SUCCESS" {
			return false
		}
	}
	return true
}

// waitClean waits until the framework's nodes are deleted and its tasks
// ended.
func (w *world) waitClean() {
	w.t.Helper()
	w.waitFor("every node deleted and every task ended", 30*time.Second, func() bool { return len(w.nodes()) == 0 && w.liveTasks() == 0 })
}

// allRunning tells whether every job's build #1 is running.
func (w *world) allRunning(jobs ...string) bool {
	for _, j := range jobs {
		if !w.result(j).Building {
			return false
		}
	}
	return true
}

// TestJenkinsAtASubPathWithAPassword: Jenkins served under a context path
// (--prefix=/ci/jenkins, as behind a reverse proxy at a sub-path), and the
// framework given the admin's password rather than an API token, so every
// POST needs a crumb bound to the session. Builds run on one-shot agents,
// which connect to the URL with its path, and everything is reclaimed.
func TestJenkinsAtASubPathWithAPassword(t *testing.T) {
	password := "pa55-" + fmt.Sprint(time.Now().UnixNano())
	w := newWorld(t, worldOpts{jenkinsArgs: []string{"--prefix", "/ci/jenkins"}, jenkinsPassword: password})
	if !strings.HasSuffix(w.jenkins, "/ci/jenkins/") {
		t.Fatalf("the Jenkins emulator is at %s; want it under /ci/jenkins/", w.jenkins)
	}
	jobs := w.buildMesos("p", 3, 60)
	w.waitSucceeded("3 builds to succeed", 90*time.Second, jobs...)
	w.waitClean()
	out := w.framework.output()
	if strings.Contains(out, "No valid crumb") {
		t.Fatalf("the framework was refused a crumb:\n%s", out)
	}
	if strings.Contains(out, password) {
		t.Fatalf("the password appears in the framework's log")
	}
}

// TestHTTPSJenkinsWithAPrivateCA: an https:// jenkins.url behind a
// certificate of a private CA is verified against SSL_CERT_FILE (Go's
// standard lookup, documented in the README): with the CA the framework
// reaches Jenkins, without it the certificate is refused.
func TestHTTPSJenkinsWithAPrivateCA(t *testing.T) {
	w := newWorld(t, worldOpts{agents: 1})
	target, err := url.Parse(w.jenkins)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	proxy.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // the refused handshakes below
	proxy.StartTLS()
	defer proxy.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	instance := func(env ...string) *proc {
		cfg := strings.Replace(w.config, "url: "+w.jenkins, "url: "+proxy.URL+"/", 1)
		cfg = strings.Replace(cfg, "listen: "+w.httpListen, "listen: "+freeAddr(t), 1)
		cfg = strings.Replace(cfg, "master: "+w.mesos, "master: http://127.0.0.1:1", 1) // Jenkins is what is checked here
		cfg = regexp.MustCompile(`dir: \S+`).ReplaceAllString(cfg, "dir: "+t.TempDir())
		path := filepath.Join(t.TempDir(), "tls.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return start(t, append(append([]string(nil), w.env...), env...), "jenkins-mesos", "run", "--config", path)
	}
	with := instance("SSL_CERT_FILE=" + ca)
	with.await(t, "Jenkins reached over https with the CA", regexp.MustCompile(`Jenkins reachable`))
	without := instance("SSL_CERT_FILE=" + filepath.Join(t.TempDir(), "none.pem"))
	without.await(t, "the certificate refused without the CA", regexp.MustCompile(`x509: certificate signed by unknown authority.*Jenkins does not answer yet|Jenkins does not answer yet.*x509: certificate signed by unknown authority`))
}

// TestCancelledBuildIsNotAWait: a build cancelled while it waits for an
// agent (none fits it) leaves no wait in the histogram; it is counted as
// a cancelled wait, as Jenkins' left item tells.
func TestCancelledBuildIsNotAWait(t *testing.T) {
	w := newWorld(t, worldOpts{templates: `
  - {name: huge, labels: huge, cpus: 64, mem: 30, image: jenkins/inbound-agent}`})
	w.freestyle("big", "huge", 10)
	w.build("big")
	var id int64
	w.waitFor("the build waiting for a huge agent", 30*time.Second, func() bool {
		for _, wt := range w.status().Waiting {
			if wt.Template == "huge" && wt.Code == "no_fit" {
				id = wt.Build
				return true
			}
		}
		return false
	})
	if r, b := w.jenkinsDo("POST", fmt.Sprintf("queue/cancelItem?id=%d", id), "", ""); r.StatusCode != 204 {
		t.Fatalf("cancelItem: %d %s", r.StatusCode, b)
	}
	w.waitFor("the cancelled wait counted", 30*time.Second, func() bool {
		return w.metrics(w.httpListen)[`jenkins_mesos_build_waits_cancelled_total{template="huge"}`] == 1
	})
	m := w.metrics(w.httpListen)
	if n := m[`jenkins_mesos_build_wait_seconds_count{template="huge"}`]; n != 0 {
		t.Fatalf("/metrics: %v waits for huge; want none (its only build was cancelled)", n)
	}
	if _, ok := m[`jenkins_mesos_oldest_build_wait_seconds{template="huge"}`]; ok {
		t.Fatal("/metrics: an oldest wait for huge after its build was cancelled")
	}
}

// TestInterruptedBuildsReleaseTheirAgents: a user stops a running build (the
// Stop button, POST /job/X/N/stop). The build ends ABORTED, its one-shot
// agent is reclaimed as after any build, and nothing is launched again
// for it. A Pipeline stopped while its node block waits for the agent
// being launched for it leaves nothing behind either, and neither does a
// busy agent an operator disconnects.
func TestInterruptedBuildsReleaseTheirAgents(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.freestyle("long", "mesos", 100000)
	w.build("long")
	// interrupt POSTs an interruption, then checks the build's result;
	// launched checks the launches so far; seenBusy waits until the
	// framework has seen n builds run.
	interrupt := func(path, job, result string) {
		t.Helper()
		if r, b := w.jenkinsDo("POST", path, "", ""); r.StatusCode != http.StatusFound {
			t.Fatalf("POST %s: %d %s", path, r.StatusCode, b)
		}
		if res := w.result(job); res.Result != result {
			t.Fatalf("%s after POST %s: %+v, want %s", job, path, res, result)
		}
	}
	launched := func(n int) {
		t.Helper()
		if got := len(w.launches()); got != n {
			t.Fatalf("%d launches; want %d:\n%s", got, n, w.framework.output())
		}
	}
	seenBusy := func(n int) {
		t.Helper()
		w.waitFor("the framework to see the build on its agent", 60*time.Second, func() bool {
			return strings.Count(w.framework.output(), `"event":"build_running"`) == n
		})
	}

	// Stopped once the framework has seen its agent busy: a build shorter
	// than jenkins.poll_interval is never seen (README).
	seenBusy(1)
	interrupt("job/long/1/stop", "long", "ABORTED")
	w.waitClean()
	launched(1)
	// Reclaimed as a one-shot agent whose build is over, not as surplus.
	if log := w.framework.output(); !regexp.MustCompile(`"builds":"[^"]*/job/long/1/"[^\n]*"event":"agent_done"`).MatchString(log) ||
		strings.Contains(log, `"event":"surplus"`) {
		t.Fatalf("the stopped build's agent was not retired as done:\n%s", log)
	}

	// A Pipeline whose node block is stopped before its agent connects.
	w.pipeline("pipe", "node('mesos') { sh 'sleep 100000' }")
	w.build("pipe")
	w.waitFor("an agent launched for the Pipeline", 60*time.Second, func() bool { return len(w.launches()) == 2 })
	interrupt("job/pipe/1/stop", "pipe", "ABORTED")
	w.waitFor("the Pipeline's agent reclaimed", 90*time.Second, func() bool { return len(w.nodes()) == 0 && w.liveTasks() == 0 })
	launched(2)

	// An operator disconnects a busy agent (POST /computer/N/doDisconnect):
	// the build fails on the closed channel, the agent connects again, and
	// the framework retires it as an agent whose build is over; the failed
	// build is not served again.
	w.freestyle("cut", "mesos", 100000)
	w.build("cut")
	seenBusy(2)
	nodes := w.nodes()
	if len(nodes) != 1 {
		t.Fatalf("nodes %v, want cut's agent alone", nodes)
	}
	interrupt("computer/"+nodes[0]+"/doDisconnect", "cut", "FAILURE")
	w.waitClean()
	launched(3)
}

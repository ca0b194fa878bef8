package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/integration/emutime"
	"github.com/jenkins-mesos/jenkins-mesos/integration/jenkinsemu"
	"github.com/jenkins-mesos/jenkins-mesos/integration/mesosemu"
	"github.com/jenkins-mesos/jenkins-mesos/jenkins"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/driver"
	"github.com/sirupsen/logrus"
)

// runDemo starts emulated Mesos (one master, --agents agents) and Jenkins
// (--jobs freestyle jobs labelled mesos running `sleep`), the framework,
// triggers every build, shows each step as it happens, and ends with a
// summary; exit status 0 when every build succeeded and everything was
// reclaimed.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("jenkins-mesos demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jobs := fs.Int("jobs", 5, "freestyle jobs (one build each), labelled mesos")
	agents := fs.Int("agents", 2, "emulated Mesos agents (the classic layout: 2 agents + 1 master)")
	sleep := fs.Duration("sleep", 100*time.Second, "what each build runs: sleep this long (emulated time)")
	scale := fs.Float64("time-scale", 20, "emulated time runs this many times faster than real time")
	res := fs.String("agent-resources", mesosemu.DefaultAgentResources, "resources of each emulated agent")
	keep := fs.Bool("keep", false, "leave everything running and print the URLs (stop with Ctrl-C)")
	timeout := fs.Duration("timeout", 3*time.Minute, "give up after this long (real time)")
	logLevel := fs.String("log-level", "warn", "the framework's log level (its log goes to stderr)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo: unexpected argument %q", fs.Arg(0))
	}
	switch {
	case *jobs < 1:
		return fmt.Errorf("demo: --jobs %d: must be at least 1", *jobs)
	case *agents < 1:
		return fmt.Errorf("demo: --agents %d: must be at least 1", *agents)
	case *scale <= 0:
		return fmt.Errorf("demo: --time-scale %g: must be positive", *scale)
	case *sleep < 0:
		return fmt.Errorf("demo: --sleep %s: must not be negative", *sleep)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("demo: cannot find its own program to run the agent stand-in: %w", err)
	}
	work, err := os.MkdirTemp("", "jenkins-mesos-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	disp := newDisplay(stdout)
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)

	cluster, err := mesosemu.NewCluster(mesosemu.Config{Agents: *agents, AgentResources: *res, TimeScale: *scale,
		Images: map[string][]string{"jenkins/inbound-agent": {self, "agent-standin"}}, SandboxRoot: filepath.Join(work, "mesos"), Log: quiet})
	if err != nil {
		return fmt.Errorf("demo: mesos emulator: %w", err)
	}
	defer cluster.Close()
	token := randomToken()
	jk, err := jenkinsemu.New(jenkinsemu.Config{Listen: "127.0.0.1:0", User: "admin", Token: token, TimeScale: *scale, Log: quiet})
	if err != nil {
		return fmt.Errorf("demo: jenkins emulator: %w", err)
	}
	defer jk.Close()
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	master, err := cluster.WaitLeader(waitCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("demo: mesos emulator: no leader: %w", err)
	}
	disp.step("emulated Mesos master %s with %d agents (%s each), time ×%g", master, *agents, *res, *scale)
	disp.step("emulated Jenkins %s", jk.URL())

	api := &jenkinsAPI{base: strings.TrimSuffix(jk.URL(), "/"), user: "admin", token: token}
	// The framework's own adapter counts the framework's own nodes.
	jc, err := jenkins.New(jenkins.Config{URL: jk.URL(), User: "admin", Token: token, DescriptionPrefix: scheduler.NodeDescriptionPrefix + "jenkins-mesos "})
	if err != nil {
		return err
	}
	agentNodes := func() int {
		ns, err := jc.Nodes(ctx)
		if err != nil {
			return -1
		}
		return len(ns)
	}
	for i := 1; i <= *jobs; i++ {
		cfg := fmt.Sprintf("<?xml version='1.1' encoding='UTF-8'?><project><description>demo</description><assignedNode>mesos</assignedNode><canRoam>false</canRoam>"+
			"<builders><hudson.tasks.Shell><command>sleep %d</command></hudson.tasks.Shell></builders></project>", int(sleep.Seconds()))
		if err := api.post(fmt.Sprintf("/createItem?name=sleep-%d", i), "application/xml", cfg); err != nil {
			return fmt.Errorf("demo: creating job sleep-%d: %w", i, err)
		}
	}
	clock := emutime.NewClock(*scale) // the demo's conversions; the emulators keep their own
	s := demoSettings(master, jk.URL(), token, filepath.Join(work, "state"), clock)
	log, err := newLogger(*logLevel, "text", stderr)
	if err != nil {
		return err
	}
	tracker := newTracker()
	hooks := &driver.Config{
		OnEvent: func(ev scheduler.Event) {
			if q, ok := ev.(scheduler.QueueObserved); ok {
				tracker.demand(disp, len(q.Items))
			}
		},
		OnReady: func(rd scheduler.Ready, _ time.Time) { tracker.ready(disp, rd) },
	}
	fctx, stopFramework := context.WithCancel(ctx)
	frameworkDone := make(chan error, 1)
	go func() { frameworkDone <- serve(fctx, s, log, hooks, nil) }()
	defer func() { stopFramework(); <-frameworkDone }()

	queued := map[int64]int64{} // queue item → inQueueSince (emulated ms)
	for i := 1; i <= *jobs; i++ {
		name := fmt.Sprintf("sleep-%d", i)
		id, since, err := api.trigger(name)
		if err != nil {
			return fmt.Errorf("demo: triggering %s: %w", name, err)
		}
		queued[id] = since
	}
	disp.step("triggered %d builds labelled mesos (each runs sleep %s, %s in real time); the framework polls Jenkins every %s",
		*jobs, sleep, clock.Real(*sleep).Round(time.Millisecond), time.Duration(s.file.Jenkins.PollInterval))

	peaks := newPeaks()
	deadline := time.Now().Add(*timeout)
	var results map[string]buildResult
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-frameworkDone:
			frameworkDone <- err
			return fmt.Errorf("demo: the framework stopped: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		peaks.sample(master)
		results = api.builds(*jobs)
		running := 0
		for _, r := range results {
			if r.Result == "" {
				running++
			}
		}
		disp.setStatus(fmt.Sprintf("[%5.1fs] builds: %d queued, %d running, %d done · agent nodes in Jenkins: %d · Mesos tasks: %d",
			time.Since(disp.start).Seconds(), *jobs-len(results), running, len(results)-running, agentNodes(), tasksLeft(cluster)))
		done := len(results) == *jobs
		for _, r := range results {
			done = done && r.Result != ""
		}
		if done && (*keep || agentNodes() == 0 && tasksLeft(cluster) == 0) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: not finished after %s: %d of %d builds done, %d nodes and %d tasks left", *timeout, countDone(results), *jobs, agentNodes(), tasksLeft(cluster))
		}
	}
	disp.finish()
	ok := summary(stdout, results, queued, tracker, peaks, *jobs, clock, time.Duration(s.file.Jenkins.PollInterval))
	showSizing(stdout, s.file.HTTP.Listen)
	if *keep {
		fmt.Fprintf(stdout, "\nEverything keeps running (Ctrl-C stops it):\n  Mesos master   %s  (state: %s/master/state)\n  Jenkins        %s  user admin, API token %s\n  framework      http://%s/healthz\n  e.g. curl -u admin:%s %squeue/api/json\n",
			master, master, jk.URL(), token, s.file.HTTP.Listen, token, jk.URL())
		<-ctx.Done()
		return nil
	}
	if !ok {
		return errors.New("demo: not every build succeeded")
	}
	left := tasksLeft(cluster)
	fmt.Fprintf(stdout, "\nall %d builds succeeded; %d Jenkins nodes and %d Mesos tasks left; every agent's resources are free again\n", *jobs, agentNodes(), left)
	return nil
}

func tasksLeft(c *mesosemu.Cluster) int {
	n := 0
	for _, a := range c.Agents() {
		n += a.Tasks
	}
	return n
}

func countDone(rs map[string]buildResult) int {
	n := 0
	for _, r := range rs {
		if r.Result != "" {
			n++
		}
	}
	return n
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func demoSettings(master, jenkinsURL, token, stateDir string, clock *emutime.Clock) *settings {
	c := defaults()
	c.Jenkins.PollInterval = duration(demoPollInterval(time.Duration(c.Jenkins.PollInterval), clock))
	c.Mesos.Master = master
	c.Jenkins.URL = jenkinsURL
	c.Jenkins.User = "admin"
	c.State.Dir = stateDir
	c.HTTP.Listen = freeLocalAddr()
	c.Templates = []templateConfig{{Name: "mesos", Labels: "mesos", CPUs: 0.2, Mem: 30, Image: "jenkins/inbound-agent", Network: "host", MaxInstances: 20, Retention: "once",
		ConnectTimeout: duration(3 * time.Minute)}}
	c.Mesos.UsageInterval = duration(time.Second) // the agents live seconds here
	s := &settings{file: c, jenkinsToken: token}
	if err := s.validate(); err != nil {
		panic(err) // the demo's own settings are fixed
	}
	return s
}

// demoPollInterval is the default poll interval in emulated time: the
// framework's timers run in real time, so at ×20 a 1 s poll would be 20 s
// of the builds' time, and builds up to 20 s long could start and end
// unseen between two listings. It is floored at the 100 ms the
// configuration allows.
func demoPollInterval(poll time.Duration, clock *emutime.Clock) time.Duration {
	return max(clock.Real(poll), minPollInterval)
}

// showSizing prints the framework's SIZING table (what the agents really
// used, from the Mesos agents), as `jenkins-mesos status` does.
func showSizing(out io.Writer, listen string) {
	resp, err := http.Get("http://" + listen + "/status")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var st statusView
	if json.NewDecoder(resp.Body).Decode(&st) == nil {
		_ = st.printSizing(out)
	}
}

// display prints steps as they happen: timestamped lines; with colour on
// a terminal.
type display struct {
	mu     sync.Mutex
	out    io.Writer
	start  time.Time
	tty    bool
	status string
}

func newDisplay(out io.Writer) *display {
	return &display{out: out, start: time.Now(), tty: isTerminal(out)}
}

func (d *display) step(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	at := fmt.Sprintf("%6.2fs", time.Since(d.start).Seconds())
	if d.tty {
		// Clear the live status line, print the step, redraw the line.
		fmt.Fprintf(d.out, "\r\x1b[K\x1b[2m%s\x1b[0m  %s\n", at, fmt.Sprintf(format, args...))
		d.drawStatus()
		return
	}
	fmt.Fprintf(d.out, "%s  %s\n", at, fmt.Sprintf(format, args...))
}

// setStatus replaces the live line at the bottom of a terminal (nothing
// when piped: plain lines only).
func (d *display) setStatus(s string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.status = s
	if d.tty {
		d.drawStatus()
	}
}

func (d *display) drawStatus() {
	if d.status != "" {
		fmt.Fprintf(d.out, "\r\x1b[K\x1b[1m%s\x1b[0m", d.status)
	}
}

// finish ends the live line before the summary.
func (d *display) finish() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tty && d.status != "" {
		fmt.Fprint(d.out, "\r\x1b[K")
	}
	d.status = ""
}

// tracker follows the framework's notes: which node ran where.
type tracker struct {
	mu         sync.Mutex
	hostOf     map[string]string
	sawDemand  bool
	subscribed bool
}

func newTracker() *tracker { return &tracker{hostOf: map[string]string{}} }

func (t *tracker) demand(d *display, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n > 0 && !t.sawDemand && t.subscribed {
		t.sawDemand = true
		d.step("demand seen: %d builds wait for label mesos", n)
	}
}

func (t *tracker) ready(d *display, rd scheduler.Ready) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range rd.Notes {
		f := n.Fields
		switch n.Kind {
		case "subscribed":
			t.subscribed = true
			d.step("subscribed to Mesos as framework %s", f["framework_id"])
		case "node_create":
			d.step("node %s created in Jenkins for a waiting build", f["node"])
		case "launch":
			t.hostOf[f["node"]] = f["host"]
			d.step("offer %s matched: %s", f["offer_id"], n.Text)
		case "task_running":
			d.step("task %s running on %s", f["task_id"], t.hostOf[f["node"]])
		case "agent_online":
			d.step("agent %s online in Jenkins", f["node"])
		case "build_running":
			d.step("build running on %s", f["node"])
		case "build_done":
			d.step("build done on %s", f["node"])
		case "reclaimed":
			d.step("agent %s reclaimed: node deleted, task killed", f["node"])
		case "task_ended", "connect_timeout", "node_create_failed", "launch_failed":
			d.step("%s: %s", n.Kind, n.Text)
		}
	}
}

func (t *tracker) host(node string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hostOf[node]
}

// peaks samples /master/state for each agent's used resources.
type peaks struct {
	cpus, mem map[string]float64
	total     map[string][2]float64
}

func newPeaks() *peaks {
	return &peaks{cpus: map[string]float64{}, mem: map[string]float64{}, total: map[string][2]float64{}}
}

func (p *peaks) sample(master string) {
	resp, err := http.Get(master + "/master/state")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var st struct {
		Slaves []struct {
			Hostname  string             `json:"hostname"`
			Used      map[string]float64 `json:"used_resources"`
			Resources map[string]any     `json:"resources"`
		} `json:"slaves"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return
	}
	for _, s := range st.Slaves {
		p.cpus[s.Hostname] = max(p.cpus[s.Hostname], s.Used["cpus"])
		p.mem[s.Hostname] = max(p.mem[s.Hostname], s.Used["mem"])
		c, _ := s.Resources["cpus"].(float64)
		m, _ := s.Resources["mem"].(float64)
		p.total[s.Hostname] = [2]float64{c, m}
	}
}

type buildResult struct {
	Result    string `json:"result"`
	BuiltOn   string `json:"builtOn"`
	Timestamp int64  `json:"timestamp"`
	QueueID   int64  `json:"queueId"`
}

// jenkinsAPI is the demo's own little client of the emulated Jenkins (the
// demo plays the user who triggers builds).
type jenkinsAPI struct{ base, user, token string }

func (a *jenkinsAPI) post(path, contentType, body string) error {
	req, err := http.NewRequest(http.MethodPost, a.base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.SetBasicAuth(a.user, a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return nil
}

func (a *jenkinsAPI) get(path string, v any) error {
	req, _ := http.NewRequest(http.MethodGet, a.base+path, nil)
	req.SetBasicAuth(a.user, a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (a *jenkinsAPI) builds(jobs int) map[string]buildResult {
	out := map[string]buildResult{}
	for i := 1; i <= jobs; i++ {
		name := fmt.Sprintf("sleep-%d", i)
		var b buildResult
		if a.get("/job/"+name+"/1/api/json", &b) == nil {
			out[name] = b
		}
	}
	return out
}

// trigger queues a build and reads when its item entered the queue.
func (a *jenkinsAPI) trigger(job string) (id, inQueueSince int64, err error) {
	req, _ := http.NewRequest(http.MethodPost, a.base+"/job/"+job+"/build?delay=0sec", nil)
	req.SetBasicAuth(a.user, a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || loc == "" {
		return 0, 0, fmt.Errorf("%s", resp.Status)
	}
	if _, err := fmt.Sscanf(loc[strings.Index(loc, "/queue/item/"):], "/queue/item/%d/", &id); err != nil {
		return 0, 0, fmt.Errorf("queue item location %q: %w", loc, err)
	}
	var it struct {
		InQueueSince int64 `json:"inQueueSince"`
	}
	if err := a.get(fmt.Sprintf("/queue/item/%d/api/json", id), &it); err != nil {
		return 0, 0, err
	}
	return id, it.InQueueSince, nil
}

func summary(out io.Writer, results map[string]buildResult, queued map[int64]int64, t *tracker, p *peaks, jobs int, clock *emutime.Clock, poll time.Duration) bool {
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "BUILD\tQUEUED→STARTED\tAGENT\tHOST\tRESULT")
	ok := true
	names := make([]string, 0, len(results))
	for n := range results {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return len(names[i]) < len(names[j]) || len(names[i]) == len(names[j]) && names[i] < names[j]
	})
	for _, n := range names {
		r := results[n]
		ok = ok && r.Result == "SUCCESS"
		latency := "-"
		if r.Timestamp > 0 {
			if since := queued[r.QueueID]; since > 0 {
				latency = clock.Real(time.Duration(r.Timestamp-since) * time.Millisecond).Round(10 * time.Millisecond).String()
			}
		}
		fmt.Fprintf(w, "%s #1\t%s\t%s\t%s\t%s\n", n, latency, r.BuiltOn, t.host(r.BuiltOn), r.Result)
	}
	w.Flush()
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "HOST\tPEAK CPUS USED\tPEAK MEM USED (MB)\tAGENTS\tBUILDS")
	hosts := make([]string, 0, len(p.total))
	for h := range p.total {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	buildsOf := map[string][]string{} // agent → its builds, in the table's order
	for _, n := range names {
		if a := results[n].BuiltOn; a != "" {
			buildsOf[a] = append(buildsOf[a], n)
		}
	}
	agentsOn, buildsOn := map[string]int{}, map[string]int{} // per host
	for a, bs := range buildsOf {
		agentsOn[t.host(a)]++
		buildsOn[t.host(a)] += len(bs)
	}
	for _, h := range hosts {
		fmt.Fprintf(w, "%s\t%g of %g\t%g of %g\t%d\t%d\n", h, p.cpus[h], p.total[h][0], p.mem[h], p.total[h][1], agentsOn[h], buildsOn[h])
	}
	w.Flush()
	reusedNote(out, buildsOf, poll, clock)
	if len(results) < jobs {
		ok = false
	}
	return ok
}

// reusedNote explains one-shot agents that ran more than one build: a
// build that starts and ends between two node listings is never seen, so
// its agent is not marked offline after it and Jenkins may give it the
// next waiting build (docs/operations.md).
func reusedNote(out io.Writer, buildsOf map[string][]string, poll time.Duration, clock *emutime.Clock) {
	var agents []string
	for a, bs := range buildsOf {
		if len(bs) > 1 {
			agents = append(agents, a)
		}
	}
	if len(agents) == 0 {
		return
	}
	sort.Strings(agents)
	what := fmt.Sprintf("%d one-shot agents", len(agents))
	if len(agents) == 1 {
		what = "1 one-shot agent"
	}
	fmt.Fprintf(out, "\nnote: %s ran more than one build:\n", what)
	for _, a := range agents {
		fmt.Fprintf(out, "  %s: %s\n", a, strings.Join(buildsOf[a], ", "))
	}
	emulated := clock.Emulated(poll).Round(time.Millisecond)
	fmt.Fprintf(out, "A build shorter than the poll interval (%s, %s of emulated time) can start and end\n"+
		"between two node listings: the framework never sees its agent busy, so Jenkins may give\n"+
		"that agent the next waiting build (docs/operations.md, \"A build shorter than the poll\n"+
		"interval\"). A longer --sleep avoids it.\n", poll, emulated)
}

// freeLocalAddr picks a loopback port for the framework's /healthz, so
// that --keep can print it.
func freeLocalAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return l.Addr().String()
}

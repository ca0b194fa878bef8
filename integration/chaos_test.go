package integration

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/integration/zktest"
)

// The chaos suite: a load of builds while faults hit every part of the
// system, then a check that nothing was lost, run twice, or left behind.
// Each run prints its seed; CHAOS_SEED=N replays the same faults in the
// same order at the same moments (the systems' own timing still varies).

type chaos struct {
	w      *world
	rng    *rand.Rand
	agents int // agents added so far (the emulator names them agentN)
}

func (c *chaos) post(base, path string) {
	c.w.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, nil)
	if strings.HasPrefix(base, c.w.jenkins) {
		req.SetBasicAuth("admin", c.w.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.w.t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		c.w.t.Fatalf("POST %s: %d", path, resp.StatusCode)
	}
}

func (c *chaos) frameworkID() string {
	ids := subscribedAs.FindAllStringSubmatch(c.w.framework.output(), -1)
	if len(ids) == 0 {
		return ""
	}
	return ids[len(ids)-1][1]
}

// faults, by name: each does one thing to the world.
func (c *chaos) faults() map[string]func() {
	w := c.w
	return map[string]func(){
		"kill -9 and restart the framework": func() {
			_ = w.framework.cmd.Process.Kill()
			_ = w.framework.cmd.Wait()
			time.Sleep(time.Duration(200+c.rng.IntN(1000)) * time.Millisecond)
			w.restartFramework()
		},
		"fail the leading master over": func() { c.post(w.mesos, "/emulator/failover") },
		"restart Jenkins":              func() { c.post(w.jenkins, "emulator/restart?seconds=20") },
		"lose an agent (and add one)": func() {
			c.agents++
			c.post(w.mesos, fmt.Sprintf("/emulator/agents/agent%d/remove", c.agents))
			c.post(w.mesos, "/emulator/agents")
		},
		"partition an agent, then restore it": func() {
			host := fmt.Sprintf("agent%d", c.agents+1+c.rng.IntN(2))
			c.post(w.mesos, "/emulator/agents/"+host+"/partition")
			time.Sleep(time.Duration(500+c.rng.IntN(1500)) * time.Millisecond)
			c.post(w.mesos, "/emulator/agents/"+host+"/restore")
		},
		"drop the event stream": func() {
			if id := c.frameworkID(); id != "" {
				resp, err := http.Post(w.mesos+"/emulator/frameworks/"+id+"/drop", "", nil)
				if err == nil {
					resp.Body.Close() // 400 when not subscribed at this moment: fine
				}
			}
		},
		"fail the next 3 image pulls": func() { c.post(w.mesos, "/emulator/images/fail?image=jenkins/inbound-agent&count=3") },
	}
}

type jobResult struct {
	NextBuildNumber int `json:"nextBuildNumber"`
	Builds          []struct {
		Number   int    `json:"number"`
		Result   string `json:"result"`
		Building bool   `json:"building"`
	} `json:"builds"`
	InQueue bool `json:"inQueue"`
}

func (w *world) job(name string) jobResult {
	var j jobResult
	_, body := w.jenkinsDo("GET", "job/"+name+"/api/json?tree=nextBuildNumber,inQueue,builds[number,result,building]", "", "")
	_ = json.Unmarshal(body, &j)
	return j
}

// settled: every job's build has ended and nothing waits.
func (w *world) settled(jobs []string) bool {
	for _, name := range jobs {
		j := w.job(name)
		if j.InQueue || len(j.Builds) == 0 || j.Builds[0].Building {
			return false
		}
	}
	return true
}

// leftovers lists what a healed system must not have: a build run twice
// or ending otherwise than Jenkins ends it, a node, a task, held
// resources, more than one framework.
func (w *world) leftovers(jobs []string, jenkinsRestarted bool) []string {
	var out []string
	results := map[string]int{}
	for _, name := range jobs {
		j := w.job(name)
		if len(j.Builds) != 1 || j.NextBuildNumber != 2 {
			out = append(out, fmt.Sprintf("%s: %d builds (next number %d); want exactly one", name, len(j.Builds), j.NextBuildNumber))
			continue
		}
		r := j.Builds[0].Result
		results[r]++
		switch r {
		case "SUCCESS":
		case "FAILURE":
			// Only as Jenkins fails a build whose agent vanished (the agent
			// lost with its Mesos agent, the channel cut).
			_, console := w.jenkinsDo("GET", "job/"+name+"/1/consoleText", "", "")
			if !strings.Contains(string(console), "FATAL: command execution failed") {
				out = append(out, fmt.Sprintf("%s: FAILURE without a vanished agent:\n%s", name, console))
			}
		case "ABORTED":
			// Only a Jenkins restart aborts a build here.
			if !jenkinsRestarted {
				out = append(out, name+": ABORTED, and Jenkins did not restart")
			}
		default:
			out = append(out, fmt.Sprintf("%s: result %q", name, r))
		}
	}
	w.t.Logf("results: %v", results)
	if n := w.nodes(); len(n) > 0 {
		out = append(out, fmt.Sprintf("%d Jenkins nodes left: %v", len(n), n))
	}
	st := w.state()
	live := 0
	for _, f := range st.Frameworks {
		live += len(f.Tasks)
	}
	if live > 0 {
		out = append(out, fmt.Sprintf("%d tasks left", live))
	}
	for _, s := range st.Slaves {
		if s.Used["cpus"] > 1e-9 || s.Used["mem"] > 1e-9 {
			out = append(out, fmt.Sprintf("agent %s holds %v", s.Hostname, s.Used))
		}
	}
	if len(st.Frameworks) > 1 {
		out = append(out, fmt.Sprintf("%d frameworks registered", len(st.Frameworks)))
	}
	return out
}

func chaosSeed(t *testing.T) uint64 {
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED %q: expected a whole number", s)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// TestChaos: 200 builds; meanwhile, every fault at least once, in an
// order and at moments drawn from the seed: kill -9 and restart of the
// framework, master failover through a real ZooKeeper with 3 masters,
// Jenkins restart, an agent lost, an agent partitioned and restored, the
// event stream dropped, image pulls failing. Then every build ran exactly
// once (or failed as Jenkins fails a build whose agent vanished), and no
// node, task or held resource is left, and one framework is registered.
func TestChaos(t *testing.T) {
	seed := chaosSeed(t)
	t.Logf("chaos seed %d (replay: CHAOS_SEED=%d go test ./integration -run TestChaos -v)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	// Two pull faults drawn close together fail 6 launches in a row and
	// open the breaker (threshold 5): it must then close by itself, by its
	// probe after the cooldown, within the wait for the builds below, so
	// the cooldown is 20 s rather than the default 5 m.
	w := newWorld(t, worldOpts{agents: 3, zk: zktest.Start(t), jenkinsHome: true, logLevel: "info",
		resources: "cpus:4;mem:8192;disk:20000;ports:[31000-32000]", limits: "  breaker_cooldown: 20s\n"})
	c := &chaos{w: w, rng: rng, agents: 0}
	jobs := make([]string, 200)
	for i := range jobs {
		jobs[i] = fmt.Sprintf("c-%03d", i+1)
		w.freestyle(jobs[i], "mesos", 40+rng.IntN(60)) // 2–5 s at time scale 20
	}
	for _, j := range jobs {
		w.build(j)
	}
	faults := c.faults()
	names := make([]string, 0, len(faults))
	for n := range faults {
		names = append(names, n)
	}
	sort.Strings(names)
	rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	names = append(names, names[rng.IntN(len(names))], names[rng.IntN(len(names))]) // and two more
	for _, n := range names {
		time.Sleep(time.Duration(1000+rng.IntN(2000)) * time.Millisecond)
		t.Logf("fault: %s", n)
		faults[n]()
	}
	w.waitFor("every build to end (seed "+strconv.FormatUint(seed, 10)+")", 240*time.Second, func() bool { return w.settled(jobs) })
	var left []string
	restarted := false
	for _, n := range names {
		restarted = restarted || n == "restart Jenkins"
	}
	// Orphans are given up after the grace (60 s) that covers launches in
	// flight at a kill -9.
	for deadline := time.Now().Add(150 * time.Second); ; time.Sleep(time.Second) {
		if left = w.leftovers(jobs, restarted); len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("seed %d: after the faults:\n  %s", seed, strings.Join(left, "\n  "))
		}
	}
}

// TestChaosCatchesAFrameworkThatForgetsToDeleteNodes: the same end check
// on a framework built to forget node deletions (-tags chaos_broken)
// must fail, and say what is left.
func TestChaosCatchesAFrameworkThatForgetsToDeleteNodes(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("go", "build", "-tags", "chaos_broken", "-o", dir+"/", "../cmd/jenkins-mesos").CombinedOutput(); err != nil {
		t.Fatalf("building the broken framework: %v\n%s", err, out)
	}
	w := newWorld(t, worldOpts{frameworkBin: filepath.Join(dir, "jenkins-mesos"), logLevel: "info"})
	jobs := []string{"b-1", "b-2", "b-3"}
	for _, j := range jobs {
		w.freestyle(j, "mesos", 20)
		w.build(j)
	}
	w.waitFor("every build to end", 90*time.Second, func() bool { return w.settled(jobs) })
	time.Sleep(3 * time.Second) // the framework's polls that would have deleted the nodes
	left := w.leftovers(jobs, false)
	if len(left) == 0 || !strings.Contains(strings.Join(left, "\n"), "Jenkins nodes left") {
		t.Fatalf("the end check did not catch the nodes the broken framework left: %v", left)
	}
	t.Logf("caught: %v", left)
}

package driver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/executor"
	"github.com/jenkins-mesos/jenkins-mesos/integration/jenkinsemu"
	"github.com/jenkins-mesos/jenkins-mesos/integration/mesosemu"
	"github.com/jenkins-mesos/jenkins-mesos/integration/zktest"
	"github.com/jenkins-mesos/jenkins-mesos/jenkins"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/store"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
)

// The driver in-process against both emulators, under the race detector
// in `make test`: builds get agents, and a driver stopped mid-build (as
// SIGTERM stops it) leaves its agents running for the next one, which
// re-subscribes with the stored framework ID and adopts them.

type env struct {
	t        *testing.T
	cluster  *mesosemu.Cluster
	jk       *jenkinsemu.Jenkins
	stateDir string
}

func newEnv(t *testing.T) *env { return newEnvWith(t, mesosemu.Config{}) }

// newEnvWith starts both emulators; mc sets more of the Mesos cluster
// (masters, ZooKeeper).
func newEnvWith(t *testing.T, mc mesosemu.Config) *env {
	bin := filepath.Join(t.TempDir(), "jenkins-emulator")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/jenkins-emulator").CombinedOutput()
	require.NoError(t, err, string(out))
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	// A 1 s heartbeat: the master reports it as 1 s and the driver's
	// watchdog counts it in real time.
	mc.Agents, mc.TimeScale, mc.Heartbeat, mc.SandboxRoot, mc.Log = 2, 20, time.Second, t.TempDir(), quiet
	mc.Images = map[string][]string{"jenkins/inbound-agent": {bin, "agent"}}
	c, err := mesosemu.NewCluster(mc)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	j, err := jenkinsemu.New(jenkinsemu.Config{Listen: "127.0.0.1:0", User: "admin", Token: "tok", TimeScale: 20, Log: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { j.Close() })
	return &env{t: t, cluster: c, jk: j, stateDir: t.TempDir()}
}

func (e *env) post(path, ctype, body string) int {
	req, _ := http.NewRequest(http.MethodPost, e.jk.URL()+path, strings.NewReader(body))
	req.SetBasicAuth("admin", "tok")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	require.NoError(e.t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func (e *env) get(path string) string {
	req, _ := http.NewRequest(http.MethodGet, e.jk.URL()+path, nil)
	req.SetBasicAuth("admin", "tok")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// launches counts the tasks the framework launched, from its notes.
type launches struct {
	mu sync.Mutex
	n  int
}

func (e *env) driver(l *launches) (*Driver, context.CancelFunc, chan error) {
	return e.driverWith(l, nil)
}

// postJob creates a freestyle job labelled mesos and starts its build.
func (e *env) postJob(name string) int {
	if code := e.post("createItem?name="+name, "application/xml",
		"<project><assignedNode>mesos</assignedNode><canRoam>false</canRoam><builders><hudson.tasks.Shell><command>sleep 100</command></hudson.tasks.Shell></builders></project>"); code != 200 {
		return code
	}
	return e.post("job/"+name+"/build?delay=0sec", "", "")
}

// driverWith starts a driver; more, when set, changes its configuration.
func (e *env) driverWith(l *launches, more func(*Config)) (*Driver, context.CancelFunc, chan error) {
	leader, err := e.cluster.WaitLeader(context.Background())
	require.NoError(e.t, err)
	jc, err := jenkins.New(jenkins.Config{URL: e.jk.URL(), User: "admin", Token: "tok", DescriptionPrefix: scheduler.NodeDescriptionPrefix + "jenkins-mesos "})
	require.NoError(e.t, err)
	st, err := store.NewFile(e.stateDir)
	require.NoError(e.t, err)
	log := logrus.New()
	log.SetOutput(io.Discard)
	if os.Getenv("DRIVER_TEST_LOG") != "" {
		log.SetOutput(os.Stderr)
		log.SetLevel(logrus.DebugLevel)
	}
	cfg := Config{Masters: []string{leader}, User: "jenkins", Role: "*", FailoverTimeout: time.Hour, PollInterval: 200 * time.Millisecond, Log: log, Anchor: true,
		Core: scheduler.Config{FrameworkName: "jenkins-mesos", JenkinsURL: e.jk.URL(), ProvisionDuringQuietPeriod: true, OrphanGrace: 2 * time.Second,
			Templates: []scheduler.Template{{Name: "mesos", Labels: []string{"mesos"}, CPUs: 0.2, Mem: 30, WebSocket: true,
				Container: executor.Container{Image: "jenkins/inbound-agent"}, ConnectTimeout: time.Minute}}},
		OnReady: func(rd scheduler.Ready, _ time.Time) {
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, n := range rd.Notes {
				if n.Kind == "launch" {
					l.n++
				}
			}
		}}
	if more != nil {
		more(&cfg)
	}
	d := New(cfg, jc, st)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return d, cancel, done
}

func TestDriverRunsBuildsAndAStoppedDriverLeavesAgentsToTheNext(t *testing.T) {
	e := newEnv(t)
	for i := 1; i <= 3; i++ {
		require.Equal(t, 200, e.post(fmt.Sprintf("createItem?name=j%d", i), "application/xml",
			"<project><assignedNode>mesos</assignedNode><canRoam>false</canRoam><builders><hudson.tasks.Shell><command>sleep 100</command></hudson.tasks.Shell></builders></project>"))
	}
	var l launches
	d, stop, done := e.driver(&l)
	for i := 1; i <= 3; i++ {
		require.Equal(t, 201, e.post(fmt.Sprintf("job/j%d/build?delay=0sec", i), "", ""))
	}
	require.Eventually(t, func() bool {
		for i := 1; i <= 3; i++ {
			if !strings.Contains(e.get(fmt.Sprintf("job/j%d/1/api/json", i)), `"building":true`) {
				return false
			}
		}
		return true
	}, 60*time.Second, 50*time.Millisecond, "three builds running")
	ok, _ := d.Healthy()
	require.True(t, ok, "healthy while subscribed")
	stop() // SIGTERM: the framework is not torn down
	require.NoError(t, <-done)

	var l2 launches
	_, stop2, done2 := e.driver(&l2)
	defer func() { stop2(); <-done2 }()
	require.Eventually(t, func() bool {
		for i := 1; i <= 3; i++ {
			if !strings.Contains(e.get(fmt.Sprintf("job/j%d/1/api/json", i)), `"result":"SUCCESS"`) {
				return false
			}
		}
		return true
	}, 60*time.Second, 50*time.Millisecond, "the three builds to succeed across the restart")
	require.Eventually(t, func() bool {
		return !strings.Contains(e.get("computer/api/json?tree=computer[displayName]"), `"mesos-`)
	}, 30*time.Second, 50*time.Millisecond, "the adopted agents to be reclaimed")
	l.mu.Lock()
	l2.mu.Lock()
	defer l.mu.Unlock()
	defer l2.mu.Unlock()
	require.Equal(t, 3, l.n, "the first driver launched three agents")
	require.Equal(t, 0, l2.n, "the second adopted them instead of launching again")
}

// TestFrameworkRemovedStopsWithAMessage: once the master has removed the
// framework, the next instance stops with an explanation instead of
// re-subscribing in a loop.
func TestFrameworkRemovedStopsWithAMessage(t *testing.T) {
	e := newEnv(t)
	var l launches
	d, stop, done := e.driver(&l)
	require.Eventually(t, func() bool { ok, _ := d.Healthy(); return ok }, 30*time.Second, 20*time.Millisecond)
	stop()
	require.NoError(t, <-done)
	// Remove the framework with a TEARDOWN under its stored ID: the master
	// removes it as it does when its failover timeout expires.
	st, err := store.NewFile(e.stateDir)
	require.NoError(t, err)
	saved, err := st.Load()
	require.NoError(t, err)
	leader, _ := e.cluster.WaitLeader(context.Background())
	body := fmt.Sprintf(`{"type":"SUBSCRIBE","framework_id":{"value":%q},"subscribe":{"framework_info":{"user":"jenkins","name":"jenkins-mesos","id":{"value":%q},"failover_timeout":3600}}}`,
		saved.GetFrameworkId(), saved.GetFrameworkId())
	req, _ := http.NewRequest(http.MethodPost, leader+"/api/v1/scheduler", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	stream := resp.Header.Get("Mesos-Stream-Id")
	td, _ := http.NewRequest(http.MethodPost, leader+"/api/v1/scheduler", strings.NewReader(fmt.Sprintf(`{"type":"TEARDOWN","framework_id":{"value":%q}}`, saved.GetFrameworkId())))
	td.Header.Set("Content-Type", "application/json")
	td.Header.Set("Mesos-Stream-Id", stream)
	tr, err := http.DefaultClient.Do(td)
	require.NoError(t, err)
	tr.Body.Close()
	resp.Body.Close()
	require.Equal(t, 202, tr.StatusCode)

	_, stop2, done2 := e.driver(&l)
	defer stop2()
	select {
	case err := <-done2:
		require.ErrorIs(t, err, ErrFrameworkRemoved)
		require.Contains(t, err.Error(), "--new-framework="+saved.GetFrameworkId())
	case <-time.After(30 * time.Second):
		t.Fatal("the driver kept re-subscribing a removed framework")
	}
	// The operator follows the message: a new framework ID, builds run.
	require.Equal(t, 201, e.postJob("after-removal"))
	d3, stop3, done3 := e.driverWith(&l, func(c *Config) { c.ForgetFrameworkID = saved.GetFrameworkId() })
	defer func() { stop3(); <-done3 }()
	require.Eventually(t, func() bool {
		id := d3.Status().FrameworkID
		return id != "" && id != saved.GetFrameworkId()
	}, 30*time.Second, 20*time.Millisecond, "registered under a new framework ID")
	require.Eventually(t, func() bool { return strings.Contains(e.get("job/after-removal/1/api/json"), `"building":true`) }, 60*time.Second, 50*time.Millisecond)
	// The flag left in place forgets nothing more: the new ID is kept.
	now, err := st.Load()
	require.NoError(t, err)
	require.NotEqual(t, saved.GetFrameworkId(), now.GetFrameworkId())
}

// TestWatchdogResubscribesAfterFiveSilentHeartbeats: a stream that stays
// open but delivers nothing is ended after 5 heartbeat intervals and the
// driver subscribes again, with the same framework ID.
func TestWatchdogResubscribesAfterFiveSilentHeartbeats(t *testing.T) {
	e := newEnv(t)
	var l launches
	d, stop, done := e.driver(&l)
	defer func() { stop(); <-done }()
	require.Eventually(t, func() bool { ok, _ := d.Healthy(); return ok && d.Status().FrameworkID != "" }, 30*time.Second, 20*time.Millisecond)
	id := d.Status().FrameworkID
	require.NoError(t, e.cluster.StallFrameworkStream(id))
	stalledAt := time.Now()
	require.Eventually(t, func() bool { ok, _ := d.Healthy(); return !ok }, 10*time.Second, 20*time.Millisecond, "stale heartbeats make /healthz fail")
	require.Eventually(t, func() bool {
		ok, _ := d.Healthy()
		return ok && time.Since(stalledAt) > 5*time.Second
	}, 20*time.Second, 50*time.Millisecond, "re-subscribed after the watchdog fired")
	require.Equal(t, id, d.Status().FrameworkID, "the same framework ID")
}

// TestFollowsTheLeaderThroughZooKeeper: with mesos.master zk://…, the
// driver finds the leader in the masters' ZooKeeper group (a real
// ZooKeeper, three emulated masters) and follows it through a failover,
// keeping its framework ID.
func TestFollowsTheLeaderThroughZooKeeper(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real ZooKeeper")
	}
	addr := zktest.Start(t)
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	c, err := mesosemu.NewCluster(mesosemu.Config{Agents: 1, Masters: 3, ZK: "zk://" + addr + "/mesos", TimeScale: 20, Heartbeat: time.Second, SandboxRoot: t.TempDir(), Log: quiet})
	require.NoError(t, err)
	defer c.Close()
	j, err := jenkinsemu.New(jenkinsemu.Config{Listen: "127.0.0.1:0", User: "admin", Token: "tok", TimeScale: 20, Log: quiet})
	require.NoError(t, err)
	defer j.Close()
	jc, err := jenkins.New(jenkins.Config{URL: j.URL(), User: "admin", Token: "tok", DescriptionPrefix: scheduler.NodeDescriptionPrefix + "jenkins-mesos "})
	require.NoError(t, err)
	st, err := store.NewFile(t.TempDir())
	require.NoError(t, err)
	var mu sync.Mutex
	subscriptions := 0
	cfg := Config{Masters: []string{"zk://" + addr + "/mesos"}, User: "jenkins", Role: "*", FailoverTimeout: time.Hour, Log: quiet,
		Core: scheduler.Config{FrameworkName: "jenkins-mesos", JenkinsURL: j.URL(),
			Templates: []scheduler.Template{{Name: "mesos", Labels: []string{"mesos"}, CPUs: 0.2, Mem: 30, Container: executor.Container{Image: "jenkins/inbound-agent"}}}},
		OnReady: func(rd scheduler.Ready, _ time.Time) {
			mu.Lock()
			defer mu.Unlock()
			for _, n := range rd.Notes {
				if n.Kind == "subscribed" {
					subscriptions++
				}
			}
		}}
	d := New(cfg, jc, st)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool { ok, _ := d.Healthy(); return ok && d.Status().FrameworkID != "" }, 30*time.Second, 20*time.Millisecond, "subscribed to the leader found in ZooKeeper")
	id := d.Status().FrameworkID
	require.NoError(t, c.FailoverMaster())
	require.Eventually(t, func() bool {
		mu.Lock()
		n := subscriptions
		mu.Unlock()
		ok, _ := d.Healthy()
		return ok && n >= 2
	}, 60*time.Second, 50*time.Millisecond, "re-subscribed to the new leader")
	require.Equal(t, id, d.Status().FrameworkID, "the same framework ID after the failover")
}

// TestJenkinsRestartMidBuild: Jenkins restarts while builds run (503s
// meanwhile, builds cut off as ABORTED, agents reconnect); the framework
// stays up, deletes nothing because Jenkins did not answer, reclaims the
// agents once their builds have ended, and serves new builds.
func TestJenkinsRestartMidBuild(t *testing.T) {
	e := newEnv(t)
	for _, job := range []string{"long1", "long2", "after"} {
		require.Equal(t, 200, e.post("createItem?name="+job, "application/xml",
			"<project><assignedNode>mesos</assignedNode><canRoam>false</canRoam><builders><hudson.tasks.Shell><command>sleep 100</command></hudson.tasks.Shell></builders></project>"))
	}
	var l launches
	_, stop, done := e.driver(&l)
	defer func() { stop(); <-done }()
	require.Equal(t, 201, e.post("job/long1/build?delay=0sec", "", ""))
	require.Equal(t, 201, e.post("job/long2/build?delay=0sec", "", ""))
	require.Eventually(t, func() bool {
		return strings.Count(e.get("computer/api/json?tree=computer[displayName,temporarilyOffline]"), `"temporarilyOffline":true`) == 2
	}, 60*time.Second, 50*time.Millisecond, "two builds running, their one-shot agents retiring")
	e.jk.Restart(20 * time.Second) // one real second of 503s at scale 20
	require.Eventually(t, func() bool {
		return strings.Contains(e.get("job/long1/1/api/json"), `"result":"ABORTED"`) && strings.Contains(e.get("job/long2/1/api/json"), `"result":"ABORTED"`)
	}, 30*time.Second, 50*time.Millisecond, "the cut builds recorded as Jenkins records them")
	require.Eventually(t, func() bool {
		return !strings.Contains(e.get("computer/api/json?tree=computer[displayName]"), `"mesos-`) && tasksOf(e.cluster) == 0
	}, 60*time.Second, 50*time.Millisecond, "the agents whose builds ended reclaimed: no node, no task left")
	require.Equal(t, 201, e.post("job/after/build?delay=0sec", "", ""))
	require.Eventually(t, func() bool { return strings.Contains(e.get("job/after/1/api/json"), `"building":true`) },
		60*time.Second, 50*time.Millisecond, "a new build gets an agent after the restart")
}

func tasksOf(c *mesosemu.Cluster) int {
	n := 0
	for _, a := range c.Agents() {
		n += a.Tasks
	}
	return n
}

// countingProxy stands in front of a master and counts the scheduler
// calls that reach it.
func countingProxy(t *testing.T, target string) (string, *atomic.Int64) {
	u, err := url.Parse(target)
	require.NoError(t, err)
	var n atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/scheduler") {
			n.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

// TestMasterListCallsGoToTheLeader: mesos.master lists three masters,
// the leader last. The standbys answer with a 307 to the leader; every
// scheduler call (SUBSCRIBE, ACCEPT, ACKNOWLEDGE, KILL, ...) goes to the
// leader, none to a standby, while builds run to the end.
func TestMasterListCallsGoToTheLeader(t *testing.T) {
	e := newEnvWith(t, mesosemu.Config{Masters: 3})
	leader, err := e.cluster.WaitLeader(context.Background())
	require.NoError(t, err)
	var list []string
	var standbyCalls []*atomic.Int64
	for _, m := range e.cluster.Masters() {
		if m == leader {
			continue
		}
		p, n := countingProxy(t, m)
		list = append(list, p)
		standbyCalls = append(standbyCalls, n)
	}
	list = append(list, leader)
	require.Equal(t, 201, e.postJob("a"))
	var l launches
	d, stop, done := e.driverWith(&l, func(c *Config) { c.Masters = list })
	defer func() { stop(); <-done }()
	require.Eventually(t, func() bool { return strings.Contains(e.get("job/a/1/api/json"), `"result":"SUCCESS"`) }, 60*time.Second, 50*time.Millisecond, "the build ran")
	require.Eventually(t, func() bool { return tasksOf(e.cluster) == 0 }, 30*time.Second, 50*time.Millisecond, "its agent reclaimed")
	ok, _ := d.Healthy()
	require.True(t, ok)
	for i, n := range standbyCalls {
		require.Zero(t, n.Load(), "scheduler calls that reached standby %d", i)
	}
}

// TestZooKeeperFailoverKeepsRunningTasks: three masters in a real
// ZooKeeper; the leader fails while a build runs. The framework follows
// the new leader, the running task survives, nothing is launched twice,
// and the build succeeds.
func TestZooKeeperFailoverKeepsRunningTasks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real ZooKeeper")
	}
	addr := zktest.Start(t)
	e := newEnvWith(t, mesosemu.Config{Masters: 3, ZK: "zk://" + addr + "/mesos"})
	require.Equal(t, 201, e.postJob("a"))
	var l launches
	d, stop, done := e.driverWith(&l, func(c *Config) { c.Masters = []string{"zk://" + addr + "/mesos"} })
	defer func() { stop(); <-done }()
	require.Eventually(t, func() bool { return strings.Contains(e.get("job/a/1/api/json"), `"building":true`) }, 60*time.Second, 50*time.Millisecond, "the build running")
	id := d.Status().FrameworkID
	require.NoError(t, e.cluster.FailoverMaster())
	require.Eventually(t, func() bool {
		ok, _ := d.Healthy()
		return ok && d.Status().FrameworkID == id && e.cluster.Leader() != ""
	},
		60*time.Second, 50*time.Millisecond, "re-subscribed to the new leader with the same ID")
	require.Eventually(t, func() bool { return strings.Contains(e.get("job/a/1/api/json"), `"result":"SUCCESS"`) }, 60*time.Second, 50*time.Millisecond, "the build survived the failover")
	l.mu.Lock()
	n := l.n
	l.mu.Unlock()
	require.Equal(t, 1, n, "launches: the running task was kept, not launched again")
}

// TestRedirectedSubscribeIsFollowedAndRemembered: the only configured
// master thinks it leads (its /master/redirect names itself) but answers
// the SUBSCRIBE with a 307 to the real leader, as a master that just lost
// the leadership does. The driver follows it and sends every later call
// to the leader, none to the stale master.
func TestRedirectedSubscribeIsFollowedAndRemembered(t *testing.T) {
	e := newEnv(t)
	leader, err := e.cluster.WaitLeader(context.Background())
	require.NoError(t, err)
	var stale *httptest.Server
	var calls atomic.Int64
	stale = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/master/redirect":
			w.Header().Set("Location", "//"+strings.TrimPrefix(stale.URL, "http://"))
		case strings.HasPrefix(r.URL.Path, "/api/v1/scheduler"):
			calls.Add(1)
			w.Header().Set("Location", leader+r.URL.Path)
		}
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer stale.Close()
	require.Equal(t, 201, e.postJob("r"))
	var l launches
	d, stop, done := e.driverWith(&l, func(c *Config) { c.Masters = []string{stale.URL} })
	defer func() { stop(); <-done }()
	require.Eventually(t, func() bool { return strings.Contains(e.get("job/r/1/api/json"), `"result":"SUCCESS"`) }, 60*time.Second, 50*time.Millisecond, "the build ran")
	ok, why := d.Healthy()
	require.True(t, ok, why)
	require.Equal(t, int64(1), calls.Load(), "scheduler calls that reached the stale master: only the first SUBSCRIBE")
}

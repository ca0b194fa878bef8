package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/executor"
	"github.com/jenkins-mesos/jenkins-mesos/integration/jenkinsemu"
	"github.com/jenkins-mesos/jenkins-mesos/integration/mesosemu"
	"github.com/jenkins-mesos/jenkins-mesos/jenkins"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/driver"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/store"
	"github.com/sirupsen/logrus"
)

// injectedJenkins is demand injected straight into the driver: a queue of
// n builds labelled mesos and node operations that succeed at once, so
// the benchmark measures the Mesos side.
type injectedJenkins struct {
	items []jenkins.Item
}

func (j *injectedJenkins) Queue(context.Context) ([]jenkins.Item, error) { return j.items, nil }
func (j *injectedJenkins) Nodes(context.Context) ([]jenkins.Node, error) { return nil, nil }
func (j *injectedJenkins) CreateNode(_ context.Context, s jenkins.NodeSpec) (string, error) {
	return "secret-" + s.Name, nil
}
func (j *injectedJenkins) RetireNode(context.Context, string, string) error { return nil }
func (j *injectedJenkins) DeleteNode(context.Context, string) error         { return nil }
func (j *injectedJenkins) EnsureAnchor(context.Context) error               { return nil }

// BenchmarkDriverPlacements: the driver against the emulated master with
// 1,000 agents (4 CPUs each) and 10,000 slices of 0.2 CPU wanted; tasks
// stay in staging (an hour's executor start delay) so only placement is
// measured. Reports the rate within the largest OFFERS event (from its
// arrival to its Ready's ACCEPTs all sent), from the first OFFERS event
// that placed anything to the 10,000th placement's ACCEPT (allocation
// intervals included when placements span events), and from the driver's
// start (subscription and node creation included).
func BenchmarkDriverPlacements(b *testing.B) {
	for i := 0; i < b.N; i++ {
		quiet := logrus.New()
		quiet.SetOutput(io.Discard)
		c, err := mesosemu.NewCluster(mesosemu.Config{Agents: 1000, TimeScale: 1, ExecutorStartDelay: time.Hour, SandboxRoot: b.TempDir(), Log: quiet,
			Images: map[string][]string{"jenkins/inbound-agent": {"/bin/true"}}})
		if err != nil {
			b.Fatal(err)
		}
		leader, err := c.WaitLeader(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		items := make([]jenkins.Item, 10000)
		for k := range items {
			items[k] = jenkins.Item{ID: int64(k + 1), Name: "job", Label: "mesos"}
		}
		st, _ := store.NewFile(b.TempDir())
		var mu sync.Mutex
		var first, last, lastOffers time.Time
		bestRate := 0.0
		start := time.Now()
		launched := 0
		done := make(chan struct{})
		cfg := driver.Config{Masters: []string{leader}, User: "jenkins", Role: "*", FailoverTimeout: time.Hour, PollInterval: time.Second, Log: quiet,
			Core: scheduler.Config{FrameworkName: "bench", JenkinsURL: "http://jenkins/", Strategy: 1, // binpack: ≥ 50,000 placements/s is the packing goal
				Templates: []scheduler.Template{{Name: "mesos", Labels: []string{"mesos"}, CPUs: 0.2, Mem: 30, Container: executor.Container{Image: "jenkins/inbound-agent"}, ConnectTimeout: time.Hour}}},
			OnEvent: func(ev scheduler.Event) {
				if o, ok := ev.(scheduler.Offers); ok && len(o.Offers) > 0 {
					mu.Lock()
					lastOffers = time.Now()
					mu.Unlock()
				}
			},
			OnReady: func(rd scheduler.Ready, _ time.Time) {
				mu.Lock()
				defer mu.Unlock()
				k := 0
				for _, n := range rd.Notes {
					if n.Kind == "launch" {
						k++
					}
				}
				if k > 0 {
					// This Ready's ACCEPTs have been sent: its placements
					// took from the OFFERS event's arrival until now.
					if rate := float64(k) / time.Since(lastOffers).Seconds(); k >= 1000 && rate > bestRate {
						bestRate = rate
					}
					if testing.Verbose() {
						b.Logf("%s: %d launches in one Ready (%d calls), %s after its OFFERS event", time.Since(start).Round(time.Millisecond), k, len(rd.Calls), time.Since(lastOffers).Round(time.Millisecond))
					}
				}
				for _, n := range rd.Notes {
					if n.Kind == "launch" {
						if launched == 0 {
							first = lastOffers // the OFFERS event these placements come from
						}
						launched++
						if launched == 10000 {
							last = time.Now()
							close(done)
						}
					}
				}
			}}
		d := driver.New(cfg, &injectedJenkins{items: items}, st)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- d.Run(ctx) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			mu.Lock()
			n := launched
			mu.Unlock()
			b.Fatalf("only %d placements in a minute; core %+v", n, d.Status())
		}
		cancel()
		<-errc
		c.Close()
		b.ReportMetric(bestRate, "placements/s-in-one-event")
		b.ReportMetric(10000/last.Sub(first).Seconds(), "placements/s")
		b.ReportMetric(10000/last.Sub(start).Seconds(), "placements/s-from-start")
	}
}

// latencyWorld is the emulators at time scale 1 (5 agents), a Jenkins
// with n freestyle jobs l0…l(n-1) labelled mesos running `sleep <sleep>`,
// and the driver with one template, polling every second.
type latencyWorld struct {
	b        *testing.B
	jenkins  string
	mu       sync.Mutex
	launches []time.Time
	stop     func()
}

func newLatencyWorld(b *testing.B, jobs int, sleep string, tmpl scheduler.Template) *latencyWorld {
	bin := binaries(b)
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	c, err := mesosemu.NewCluster(mesosemu.Config{Agents: 5, TimeScale: 1, SandboxRoot: b.TempDir(), Log: quiet,
		Images: map[string][]string{"jenkins/inbound-agent": {bin + "/jenkins-emulator", "agent"}}})
	if err != nil {
		b.Fatal(err)
	}
	jk, err := jenkinsemu.New(jenkinsemu.Config{Listen: "127.0.0.1:0", User: "admin", Token: "tok", TimeScale: 1, Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	w := &latencyWorld{b: b, jenkins: jk.URL()}
	leader, _ := c.WaitLeader(context.Background())
	jc, _ := jenkins.New(jenkins.Config{URL: jk.URL(), User: "admin", Token: "tok", DescriptionPrefix: scheduler.NodeDescriptionPrefix + "bench "})
	st, _ := store.NewFile(b.TempDir())
	for k := 0; k < jobs; k++ {
		w.post(fmt.Sprintf("createItem?name=l%d", k), "application/xml", "<project><assignedNode>mesos</assignedNode><canRoam>false</canRoam><builders><hudson.tasks.Shell><command>sleep "+sleep+"</command></hudson.tasks.Shell></builders></project>")
	}
	flog := quiet
	if p := os.Getenv("BENCH_LOG"); p != "" {
		flog = logrus.New()
		f, _ := os.Create(p)
		flog.SetOutput(f)
		flog.SetLevel(logrus.DebugLevel)
		flog.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "15:04:05.000"})
	}
	cfg := driver.Config{Masters: []string{leader}, User: "jenkins", Role: "*", FailoverTimeout: time.Hour, PollInterval: time.Second, Log: flog, Anchor: true,
		Core: scheduler.Config{FrameworkName: "bench", JenkinsURL: jk.URL(), ProvisionDuringQuietPeriod: true, Templates: []scheduler.Template{tmpl}},
		OnReady: func(rd scheduler.Ready, _ time.Time) {
			w.mu.Lock()
			defer w.mu.Unlock()
			for _, n := range rd.Notes {
				if n.Kind == "launch" {
					w.launches = append(w.launches, time.Now())
				}
			}
		}}
	d := driver.New(cfg, jc, st)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	for ok, _ := d.Healthy(); !ok; ok, _ = d.Healthy() {
		time.Sleep(20 * time.Millisecond)
	}
	w.stop = func() {
		cancel()
		<-errc
		jk.Close()
		c.Close()
	}
	return w
}

func (w *latencyWorld) post(path, ctype, body string) {
	req, _ := http.NewRequest(http.MethodPost, w.jenkins+path, strings.NewReader(body))
	req.SetBasicAuth("admin", "tok")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		w.b.Fatal(err)
	}
	resp.Body.Close()
}

// started is when build 1 of job lk started (Jenkins' own timestamp), if
// it has.
func (w *latencyWorld) started(k int) (time.Time, bool) {
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%sjob/l%d/1/api/json?tree=timestamp,building", w.jenkins, k), nil)
	req.SetBasicAuth("admin", "tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return time.Time{}, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return time.Time{}, false
	}
	var bj struct{ Timestamp int64 }
	_ = json.NewDecoder(resp.Body).Decode(&bj)
	return time.UnixMilli(bj.Timestamp), true
}

func (w *latencyWorld) done(k int) bool {
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%sjob/l%d/1/api/json?tree=result", w.jenkins, k), nil)
	req.SetBasicAuth("admin", "tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var bj struct{ Result string }
	_ = json.NewDecoder(resp.Body).Decode(&bj)
	return bj.Result != ""
}

// BenchmarkBuildLatency: 100 concurrent builds (freestyle, label mesos,
// no quiet period) on the emulators at time scale 1 with a 1 s poll;
// reports queued→launched (from the build being queued to its agent's
// ACCEPT) and queued→started (Jenkins' own timestamps) p50 and p99.
func BenchmarkBuildLatency(b *testing.B) {
	for i := 0; i < b.N; i++ {
		w := newLatencyWorld(b, 100, "5", scheduler.Template{Name: "mesos", Labels: []string{"mesos"}, CPUs: 0.2, Mem: 30, WebSocket: true,
			Container: executor.Container{Image: "jenkins/inbound-agent"}})
		time.Sleep(1500 * time.Millisecond) // the anchor node and a quiet poll
		queued := time.Now()
		for k := 0; k < 100; k++ {
			w.post(fmt.Sprintf("job/l%d/build?delay=0sec", k), "", "")
		}
		started := map[int]float64{}
		deadline := time.Now().Add(2 * time.Minute)
		for len(started) < 100 && time.Now().Before(deadline) {
			for k := 0; k < 100; k++ {
				if _, ok := started[k]; ok {
					continue
				}
				if at, ok := w.started(k); ok {
					started[k] = at.Sub(queued).Seconds()
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		w.stop()
		if len(started) < 100 {
			b.Fatalf("only %d of 100 builds started", len(started))
		}
		w.mu.Lock()
		var launched, starts []float64
		for _, t := range w.launches {
			launched = append(launched, t.Sub(queued).Seconds())
		}
		w.mu.Unlock()
		for _, s := range started {
			starts = append(starts, s)
		}
		sort.Float64s(launched)
		sort.Float64s(starts)
		if len(launched) < 100 {
			b.Fatalf("only %d launches", len(launched))
		}
		b.ReportMetric(launched[49], "launched-p50-s")
		b.ReportMetric(launched[98], "launched-p99-s")
		b.ReportMetric(starts[49], "started-p50-s")
		b.ReportMetric(starts[98], "started-p99-s")
	}
}

// BenchmarkWarmPoolLatency: builds queued one at a time (the next once
// the last is done), 10 in all, on the emulators at time scale 1, with
// and without a warm pool (min_idle 1, one-shot agents); reports
// queued→started (Jenkins' own timestamps) p50 and max. Without the pool
// every build waits for a node, an offer, a container and a connection;
// with it, for Jenkins to assign it to the agent already online.
func BenchmarkWarmPoolLatency(b *testing.B) {
	for _, pool := range []int{0, 1} {
		b.Run(fmt.Sprintf("min_idle=%d", pool), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				const builds = 10
				w := newLatencyWorld(b, builds, "1", scheduler.Template{Name: "mesos", Labels: []string{"mesos"}, CPUs: 0.2, Mem: 30, WebSocket: true,
					MinIdle: pool, ConnectTimeout: time.Minute, Container: executor.Container{Image: "jenkins/inbound-agent"}})
				time.Sleep(3 * time.Second) // the anchor, a quiet poll, and the pool's agent online
				var lat []float64
				for k := 0; k < builds; k++ {
					queued := time.Now()
					w.post(fmt.Sprintf("job/l%d/build?delay=0sec", k), "", "")
					deadline := time.Now().Add(time.Minute)
					for !w.done(k) && time.Now().Before(deadline) {
						time.Sleep(50 * time.Millisecond)
					}
					at, ok := w.started(k)
					if !ok {
						w.stop()
						b.Fatalf("build %d did not start", k)
					}
					lat = append(lat, at.Sub(queued).Seconds())
					time.Sleep(1500 * time.Millisecond) // the pool refills (it would between real builds)
				}
				w.stop()
				sort.Float64s(lat)
				b.ReportMetric(lat[len(lat)/2], "started-p50-s")
				b.ReportMetric(lat[len(lat)-1], "started-max-s")
			}
		})
	}
}

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

// BenchmarkBuildLatency: 100 concurrent builds (freestyle, label mesos,
// no quiet period) on the emulators at time scale 1 with a 1 s poll;
// reports queued→launched (from the build being queued to its agent's
// ACCEPT) and queued→started (Jenkins' own timestamps) p50 and p99.
func BenchmarkBuildLatency(b *testing.B) {
	bin := binaries(b)
	for i := 0; i < b.N; i++ {
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
		leader, _ := c.WaitLeader(context.Background())
		jc, _ := jenkins.New(jenkins.Config{URL: jk.URL(), User: "admin", Token: "tok", DescriptionPrefix: scheduler.NodeDescriptionPrefix + "bench "})
		st, _ := store.NewFile(b.TempDir())
		post := func(path, ctype, body string) *http.Response {
			req, _ := http.NewRequest(http.MethodPost, jk.URL()+path, strings.NewReader(body))
			req.SetBasicAuth("admin", "tok")
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}
		for k := 0; k < 100; k++ {
			post(fmt.Sprintf("createItem?name=l%d", k), "application/xml", "<project><assignedNode>mesos</assignedNode><canRoam>false</canRoam><builders><hudson.tasks.Shell><command>sleep 5</command></hudson.tasks.Shell></builders></project>")
		}
		var mu sync.Mutex
		var launchTimes []time.Time
		flog := quiet
		if p := os.Getenv("BENCH_LOG"); p != "" {
			flog = logrus.New()
			f, _ := os.Create(p)
			flog.SetOutput(f)
			flog.SetLevel(logrus.DebugLevel)
			flog.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "15:04:05.000"})
		}
		cfg := driver.Config{Masters: []string{leader}, User: "jenkins", Role: "*", FailoverTimeout: time.Hour, PollInterval: time.Second, Log: flog, Anchor: true,
			Core: scheduler.Config{FrameworkName: "bench", JenkinsURL: jk.URL(), ProvisionDuringQuietPeriod: true,
				Templates: []scheduler.Template{{Name: "mesos", Labels: []string{"mesos"}, CPUs: 0.2, Mem: 30, WebSocket: true, Container: executor.Container{Image: "jenkins/inbound-agent"}}}},
			OnReady: func(rd scheduler.Ready, _ time.Time) {
				mu.Lock()
				defer mu.Unlock()
				for _, n := range rd.Notes {
					if n.Kind == "launch" {
						launchTimes = append(launchTimes, time.Now())
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
		time.Sleep(1500 * time.Millisecond) // the anchor node and a quiet poll
		queued := time.Now()
		for k := 0; k < 100; k++ {
			post(fmt.Sprintf("job/l%d/build?delay=0sec", k), "", "")
		}
		started := map[int]float64{}
		deadline := time.Now().Add(2 * time.Minute)
		for len(started) < 100 && time.Now().Before(deadline) {
			for k := 0; k < 100; k++ {
				if _, ok := started[k]; ok {
					continue
				}
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%sjob/l%d/1/api/json?tree=timestamp,queueId", jk.URL(), k), nil)
				req.SetBasicAuth("admin", "tok")
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					if resp != nil {
						resp.Body.Close()
					}
					continue
				}
				var bj struct{ Timestamp int64 }
				_ = json.NewDecoder(resp.Body).Decode(&bj)
				resp.Body.Close()
				started[k] = time.UnixMilli(bj.Timestamp).Sub(queued).Seconds()
			}
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
		<-errc
		jk.Close()
		c.Close()
		if len(started) < 100 {
			b.Fatalf("only %d of 100 builds started", len(started))
		}
		mu.Lock()
		var launched, starts []float64
		for _, t := range launchTimes {
			launched = append(launched, t.Sub(queued).Seconds())
		}
		mu.Unlock()
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

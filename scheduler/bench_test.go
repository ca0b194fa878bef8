package scheduler

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/executor"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

func benchConfig() Config {
	return Config{FrameworkName: "jenkins-mesos", JenkinsURL: "http://jenkins:8080/", ProvisionDuringQuietPeriod: true,
		Templates: []Template{{Name: "mesos", Labels: []string{"mesos"}, CPUs: 0.2, Mem: 30, Container: executor.Container{Image: "jenkins/inbound-agent"}}}}
}

func benchOffers(n int) []mesos.Offer {
	out := make([]mesos.Offer, n)
	for i := range out {
		out[i] = testOffer(fmt.Sprintf("685fe32d-e30c-4df7-b891-3d96b06fee88-O%d", i), map[string]string{
			"agent": fmt.Sprintf("685fe32d-e30c-4df7-b891-3d96b06fee88-S%d", i), "host": fmt.Sprintf("agent%d", i), "cpus": "4", "mem": "8192"})
	}
	return out
}

// coreWithReady is a subscribed core with `waiting` builds whose nodes
// exist, all waiting for offers.
func coreWithReady(waiting int) *Core {
	c := New(benchConfig(), nil, rand.New(rand.NewPCG(1, 2)))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_ = c.Step(Tick{Now: now})
	_ = c.Step(Subscribed{FrameworkID: "fw-1"})
	items := make([]QueueItem, waiting)
	for i := range items {
		items[i] = QueueItem{ID: int64(i + 1), Name: "job", Label: "mesos"}
	}
	_ = c.Step(QueueObserved{Items: items})
	rd := c.Ready()
	c.Advance(rd)
	for _, op := range rd.Jenkins {
		_ = c.Step(NodeDone{Op: op, Secret: "s"})
	}
	c.Advance(c.Ready())
	return c
}

func percentiles(b *testing.B, d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	b.ReportMetric(float64(d[len(d)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkStepOffers is the core's Step of one OFFERS event of 100
// offers with 50 waiting builds whose nodes are ready, to its Ready (50
// launches in ACCEPTs, one DECLINE).
func BenchmarkStepOffers(b *testing.B) {
	offers := benchOffers(100)
	var lat []time.Duration
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := coreWithReady(50)
		b.StartTimer()
		start := time.Now()
		_ = c.Step(Offers{Offers: offers})
		rd := c.Ready()
		c.Advance(rd)
		lat = append(lat, time.Since(start))
		if len(rd.Calls) < 2 {
			b.Fatalf("got %d calls", len(rd.Calls))
		}
	}
	percentiles(b, lat)
}

// BenchmarkStepDeclineAll is one OFFERS event of 100 offers with nothing
// waiting: one DECLINE with the long filter.
func BenchmarkStepDeclineAll(b *testing.B) {
	offers := benchOffers(100)
	c := coreWithReady(0)
	var lat []time.Duration
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		_ = c.Step(Offers{Offers: offers})
		rd := c.Ready()
		c.Advance(rd)
		lat = append(lat, time.Since(start))
		if len(rd.Calls) != 1 {
			b.Fatalf("got %d calls, want one DECLINE", len(rd.Calls))
		}
	}
	percentiles(b, lat)
}

// BenchmarkStepQueue10k is the core's share of one poll of 10,000
// waiting builds: demand per template and the explanation of each build.
func BenchmarkStepQueue10k(b *testing.B) {
	c := coreWithReady(0)
	items := make([]QueueItem, 10000)
	for i := range items {
		items[i] = QueueItem{ID: int64(i + 1), Name: "job", Label: "mesos"}
	}
	c.cfg.MaxAgents = 100
	_ = c.Step(QueueObserved{Items: items})
	c.Advance(c.Ready())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = c.Step(QueueObserved{Items: items})
		c.Advance(c.Ready())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/item")
}

// BenchmarkCoreStatePerBuild measures the heap the core keeps per waiting
// build once it has observed (and explained) 10,000 of them.
func BenchmarkCoreStatePerBuild(b *testing.B) {
	for i := 0; i < b.N; i++ {
		items := make([]QueueItem, 10000)
		for k := range items {
			items[k] = QueueItem{ID: int64(k + 1), Name: fmt.Sprintf("job-%05d", k), Label: "mesos", Why: "There are no nodes with the label ‘mesos’"}
		}
		c := coreWithReady(0)
		c.cfg.MaxAgents = 1
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_ = c.Step(QueueObserved{Items: items})
		c.Advance(c.Ready())
		items = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/10000, "bytes/build")
		runtime.KeepAlive(c)
	}
}

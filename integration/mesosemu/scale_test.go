package mesosemu

import (
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

func TestTenThousandAgentsAreOfferedInOneCycle(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 agents")
	}
	c := newTestCluster(t, Config{Agents: 10000, AllocationInterval: time.Hour})
	s := subscribeRaw(t, c.Leader(), frameworkInfo("big"))
	ev := s.next(scheduler.Event_OFFERS)
	if n := len(ev.Offers.Offers); n != 10000 {
		t.Fatalf("got %d offers, want 10000 (one per agent)", n)
	}
	seen := make(map[string]bool, 10000)
	for _, o := range ev.Offers.Offers {
		if seen[o.AgentID.Value] {
			t.Fatalf("agent %s offered twice", o.AgentID.Value)
		}
		seen[o.AgentID.Value] = true
	}
}

// benchCluster builds a cluster whose allocation loop stays idle, with one
// subscribed framework whose stream discards what it is sent.
func benchCluster(b *testing.B, agents int, media string) (*Cluster, *Master, *Framework) {
	b.Helper()
	c, err := NewCluster(Config{Agents: agents, AllocationInterval: time.Hour, SandboxRoot: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.leader
	sub := newSubscription(media)
	fi := frameworkInfo("bench")
	sub.closing = true // frames are encoded, then dropped
	fw := m.subscribeLocked(sub, &scheduler.Call_Subscribe{FrameworkInfo: &fi})
	for id := range m.offers {
		m.removeOfferLocked(id, false)
	}
	return c, m, fw
}

// BenchmarkOfferGeneration10kAgents measures one allocation cycle over
// 10,000 agents: DRF ordering, filters, 10,000 offers built and encoded into
// one OFFERS event. Offers are then taken back without a filter.
func BenchmarkOfferGeneration10kAgents(b *testing.B) {
	for _, media := range []string{mediaJSON, mediaProtobuf} {
		b.Run(media[len("application/"):], func(b *testing.B) {
			c, m, fw := benchCluster(b, 10000, media)
			b.ReportAllocs()
			b.ResetTimer()
			offers := 0
			for i := 0; i < b.N; i++ {
				c.mu.Lock()
				offers += m.allocateLocked()
				for id := range fw.offers {
					m.removeOfferLocked(id, false)
				}
				c.mu.Unlock()
			}
			b.ReportMetric(float64(offers)/b.Elapsed().Seconds(), "offers/s")
		})
	}
}

// BenchmarkDeclineAndReoffer10kAgents is the steady state of a framework
// that declines everything with refuse_seconds 0.
func BenchmarkDeclineAndReoffer10kAgents(b *testing.B) {
	c, m, fw := benchCluster(b, 10000, mediaProtobuf)
	zero := 0.0
	b.ReportAllocs()
	b.ResetTimer()
	offers := 0
	for i := 0; i < b.N; i++ {
		c.mu.Lock()
		offers += m.allocateLocked()
		ids := make([]mesos.OfferID, 0, len(fw.offers))
		for id := range fw.offers {
			ids = append(ids, mesos.OfferID{Value: id})
		}
		m.declineLocked(fw, ids, &mesos.Filters{RefuseSeconds: &zero})
		c.mu.Unlock()
	}
	b.ReportMetric(float64(offers)/b.Elapsed().Seconds(), "offers/s")
}

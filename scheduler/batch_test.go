package scheduler

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// Offers refused with the long filter and a build arriving in the same
// batch (before the core settles): the REVIVE must still go out, or the
// master keeps the filter for five minutes while the build waits.
func TestLongDeclineThenDemandInOneBatchRevives(t *testing.T) {
	c := New(benchConfig(), nil, rand.New(rand.NewPCG(1, 1)))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_ = c.Step(Tick{Now: now})
	_ = c.Step(Subscribed{FrameworkID: "fw-1"})
	_ = c.Step(Offers{Offers: benchOffers(2)})
	_ = c.Step(QueueObserved{Items: []QueueItem{{ID: 1, Name: "job", Label: "mesos"}}})
	out := DescribeReady(c.Ready(), now)
	decline := strings.Index(out, "DECLINE")
	revive := strings.Index(out, "REVIVE")
	if decline < 0 || !strings.Contains(out, "refuse=300s") || revive < decline {
		t.Fatalf("want a long DECLINE followed by a REVIVE in one Ready, got:\n%s", out)
	}
}

// A SUPPRESS that cannot be sent (the master went away) is not sent
// again at once, which with an unreachable master would be a tight loop,
// but after a second.
func TestFailedSuppressIsRetriedNotLooped(t *testing.T) {
	c := New(benchConfig(), nil, rand.New(rand.NewPCG(1, 1)))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_ = c.Step(Tick{Now: now})
	_ = c.Step(Subscribed{FrameworkID: "fw-1"})
	rd := c.Ready()
	c.Advance(rd)
	var suppress *Ready
	if !strings.Contains(DescribeReady(rd, now), "SUPPRESS") {
		t.Fatalf("no SUPPRESS after subscribing:\n%s", DescribeReady(rd, now))
	}
	suppress = &rd
	for _, k := range suppress.Calls {
		if k.Type.String() == "SUPPRESS" {
			_ = c.Step(CallFailed{Call: k, Err: "driver: not subscribed"})
		}
	}
	if c.HasReady() && strings.Contains(DescribeReady(c.Ready(), now), "SUPPRESS") {
		t.Fatal("the failed SUPPRESS was sent again at once")
	}
	c.Advance(c.Ready())
	_ = c.Step(Tick{Now: now.Add(time.Second)})
	if !c.HasReady() || !strings.Contains(DescribeReady(c.Ready(), now), "SUPPRESS") {
		t.Fatal("the failed SUPPRESS was not sent again after a second")
	}
}

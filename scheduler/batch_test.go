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

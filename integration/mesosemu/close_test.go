package mesosemu

import (
	"testing"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

func TestCloseEndsOpenStreamsAtOnce(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	s := subscribeRaw(t, c.Leader(), frameworkInfo("fw"))
	s.next(scheduler.Event_SUBSCRIBED)
	start := time.Now()
	c.Close()
	if el := time.Since(start); el > time.Second {
		t.Fatalf("Close took %v with a subscriber connected; streams must end at once", el)
	}
	s.waitClosed()
}

package mesosemu

import (
	"testing"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// TestCloseEndsOpenStreamsAtOnce: with the servers' shutdown grace made an
// hour, Close returns only if it ends the event streams itself; if it
// relied on the grace, the watchdog below (a real hang) fires.
func TestCloseEndsOpenStreamsAtOnce(t *testing.T) {
	old := shutdownGrace
	shutdownGrace = time.Hour
	t.Cleanup(func() { shutdownGrace = old })
	c := newTestCluster(t, Config{Agents: 1})
	s := subscribeRaw(t, c.Leader(), frameworkInfo("fw"))
	s.next(scheduler.Event_SUBSCRIBED)
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close is waiting for a connected subscriber: streams must be ended, not waited for")
	}
	s.waitClosed()
}

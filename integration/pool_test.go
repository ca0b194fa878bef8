package integration

import (
	"testing"
	"time"
)

// onlineIdleNodes lists the framework's nodes that are connected and idle.
func (w *world) onlineIdleNodes() []string {
	return w.agents(func(c computer) bool { return !c.Offline && c.Idle })
}

// TestWarmPoolKeepsAnAgentOnlineAheadOfTheBuilds: with min_idle: 1 an
// agent is launched and comes online before any build is queued, and it
// stays past connect_timeout; the first build runs on it; a new warm
// agent comes online while that build runs; the used one is reclaimed
// after its build (one-shot), leaving exactly the pool.
func TestWarmPoolKeepsAnAgentOnlineAheadOfTheBuilds(t *testing.T) {
	w := newWorld(t, worldOpts{templates: `
  - name: mesos
    labels: mesos
    cpus: 0.2
    mem: 30
    image: jenkins/inbound-agent
    min_idle: 1
    max_instances: 5
    connect_timeout: 5s`})
	var warm []string
	w.waitFor("a warm agent online with no build queued", 60*time.Second, func() bool {
		warm = w.onlineIdleNodes()
		return len(warm) == 1
	})
	// The framework runs in real time: past its 5 s connect_timeout, an
	// agent that got no build would step down ("unused"); a warm one
	// stays.
	time.Sleep(7 * time.Second)
	if now := w.onlineIdleNodes(); len(now) != 1 || now[0] != warm[0] {
		t.Fatalf("warm agents %v after connect_timeout, want still %v", now, warm)
	}
	if n := len(w.launches()); n != 1 {
		t.Fatalf("%d launches before any build, want 1 (the pool)", n)
	}
	w.freestyle("quick", "mesos", 20)
	w.build("quick")
	w.waitSucceeded("the build", 60*time.Second, "quick")
	if on := w.result("quick").BuiltOn; on != warm[0] {
		t.Errorf("the build ran on %q, want the warm agent %s", on, warm[0])
	}
	w.waitFor("the used agent reclaimed and one new warm agent online", 60*time.Second, func() bool {
		nodes, idle := w.nodes(), w.onlineIdleNodes()
		return len(nodes) == 1 && len(idle) == 1 && idle[0] != warm[0]
	})
	if n := len(w.launches()); n != 2 {
		t.Errorf("%d launches, want 2 (the pool, then its replacement)", n)
	}
}

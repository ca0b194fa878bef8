package mesosemu

import (
	"encoding/json"
	"fmt"
	"github.com/jenkins-mesos/jenkins-mesos/integration/syncbuf"
	"net/http"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/sirupsen/logrus"
)

// These tests pin behaviour checked against Apache Mesos' source
// (slave.cpp, status update manager, launcher/executor.cpp).

// TestResubscribeGetsUnacknowledgedUpdatesAtOnce: the master tells the
// agents the framework is back and each resends its pending head update
// immediately, not when the old retry timer fires (10 s here, in real
// time: the cluster runs unscaled so the two cannot be confused).
func TestResubscribeGetsUnacknowledgedUpdatesAtOnce(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1, TimeScale: 1})
	url := c.Leader()
	fi := frameworkInfo("fw")
	fi.FailoverTimeout = f64(3600)
	s := subscribeRaw(t, url, fi)
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, commandTask("held", o, 0.1, 16, "sleep 1000")))
	ackUntil(s, url, "held", mesos.TASK_STARTING)
	running := s.update("held") // TASK_RUNNING: left unacknowledged
	if running.GetState() != mesos.TASK_RUNNING {
		t.Fatalf("second update %s, want TASK_RUNNING", describe(running))
	}
	id := s.fwID
	s.close()
	fi.ID = &mesos.FrameworkID{Value: id}
	s2 := subscribeRaw(t, url, fi)
	s2.next(scheduler.Event_SUBSCRIBED)
	begun := time.Now()
	deadline := time.After(5 * time.Second) // the retry would come 10 s after the first send
	for {
		select {
		case ev, ok := <-s2.events:
			if !ok {
				t.Fatal("stream closed")
			}
			if ev.Type == scheduler.Event_UPDATE && ev.Update.Status.TaskID.Value == "held" {
				if st := ev.Update.Status; st.GetState() != mesos.TASK_RUNNING || string(st.UUID) != string(running.UUID) {
					t.Fatalf("resent update %s, want the same TASK_RUNNING update", describe(st))
				}
				t.Logf("unacknowledged update resent %v after the re-subscription", time.Since(begun))
				return
			}
		case <-deadline:
			t.Fatal("the unacknowledged update was not resent when the framework re-subscribed")
		}
	}
}

func TestCommandExecutorFailuresCarryNoReason(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, commandTask("exit3", o, 0.1, 16, "exit 3"), commandTask("killed", o, 0.1, 16, "kill -9 $$")))
	for id, msg := range map[string]string{"exit3": "Command exited with status 3", "killed": "Command terminated with signal Killed"} {
		seen := runToEnd(s, url, id)
		last := seen[len(seen)-1]
		if last.GetState() != mesos.TASK_FAILED || last.Reason != nil || last.GetSource() != mesos.SOURCE_EXECUTOR || last.GetMessage() != msg {
			t.Fatalf("%s: got %s, want TASK_FAILED from the executor, no reason, %q", id, describe(last), msg)
		}
	}
}

func TestOperatorStateDetails(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	fi := frameworkInfo("plain") // no capabilities at all
	s := subscribeRaw(t, url, fi)
	runningTask(t, s, url, "doomed")
	var state struct {
		Slaves     []map[string]any `json:"slaves"`
		Frameworks []struct {
			Capabilities []string         `json:"capabilities"`
			Tasks        []map[string]any `json:"tasks"`
		} `json:"frameworks"`
		Completed []struct {
			ID             string           `json:"id"`
			CompletedTasks []map[string]any `json:"completed_tasks"`
		} `json:"completed_frameworks"`
	}
	get := func() string {
		r := doRequest(t, http.MethodGet, url+"/master/state", nil, nil)
		if err := json.Unmarshal([]byte(r.body), &state); err != nil {
			t.Fatalf("/master/state: %v", err)
		}
		return r.body
	}
	body := get()
	if d, ok := state.Slaves[0]["deactivated"]; !ok || d != false {
		t.Fatalf("slave without deactivated=false: %v", state.Slaves[0])
	}
	if !strings.Contains(body, `"capabilities":[]`) || state.Frameworks[0].Capabilities == nil {
		t.Fatalf("a framework without capabilities must show \"capabilities\":[], got %s", body)
	}
	if task := state.Frameworks[0].Tasks[0]; task["role"] != "*" {
		t.Fatalf("task without its role: %v", task)
	}
	id := s.fwID
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_TEARDOWN})
	get()
	if len(state.Completed) != 1 || state.Completed[0].ID != id || len(state.Completed[0].CompletedTasks) != 1 ||
		state.Completed[0].CompletedTasks[0]["state"] != "TASK_KILLED" || state.Completed[0].CompletedTasks[0]["id"] != "doomed" {
		t.Fatalf("completed_frameworks after TEARDOWN: %+v, want the task as TASK_KILLED", state.Completed)
	}
}

func TestAcknowledgeWithABadUUIDVersionIs400(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := runningTask(t, s, url, "u1")
	bad := make([]byte, 16) // 16 bytes, but version nibble 0: not a UUID boost knows
	r := s.call(url, &scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE, Acknowledge: &scheduler.Call_Acknowledge{
		AgentID: o.AgentID, TaskID: mesos.TaskID{Value: "u1"}, UUID: bad}})
	if r.code != 400 || !strings.Contains(r.body, "Not a valid UUID") {
		t.Fatalf("ACKNOWLEDGE with a version-0 uuid: %d %q, want 400 \"Not a valid UUID\"", r.code, r.body)
	}
}

func TestRedirectKeepsTheQueryString(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1, Masters: 2})
	leader := c.Leader()
	var standby string
	for _, u := range c.Masters() {
		if u != leader {
			standby = u
		}
	}
	r := doRequest(t, http.MethodGet, standby+"/master/state?jsonp=cb", nil, nil)
	if r.code != 307 || r.header.Get("Location") != "//"+leader[len("http://"):]+"/master/state?jsonp=cb" {
		t.Fatalf("standby answered %d Location %q, want the leader's /master/state?jsonp=cb", r.code, r.header.Get("Location"))
	}
}

// TestAllocatorSeedReplaysTheOrder: the same seed visits agents in the
// same order, so one OFFERS event lists them alike; a random seed is
// reported so it can be replayed.
func TestAllocatorSeedReplaysTheOrder(t *testing.T) {
	order := func(seed int64) []string {
		c := newTestCluster(t, Config{Agents: 8, Seed: seed})
		if c.Seed() != seed {
			t.Fatalf("Seed() %d, want %d", c.Seed(), seed)
		}
		s := subscribeRaw(t, c.Leader(), frameworkInfo("fw"))
		var hosts []string
		for _, o := range s.next(scheduler.Event_OFFERS).Offers.Offers {
			hosts = append(hosts, o.GetHostname())
		}
		return hosts
	}
	a, b := order(42), order(42)
	if strings.Join(a, ",") != strings.Join(b, ",") || len(a) != 8 {
		t.Fatalf("seed 42 gave %v then %v, want the same order of 8 agents", a, b)
	}
	differs := false
	for seed := int64(1); seed <= 5 && !differs; seed++ {
		differs = strings.Join(order(seed), ",") != strings.Join(a, ",")
	}
	if !differs {
		t.Fatal("five other seeds all gave seed 42's order: the seed does not drive the allocator")
	}
	logged := &syncbuf.Buffer{}
	log := logrus.New()
	log.SetOutput(logged)
	c := newTestCluster(t, Config{Agents: 1, Log: log})
	if c.Seed() == 0 || !strings.Contains(logged.String(), fmt.Sprintf("seed=%d", c.Seed())) {
		t.Fatalf("random seed %d not logged: %q", c.Seed(), logged.String())
	}
}

// TestStatusUpdateRetryDoubles: an unacknowledged update is resent after
// 10 s, then 20 s, then 40 s of emulated time (the status update
// manager's backoff), measured on the emulator's own clock.
func TestStatusUpdateRetryDoubles(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1, TimeScale: 50})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, commandTask("r", o, 0.2, 32, "sleep 1000")))
	var at []time.Time
	for len(at) < 4 {
		st := s.update("r")
		if st.GetState() != mesos.TASK_STARTING {
			t.Fatalf("update %s, want the same unacknowledged TASK_STARTING", describe(st))
		}
		at = append(at, c.Clock().Now())
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second}
	for i, w := range want {
		got := at[i+1].Sub(at[i])
		// Wide bounds: scheduling noise is milliseconds of real time
		// (tenths of an emulated second); a missing doubling is 2×.
		if got < w*3/4 || got > w*5/4 {
			t.Fatalf("retry %d came after %s of emulated time, want about %s (10 s doubling)", i+1, got, w)
		}
	}
}

// TestStallKeepsTheStreamOpenButSilent: the stall fault sends nothing
// more, heartbeats included, without closing the connection. Over 20
// allocation cycles (20 s of emulated time, more than the 15 s heartbeat
// interval) a live stream would deliver the immediate heartbeat and a
// periodic one; a stalled one at most the immediate one, queued before.
func TestStallKeepsTheStreamOpenButSilent(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	s.next(scheduler.Event_SUBSCRIBED)
	if err := c.StallFrameworkStream(s.fwID); err != nil {
		t.Fatal(err)
	}
	heartbeats := 0
	start := c.AllocationCycles()
	for c.AllocationCycles() < start+20 {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatal("the stalled stream was closed")
			}
			if ev.Type == scheduler.Event_HEARTBEAT {
				heartbeats++
			}
		case <-time.After(10 * time.Millisecond):
		}
	}
	if heartbeats > 1 {
		t.Fatalf("%d heartbeats on a stalled stream", heartbeats)
	}
}

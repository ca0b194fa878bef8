package mesosemu

import (
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
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

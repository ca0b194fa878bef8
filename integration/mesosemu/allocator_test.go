package mesosemu

import (
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

func offerIDs(os []mesos.Offer) []mesos.OfferID {
	ids := make([]mesos.OfferID, len(os))
	for i, o := range os {
		ids[i] = o.ID
	}
	return ids
}

func TestAllocatorOffersEachAgentOnceWithFullResources(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 3, AgentAttributes: "rack:r1;weight:3"})
	s := subscribeRaw(t, c.Leader(), frameworkInfo("fw"))
	offers := s.next(scheduler.Event_OFFERS).Offers.Offers
	if len(offers) != 3 {
		t.Fatalf("got %d offers in the first OFFERS event, want one per agent (3)", len(offers))
	}
	agents := map[string]bool{}
	for _, o := range offers {
		if agents[o.AgentID.Value] {
			t.Fatalf("agent %s offered twice", o.AgentID.Value)
		}
		agents[o.AgentID.Value] = true
		if scalar(o.Resources, "cpus") != 4 || scalar(o.Resources, "mem") != 8192 || scalar(o.Resources, "disk") != 20000 {
			t.Fatalf("offer resources %v, want the agent's full resources", o.Resources)
		}
		for _, r := range o.Resources {
			if r.GetRole() != "*" || r.Role == nil {
				t.Fatalf("resource %v: a non-REFINEMENT framework must see \"role\":\"*\"", r)
			}
			if r.AllocationInfo != nil {
				t.Fatalf("resource %v: allocation_info must be stripped for non-MULTI_ROLE frameworks", r)
			}
		}
		if o.AllocationInfo != nil {
			t.Fatalf("offer allocation_info %v for a non-MULTI_ROLE framework", o.AllocationInfo)
		}
		if len(o.Attributes) != 2 || o.Attributes[0].GetText().GetValue() != "r1" || o.Attributes[1].GetScalar().GetValue() != 3 {
			t.Fatalf("attributes %v, want rack:r1 (text) and weight:3 (scalar)", o.Attributes)
		}
	}
	// Held offers are not offered again.
	s.quietFor(c, c.Leader(), 5, scheduler.Event_OFFERS)
}

func TestMultiRoleOffersCarryAllocationInfo(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	s := subscribeRaw(t, c.Leader(), multiRole("fw", []string{"jenkins"}))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	if o.AllocationInfo.GetRole() != "jenkins" {
		t.Fatalf("offer allocation_info %v, want role jenkins", o.AllocationInfo)
	}
	for _, r := range o.Resources {
		if r.AllocationInfo.GetRole() != "jenkins" {
			t.Fatalf("resource %v lacks allocation_info for role jenkins", r)
		}
	}
}

func TestDeclineFilterDefaultsToFiveSecondsAndZeroMeansNone(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]

	// No filters given: the 5 s default applies, in emulated time.
	start := c.Clock().Now()
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_DECLINE, Decline: &scheduler.Call_Decline{OfferIDs: []mesos.OfferID{o.ID}}})
	o = s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	if el := c.Clock().Now().Sub(start); el < 5*time.Second {
		t.Fatalf("re-offered after %v of emulated time, want the 5 s default filter to pass first", el)
	}

	// refuse_seconds 0: no filter, offered again at the next allocation
	// (counted in cycles: the default filter would take five).
	cycles := c.AllocationCycles()
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_DECLINE, Decline: &scheduler.Call_Decline{OfferIDs: []mesos.OfferID{o.ID}, Filters: &mesos.Filters{RefuseSeconds: f64(0)}}})
	o = s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	if n := c.AllocationCycles() - cycles; n > 3 {
		t.Fatalf("re-offered %d allocation cycles after a refuse_seconds 0 decline, want the next one or two", n)
	}

	// A long filter holds; REVIVE clears it.
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_DECLINE, Decline: &scheduler.Call_Decline{OfferIDs: []mesos.OfferID{o.ID}, Filters: &mesos.Filters{RefuseSeconds: f64(3600)}}})
	s.quietFor(c, url, 10, scheduler.Event_OFFERS)
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_REVIVE})
	s.next(scheduler.Event_OFFERS)

	// Unknown offer IDs are ignored.
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_DECLINE, Decline: &scheduler.Call_Decline{OfferIDs: []mesos.OfferID{{Value: "nope"}}}})
}

func TestRefusalFilterOnlyCoversSubsets(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	// Launch a long task with a long filter on the remainder.
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, f64(3600), commandTask("t", o, 1, 128, "sleep 1000")))
	st := s.update("t")
	s.ack(url, st)
	s.quietFor(c, url, 5, scheduler.Event_OFFERS)
	// Killing the task frees more than was refused: no longer a subset.
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "t"}}})
	for st := s.update("t"); !isTerminal(st.GetState()); st = s.update("t") {
		s.ack(url, st)
	}
	o = s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	if scalar(o.Resources, "cpus") != 4 {
		t.Fatalf("offer after kill has %v cpus, want 4", scalar(o.Resources, "cpus"))
	}
}

func TestSuppressStopsOffersAndReviveResumes(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, multiRole("fw", []string{"a", "b"}))
	first := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_SUPPRESS})
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_DECLINE, Decline: &scheduler.Call_Decline{OfferIDs: []mesos.OfferID{first.ID}, Filters: &mesos.Filters{RefuseSeconds: f64(0)}}})
	s.quietFor(c, url, 5, scheduler.Event_OFFERS)
	// A role the framework does not have: the call is dropped.
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_REVIVE, Revive: &scheduler.Call_Revive{Roles: []string{"zzz"}}})
	s.quietFor(c, url, 5, scheduler.Event_OFFERS)
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_REVIVE, Revive: &scheduler.Call_Revive{Roles: []string{"b"}}})
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	if o.AllocationInfo.GetRole() != "b" {
		t.Fatalf("revived role b but the offer is for %q", o.AllocationInfo.GetRole())
	}
}

func TestSubscribeSuppressedRolesSetsSuppressionExactly(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	fi := multiRole("fw", []string{"a"})
	fi.FailoverTimeout = f64(3600)
	s := subscribeRaw(t, url, fi, "a")
	s.next(scheduler.Event_SUBSCRIBED)
	s.quietFor(c, url, 5, scheduler.Event_OFFERS)
	// Re-subscribing without the role revives it.
	fi.ID = &mesos.FrameworkID{Value: s.fwID}
	s2 := subscribeRaw(t, url, fi)
	s2.next(scheduler.Event_OFFERS)
}

func TestOfferTimeoutRescinds(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1, OfferTimeout: 4 * time.Second})
	s := subscribeRaw(t, c.Leader(), frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	ev := s.next(scheduler.Event_RESCIND)
	if ev.Rescind.OfferID.Value != o.ID.Value {
		t.Fatalf("rescinded %s, want %s", ev.Rescind.OfferID.Value, o.ID.Value)
	}
	// Recovered without a filter: offered again.
	s.next(scheduler.Event_OFFERS)
}

func TestAcceptDeclinesTheUnusedRemainderWithItsFilter(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, f64(0), commandTask("t", o, 1.5, 100, "sleep 1000")))
	o2 := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	if got := scalar(o2.Resources, "cpus"); got != 2.5 {
		t.Fatalf("remainder offer has %v cpus, want 2.5", got)
	}
	if got := scalar(o2.Resources, "mem"); got != 8092 {
		t.Fatalf("remainder offer has %v mem, want 8092", got)
	}
}

func TestTwoFrameworksShareByDominantResourceFairness(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 4})
	url := c.Leader()
	a := subscribeRaw(t, url, frameworkInfo("a"))
	oa := a.next(scheduler.Event_OFFERS).Offers.Offers
	b := subscribeRaw(t, url, frameworkInfo("b"))
	b.next(scheduler.Event_SUBSCRIBED)
	// a holds everything; when it declines, the four agents are split by
	// dominant share: each framework ends the cycle with two.
	a.mustCall(url, &scheduler.Call{Type: scheduler.Call_DECLINE, Decline: &scheduler.Call_Decline{OfferIDs: offerIDs(oa), Filters: &mesos.Filters{RefuseSeconds: f64(0)}}})
	ob := b.next(scheduler.Event_OFFERS).Offers.Offers
	oa = a.next(scheduler.Event_OFFERS).Offers.Offers
	if len(ob) != 2 || len(oa) != 2 {
		t.Fatalf("got %d offers for b and %d for a, want 2 and 2 (DRF)", len(ob), len(oa))
	}
}

func TestGPUAgentsAreOfferedOnlyToGPUCapableFrameworks(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1, AgentResources: "cpus:4;mem:1024;gpus:1"})
	url := c.Leader()
	plain := subscribeRaw(t, url, frameworkInfo("plain"))
	plain.next(scheduler.Event_SUBSCRIBED)
	plain.quietFor(c, url, 5, scheduler.Event_OFFERS)
	gpu := subscribeRaw(t, url, frameworkInfo("gpu", mesos.FrameworkInfo_Capability_GPU_RESOURCES))
	if o := gpu.next(scheduler.Event_OFFERS).Offers.Offers[0]; scalar(o.Resources, "gpus") != 1 {
		t.Fatalf("GPU framework offered %v, want the agent's gpu", o.Resources)
	}
}

func TestLeftoversBelowMinAllocatableAreNotOffered(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1, AgentResources: "cpus:1;mem:62"})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	// Take all the CPU and leave 30 MB: below cpus:0.01|mem:32.
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, f64(0), commandTask("t", o, 1, 32, "sleep 1000")))
	s.quietFor(c, url, 5, scheduler.Event_OFFERS)
	// Free the task: the agent is offered again.
	ackUntil(s, url, "t", mesos.TASK_RUNNING)
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "t"}}})
	runToEnd(s, url, "t")
	if o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]; scalar(o.Resources, "mem") != 62 {
		t.Fatalf("offer after the task: %v", o.Resources)
	}
}

package mesosemu

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// Conformance with src/master/http.cpp (maintenanceSchedule) and
// src/master/maintenance.cpp (validation): a POSTed schedule is validated
// with Mesos' messages, read back by GET, redirected by a standby, and
// the offers of an agent in a window carry that window.
func TestMaintenanceScheduleMarksOffers(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 2, Masters: 2})
	post := func(body string) httpResult {
		return doRequest(t, http.MethodPost, c.Leader()+"/master/maintenance/schedule", map[string]string{"Content-Type": "application/json"}, []byte(body))
	}
	for body, want := range map[string]string{
		`{"windows":[{"machine_ids":[],"unavailability":{"start":{"nanoseconds":1}}}]}`:                                                                                                                                             "List of machines in the maintenance window is empty",
		`{"windows":[{"machine_ids":[{"hostname":"agent1","ip":"127.0.0.1"}],"unavailability":{"start":{"nanoseconds":1},"duration":{"nanoseconds":-5}}}]}`:                                                                         "Unavailability 'duration' is negative",
		`{"windows":[{"machine_ids":[{}],"unavailability":{"start":{"nanoseconds":1}}}]}`:                                                                                                                                           "Both 'hostname' and 'ip' for a machine are empty",
		`{"windows":[{"machine_ids":[{"hostname":"agent1","ip":"127.0.0.1"}],"unavailability":{"start":{"nanoseconds":1}}},{"machine_ids":[{"hostname":"AGENT1","ip":"127.0.0.1"}],"unavailability":{"start":{"nanoseconds":2}}}]}`: "appears more than once in the schedule",
	} {
		if r := post(body); r.code != http.StatusBadRequest || !strings.Contains(r.body, want) {
			t.Errorf("POST %s: %d %q; want 400 %q", body, r.code, r.body, want)
		}
	}
	const start = 1767225600000000000 // 2026-01-01T00:00:00Z
	good := `{"windows":[{"machine_ids":[{"hostname":"agent2","ip":"127.0.0.1"}],"unavailability":{"start":{"nanoseconds":1767225600000000000},"duration":{"nanoseconds":3600000000000}}},` +
		`{"machine_ids":[{"hostname":"agent1","ip":"10.0.0.9"}],"unavailability":{"start":{"nanoseconds":1}}}]}`
	if r := post(good); r.code != http.StatusOK {
		t.Fatalf("POST a valid schedule: %d %q", r.code, r.body)
	}
	if r := doRequest(t, http.MethodGet, c.Leader()+"/master/maintenance/schedule", nil, nil); r.code != 200 || !strings.Contains(r.body, `"hostname":"agent2"`) {
		t.Fatalf("GET the schedule: %d %q", r.code, r.body)
	}
	for _, u := range c.Masters() {
		if u == c.Leader() {
			continue
		}
		if r := doRequest(t, http.MethodPost, u+"/master/maintenance/schedule", nil, []byte(good)); r.code != http.StatusTemporaryRedirect || !strings.HasSuffix(r.header.Get("Location"), "/master/maintenance/schedule") {
			t.Fatalf("POST to a standby: %d %v; want a 307 to the leader's endpoint", r.code, r.header)
		}
	}
	s := subscribeRaw(t, c.Leader(), frameworkInfo("fw"))
	offers := s.next(scheduler.Event_OFFERS).Offers.Offers
	if len(offers) != 2 {
		t.Fatalf("%d offers; want 2", len(offers))
	}
	for _, o := range offers {
		switch o.Hostname {
		case "agent2":
			u := o.Unavailability
			if u == nil || u.Start.Nanoseconds != start || u.Duration == nil || u.Duration.Nanoseconds != 3600000000000 {
				t.Fatalf("agent2's offer unavailability %+v; want the window", u)
			}
		case "agent1":
			if o.Unavailability != nil {
				t.Fatalf("agent1's offer carries %+v, but the window names another IP", o.Unavailability)
			}
		}
	}
}

// Conformance with the allocator's generateInverseOffers/updateInverseOffer
// and the master's inverse offer calls: a framework with a task on an
// agent in a window gets one inverse offer for it; a DECLINE with
// refuse_seconds holds the next one back until the filter expires, and is
// recorded; an ACCEPT is recorded in /master/maintenance/status; taking
// the machine out of the schedule rescinds the outstanding inverse offer.
func TestInverseOffersForAgentsInMaintenance(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 2})
	s := subscribeRaw(t, c.Leader(), frameworkInfo("fw"))
	offers := s.next(scheduler.Event_OFFERS).Offers.Offers
	var on mesos.Offer
	for _, o := range offers {
		if o.Hostname == "agent1" {
			on = o
		}
	}
	var others []mesos.OfferID
	for _, o := range offers {
		if o.ID != on.ID {
			others = append(others, o.ID)
		}
	}
	s.mustCall(c.Leader(), launch([]mesos.OfferID{on.ID}, f64(3600), commandTask("t1", on, 0.1, 32, "sleep 3600")))
	s.mustCall(c.Leader(), &scheduler.Call{Type: scheduler.Call_DECLINE, Decline: &scheduler.Call_Decline{OfferIDs: others, Filters: &mesos.Filters{RefuseSeconds: f64(3600)}}})
	schedule := func(machines string) {
		body := `{"windows":[{"machine_ids":[` + machines + `],"unavailability":{"start":{"nanoseconds":1767225600000000000}}}]}`
		if machines == "" {
			body = `{"windows":[]}`
		}
		if r := doRequest(t, http.MethodPost, c.Leader()+"/master/maintenance/schedule", nil, []byte(body)); r.code != 200 {
			t.Fatalf("POST schedule: %d %q", r.code, r.body)
		}
	}
	schedule(`{"hostname":"agent1","ip":"127.0.0.1"},{"hostname":"agent2","ip":"127.0.0.1"}`)
	ev := s.next(scheduler.Event_INVERSE_OFFERS)
	ios := ev.InverseOffers.InverseOffers
	if len(ios) != 1 || ios[0].GetAgentID().GetValue() != on.AgentID.Value || ios[0].Unavailability.Start.Nanoseconds != 1767225600000000000 || len(ios[0].Resources) != 0 {
		t.Fatalf("inverse offers %+v; want one for agent1 (the only agent with a task of ours), whole agent, with the window", ios)
	}
	// No second inverse offer while one is outstanding.
	s.quietFor(c, c.Leader(), 3, scheduler.Event_INVERSE_OFFERS)
	s.mustCall(c.Leader(), &scheduler.Call{Type: scheduler.Call_DECLINE_INVERSE_OFFERS, DeclineInverseOffers: &scheduler.Call_DeclineInverseOffers{
		InverseOfferIDs: []mesos.OfferID{ios[0].OfferID}, Filters: &mesos.Filters{RefuseSeconds: f64(2)}}})
	status := func() string {
		r := doRequest(t, http.MethodGet, c.Leader()+"/master/maintenance/status", nil, nil)
		if r.code != 200 {
			t.Fatalf("GET status: %d %q", r.code, r.body)
		}
		return r.body
	}
	if st := status(); !strings.Contains(st, `"status":"DECLINE"`) || !strings.Contains(st, fmt.Sprintf(`"value":%q`, s.fwID)) || !strings.Contains(st, `"hostname":"agent2"`) {
		t.Fatalf("status after the decline: %s", st)
	}
	// The 2 s filter (0.1 s at this time scale) expires: a new inverse offer.
	again := s.next(scheduler.Event_INVERSE_OFFERS).InverseOffers.InverseOffers
	if len(again) != 1 || again[0].OfferID == ios[0].OfferID {
		t.Fatalf("after the filter: %+v; want a new inverse offer", again)
	}
	s.mustCall(c.Leader(), &scheduler.Call{Type: scheduler.Call_ACCEPT_INVERSE_OFFERS, AcceptInverseOffers: &scheduler.Call_AcceptInverseOffers{
		InverseOfferIDs: []mesos.OfferID{again[0].OfferID}, Filters: &mesos.Filters{RefuseSeconds: f64(1)}}})
	if st := status(); !strings.Contains(st, `"status":"ACCEPT"`) {
		t.Fatalf("status after the accept: %s", st)
	}
	third := s.next(scheduler.Event_INVERSE_OFFERS).InverseOffers.InverseOffers
	schedule("")
	rescind := s.next(scheduler.Event_RESCIND_INVERSE_OFFER)
	if rescind.RescindInverseOffer.InverseOfferID != third[0].OfferID {
		t.Fatalf("rescinded %v; want the outstanding %v", rescind.RescindInverseOffer.InverseOfferID, third[0].OfferID)
	}
	if st := status(); strings.Contains(st, "agent1") {
		t.Fatalf("status with an empty schedule: %s", st)
	}
}

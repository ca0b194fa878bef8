package mesosemu

import (
	"net/http"
	"strings"
	"testing"

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

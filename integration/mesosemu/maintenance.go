package mesosemu

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/allocator"
	"github.com/mesos/mesos-go/api/v1/lib/maintenance"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// The maintenance schedule, as the master's /master/maintenance/schedule
// keeps it (src/master/http.cpp maintenanceSchedule, validated as in
// src/master/maintenance.cpp): a POST replaces the whole schedule; the
// offers of an agent whose machine is in a window carry that window as
// their unavailability (Master::offer). A machine is the agent's
// (hostname, IP); the emulated agents' IP is 127.0.0.1, and both fields
// must match (hostnames case-insensitively), as MachineID equality does.
//
// Inverse offers (allocator generateInverseOffers, master
// acceptInverseOffers/declineInverseOffers): each allocation cycle, an
// active framework with tasks or offers on an agent in a window gets one
// inverse offer for it (empty resources: the whole agent), unless one is
// outstanding or its refusal filter (the response's refuse_seconds,
// default 5 s when filters are given) has not expired. A response records
// the framework's status (GET /master/maintenance/status); a changed
// schedule rescinds the outstanding inverse offers of the machines whose
// window changed or ended. The state is the leading master's, lost on
// failover, as the allocator's is.
//
// Not emulated: the machine modes (/machine/down, /machine/up).

// AgentIP is the IP of every emulated agent's machine ID.
const AgentIP = "127.0.0.1"

func (m *Master) handleMaintenanceSchedule(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		m.c.mu.Lock()
		s := m.c.schedule
		m.c.mu.Unlock()
		writeJSON(w, s)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, "Expecting one of { 'GET', 'POST' }, but received '"+r.Method+"'")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var s maintenance.Schedule
	if err := json.Unmarshal(body, &s); err != nil {
		writeError(w, http.StatusBadRequest, "Failed to parse the schedule: "+err.Error())
		return
	}
	if msg := validateSchedule(&s); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	m.c.mu.Lock()
	m.c.schedule = s
	m.rescindChangedLocked()
	m.c.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// agentMaint is the leading master's maintenance view of one agent.
type agentMaint struct {
	unavailability mesos.Unavailability
	outstanding    map[string]string // framework ID → inverse offer ID
	statuses       map[string]allocator.InverseOfferStatus
	filtered       map[string]time.Time // framework ID → refusal filter expiry
}

// maintLocked is the agent's maintenance state, created when its machine
// is in the schedule; nil otherwise.
func (m *Master) maintLocked(a *Agent) *agentMaint {
	u := m.c.unavailabilityLocked(a)
	if u == nil {
		return nil
	}
	if m.maint == nil {
		m.maint = map[string]*agentMaint{}
	}
	am := m.maint[a.id]
	if am == nil {
		am = &agentMaint{unavailability: *u, outstanding: map[string]string{}, statuses: map[string]allocator.InverseOfferStatus{}, filtered: map[string]time.Time{}}
		m.maint[a.id] = am
	}
	return am
}

// rescindChangedLocked: after a schedule update, the inverse offers of
// agents whose window changed or that left the schedule are rescinded.
func (m *Master) rescindChangedLocked() {
	for agentID, am := range m.maint {
		a := m.c.agentByID[agentID]
		var u *mesos.Unavailability
		if a != nil {
			u = m.c.unavailabilityLocked(a)
		}
		if u != nil && u.Equal(&am.unavailability) {
			continue
		}
		for fwID, id := range am.outstanding {
			if fw := m.frameworks[fwID]; fw != nil {
				fw.send(&scheduler.Event{Type: scheduler.Event_RESCIND_INVERSE_OFFER, RescindInverseOffer: &scheduler.Event_RescindInverseOffer{InverseOfferID: mesos.OfferID{Value: id}}})
			}
		}
		delete(m.maint, agentID)
	}
}

// inverseOffersLocked sends the inverse offers of one allocation cycle.
func (m *Master) inverseOffersLocked(now time.Time) {
	made := map[*Framework][]mesos.InverseOffer{}
	for _, a := range m.c.agents {
		if a.removed {
			continue
		}
		am := m.maintLocked(a)
		if am == nil {
			continue
		}
		for _, id := range m.frameworkIDs() {
			fw := m.frameworks[id]
			if (!fw.active || fw.sub == nil) && am.outstanding[id] != "" {
				delete(am.outstanding, id) // deactivation removes a framework's inverse offers
			}
			if !fw.active || fw.sub == nil || am.outstanding[id] != "" || now.Before(am.filtered[id]) || !m.usesLocked(fw, a) {
				continue
			}
			ioID := fmt.Sprintf("%s-O%d", m.info.ID, m.nextOffer)
			m.nextOffer++
			am.outstanding[id] = ioID
			made[fw] = append(made[fw], mesos.InverseOffer{OfferID: mesos.OfferID{Value: ioID}, URL: a.url(), FrameworkID: mesos.FrameworkID{Value: id},
				AgentID: &mesos.AgentID{Value: a.id}, Unavailability: am.unavailability})
		}
	}
	for fw, ios := range made {
		fw.send(&scheduler.Event{Type: scheduler.Event_INVERSE_OFFERS, InverseOffers: &scheduler.Event_InverseOffers{InverseOffers: ios}})
	}
}

// usesLocked: the framework has resources offered or allocated on the
// agent (a task, or an offer it holds).
func (m *Master) usesLocked(fw *Framework, a *Agent) bool {
	if len(a.tasksOf(fw.id)) > 0 {
		return true
	}
	for _, o := range fw.offers {
		if o.agent == a {
			return true
		}
	}
	return false
}

// respondInverseLocked records a framework's ACCEPT or DECLINE of inverse
// offers; unknown or stale IDs are ignored, as the master ignores them.
func (m *Master) respondInverseLocked(fw *Framework, ids []mesos.OfferID, filters *mesos.Filters, status allocator.InverseOfferStatus_Status) {
	now := m.c.clock.Now()
	for _, id := range ids {
		for _, am := range m.maint {
			if am.outstanding[fw.id] != id.Value {
				continue
			}
			delete(am.outstanding, fw.id)
			fwID := mesos.FrameworkID{Value: fw.id}
			am.statuses[fw.id] = allocator.InverseOfferStatus{Status: status.Enum(), FrameworkID: fwID, Timestamp: mesos.TimeInfo{Nanoseconds: now.UnixNano()}}
			if filters != nil { // no filters: none installed (updateInverseOffer)
				am.filtered[fw.id] = now.Add(refuseDuration(filters))
			}
		}
	}
}

// handleMaintenanceStatus is GET /master/maintenance/status: the machines
// in the schedule with each framework's response to their inverse offers.
func (m *Master) handleMaintenanceStatus(w http.ResponseWriter, r *http.Request) {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	draining := []map[string]any{}
	for _, a := range m.c.agents {
		if m.c.unavailabilityLocked(a) == nil {
			continue
		}
		statuses := []map[string]any{}
		if am := m.maint[a.id]; am != nil {
			for _, fwID := range slices.Sorted(maps.Keys(am.statuses)) {
				st := am.statuses[fwID]
				statuses = append(statuses, map[string]any{"status": st.GetStatus().String(), "framework_id": map[string]string{"value": fwID},
					"timestamp": map[string]int64{"nanoseconds": st.Timestamp.Nanoseconds}})
			}
		}
		draining = append(draining, map[string]any{"id": map[string]string{"hostname": a.hostname, "ip": AgentIP}, "statuses": statuses})
	}
	writeJSON(w, map[string]any{"draining_machines": draining, "down_machines": []any{}})
}

// validateSchedule returns maintenance::validation::schedule's error
// message, or "".
func validateSchedule(s *maintenance.Schedule) string {
	seen := map[string]bool{}
	for _, win := range s.Windows {
		if len(win.MachineIDs) == 0 {
			return "List of machines in the maintenance window is empty"
		}
		if d := win.Unavailability.Duration; d != nil && d.Nanoseconds < 0 {
			return "Unavailability 'duration' is negative"
		}
		for _, id := range win.MachineIDs {
			if id.GetHostname() == "" && id.GetIP() == "" {
				return "Both 'hostname' and 'ip' for a machine are empty"
			}
			key := strings.ToLower(id.GetHostname()) + "\x00" + id.GetIP()
			if seen[key] {
				b, _ := json.Marshal(map[string]string{"hostname": id.GetHostname(), "ip": id.GetIP()})
				return "Machine '" + string(b) + "' appears more than once in the schedule"
			}
			seen[key] = true
		}
	}
	return ""
}

// unavailabilityLocked is the window an agent's machine is in, if any.
func (c *Cluster) unavailabilityLocked(a *Agent) *mesos.Unavailability {
	for i := range c.schedule.Windows {
		win := &c.schedule.Windows[i]
		for _, id := range win.MachineIDs {
			if strings.EqualFold(id.GetHostname(), a.hostname) && id.GetIP() == AgentIP {
				u := win.Unavailability
				return &u
			}
		}
	}
	return nil
}

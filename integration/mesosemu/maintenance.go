package mesosemu

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/maintenance"
)

// The maintenance schedule, as the master's /master/maintenance/schedule
// keeps it (src/master/http.cpp maintenanceSchedule, validated as in
// src/master/maintenance.cpp): a POST replaces the whole schedule; the
// offers of an agent whose machine is in a window carry that window as
// their unavailability (Master::offer). A machine is the agent's
// (hostname, IP); the emulated agents' IP is 127.0.0.1, and both fields
// must match (hostnames case-insensitively), as MachineID equality does.
//
// Not emulated: inverse offers to the frameworks running tasks on those
// machines, and the machine modes (/machine/down, /machine/up).

// AgentIP is the IP of every emulated agent's machine ID.
const AgentIP = "127.0.0.1"

func (m *Master) handleMaintenanceSchedule(w http.ResponseWriter, r *http.Request) {
	if !m.isElected() {
		m.redirect(w, r, r.URL.Path)
		return
	}
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
	m.c.mu.Unlock()
	w.WriteHeader(http.StatusOK)
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

package mesosemu

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

func (m *Master) registerOperatorRoutes(mux *http.ServeMux) {
	for _, p := range []string{"/master/state", "/master/state.json", "/state", "/state.json"} {
		mux.HandleFunc(p, m.leaderOnly(m.handleState))
	}
	for _, p := range []string{"/master/slaves", "/master/slaves.json", "/slaves", "/slaves.json"} {
		mux.HandleFunc(p, m.leaderOnly(m.handleSlaves))
	}
	for _, p := range []string{"/master/redirect", "/redirect"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { m.redirect(w, r, "") })
	}
	for _, p := range []string{"/health", "/master/health"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	}
	for _, p := range []string{"/master/maintenance/schedule", "/maintenance/schedule"} {
		mux.HandleFunc(p, m.leaderOnly(m.handleMaintenanceSchedule))
	}
	for _, p := range []string{"/master/maintenance/status", "/maintenance/status"} {
		mux.HandleFunc(p, m.leaderOnly(m.handleMaintenanceStatus))
	}
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"version": Version, "build_user": "mesos-emulator", "git_sha": "", "build_date": ""})
	})
}

// leaderOnly serves h on the leading master; a standby (or a master not
// running) redirects the request, query and all, to the leader, as
// Mesos' leader-only endpoints do.
func (m *Master) leaderOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !m.isElected() {
			m.redirect(w, r, r.URL.Path)
			return
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// resourcesJSON renders resources as the /state endpoints do:
// {"cpus":4.0,"mem":8192.0,"disk":20000.0,"gpus":0.0,"ports":"[31000-32000]"}.
func resourcesJSON(rs mesos.Resources) map[string]any {
	out := map[string]any{"cpus": 0.0, "mem": 0.0, "disk": 0.0, "gpus": 0.0}
	for _, r := range rs {
		switch r.GetType() {
		case mesos.SCALAR:
			prev, _ := out[r.Name].(float64)
			out[r.Name] = prev + r.GetScalar().GetValue()
		case mesos.RANGES:
			var parts []string
			if prev, ok := out[r.Name].(string); ok {
				parts = append(parts, strings.Trim(prev, "[]"))
			}
			for _, rg := range r.GetRanges().GetRange() {
				parts = append(parts, strconv.FormatUint(rg.Begin, 10)+"-"+strconv.FormatUint(rg.End, 10))
			}
			out[r.Name] = "[" + strings.Join(parts, ", ") + "]"
		case mesos.SET:
			out[r.Name] = "{" + strings.Join(r.GetSet().GetItem(), ", ") + "}"
		}
	}
	return out
}

func attributesJSON(as []mesos.Attribute) map[string]any {
	out := map[string]any{}
	for _, a := range as {
		switch a.Type {
		case mesos.SCALAR:
			out[a.Name] = a.GetScalar().GetValue()
		case mesos.TEXT:
			out[a.Name] = a.GetText().GetValue()
		}
	}
	return out
}

func secs(t interface{ UnixNano() int64 }) float64 { return float64(t.UnixNano()) / 1e9 }

// slavesLocked is the registered, reachable agents as /master/state and
// /master/slaves list them (only the one with ID id, when id is set), and
// how many are active and unreachable.
func (m *Master) slavesLocked(id string) (slaves []map[string]any, active, unreachable int) {
	offeredBy := map[*Agent]mesos.Resources{}
	for _, o := range m.offers {
		rs := offeredBy[o.agent]
		offeredBy[o.agent] = resPlus(rs, o.resources...)
	}
	slaves = []map[string]any{}
	for _, a := range m.c.agents {
		if a.removed || a.recovering {
			continue
		}
		if a.partitioned {
			unreachable++
			continue
		}
		active++
		if id != "" && a.id != id {
			continue
		}
		unres := mesos.Resources{}
		for _, rs := range a.total {
			if len(rs.Reservations) == 0 {
				unres.Add1(rs)
			}
		}
		slaves = append(slaves, map[string]any{
			"id": a.id, "hostname": a.hostname, "port": a.port, "pid": a.pid(),
			"registered_time": secs(a.registeredTime), "active": true, "version": Version,
			"resources": resourcesJSON(a.total), "used_resources": resourcesJSON(a.used),
			"offered_resources": resourcesJSON(offeredBy[a]), "unreserved_resources": resourcesJSON(unres),
			"reserved_resources": map[string]any{}, "attributes": attributesJSON(a.attributes),
			"capabilities": []string{"MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"},
			"deactivated":  false,
		})
	}
	return slaves, active, unreachable
}

// handleSlaves is GET /master/slaves[?slave_id=ID] (readonly_handler.cpp
// SlavesWriter): the agents, and recovered_slaves (none here). Standbys
// redirect to the leader.
func (m *Master) handleSlaves(w http.ResponseWriter, r *http.Request) {
	m.c.mu.Lock()
	slaves, _, _ := m.slavesLocked(r.URL.Query().Get("slave_id"))
	m.c.mu.Unlock()
	writeJSON(w, map[string]any{"slaves": slaves, "recovered_slaves": []any{}})
}

// handleState is GET /master/state: the fields of the real /state JSON
// that the emulator has. Standbys redirect to the leader.
func (m *Master) handleState(w http.ResponseWriter, r *http.Request) {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	info := m.info
	leader := map[string]any{"id": info.ID, "ip": info.IP, "port": info.GetPort(), "pid": info.GetPID(), "hostname": info.GetHostname(), "version": info.GetVersion(),
		"address": map[string]any{"hostname": info.GetHostname(), "ip": info.Address.GetIP(), "port": info.GetPort()}}
	slaves, active, unreachable := m.slavesLocked("")
	var frameworks []map[string]any
	for _, id := range m.frameworkIDs() {
		frameworks = append(frameworks, m.frameworkJSON(m.frameworks[id]))
	}
	var completed []map[string]any
	for _, fw := range m.completed {
		completed = append(completed, m.frameworkJSON(fw))
	}
	var orphans []map[string]any
	for _, a := range m.c.agents {
		for _, t := range a.tasks {
			if m.frameworks[t.fw] == nil {
				orphans = append(orphans, taskJSON(t))
			}
		}
	}
	if slaves == nil {
		slaves = []map[string]any{}
	}
	if frameworks == nil {
		frameworks = []map[string]any{}
	}
	if completed == nil {
		completed = []map[string]any{}
	}
	if orphans == nil {
		orphans = []map[string]any{}
	}
	writeJSON(w, map[string]any{
		"version": Version, "id": info.ID, "pid": info.GetPID(), "hostname": info.GetHostname(),
		"start_time": secs(m.startTime), "elected_time": secs(m.electedTime),
		"activated_slaves": active, "deactivated_slaves": 0, "unreachable_slaves": unreachable,
		"leader": info.GetPID(), "leader_info": leader,
		"flags":  map[string]any{"allocation_interval": m.c.cfg.AllocationInterval.String(), "max_completed_frameworks": strconv.Itoa(m.c.cfg.MaxCompletedFrameworks)},
		"slaves": slaves, "frameworks": frameworks, "completed_frameworks": completed,
		"orphan_tasks": orphans, "unregistered_frameworks": []string{},
	})
}

func (m *Master) frameworkJSON(fw *Framework) map[string]any {
	used, offered := mesos.Resources{}, mesos.Resources{}
	var tasks, unreachable []map[string]any
	for _, a := range m.c.agents {
		for _, t := range a.tasksOf(fw.id) {
			if t.masterState == mesos.TASK_UNREACHABLE {
				unreachable = append(unreachable, taskJSON(t))
				continue
			}
			tasks = append(tasks, taskJSON(t))
			if !t.freed {
				used = resPlus(used, t.resources...)
			}
		}
	}
	var offers []map[string]any
	for _, o := range fw.offers {
		offered = resPlus(offered, o.resources...)
		offers = append(offers, map[string]any{"id": o.id, "framework_id": fw.id, "slave_id": o.agent.id, "resources": resourcesJSON(o.resources)})
	}
	var completedTasks []map[string]any
	for _, t := range fw.completedTasks {
		completedTasks = append(completedTasks, taskJSON(t))
	}
	caps := []string{}
	for _, c := range fw.info.Capabilities {
		caps = append(caps, c.Type.String())
	}
	orEmpty := func(v []map[string]any) []map[string]any {
		if v == nil {
			return []map[string]any{}
		}
		return v
	}
	out := map[string]any{
		"id": fw.id, "name": fw.info.Name, "user": fw.info.User, "hostname": fw.info.GetHostname(),
		"webui_url": fw.info.GetWebUiURL(), "principal": fw.info.GetPrincipal(),
		"failover_timeout": fw.info.GetFailoverTimeout(), "checkpoint": fw.info.GetCheckpoint(),
		"role": fw.roles()[0], "roles": fw.roles(), "capabilities": caps,
		"active": fw.active, "connected": fw.sub != nil, "recovered": false,
		"registered_time": secs(fw.registeredTime), "reregistered_time": secs(fw.reregisteredTime),
		"unregistered_time": 0.0,
		"used_resources":    resourcesJSON(used), "offered_resources": resourcesJSON(offered), "resources": resourcesJSON(resPlus(used, offered...)),
		"tasks": orEmpty(tasks), "unreachable_tasks": orEmpty(unreachable), "completed_tasks": orEmpty(completedTasks),
		"offers": orEmpty(offers), "executors": []any{},
	}
	if fw.removed {
		out["unregistered_time"] = secs(fw.unregisteredTime)
	}
	return out
}

func taskJSON(t *Task) map[string]any {
	var statuses []map[string]any
	for _, s := range t.history {
		statuses = append(statuses, map[string]any{"state": s.GetState().String(), "timestamp": s.GetTimestamp()})
	}
	if statuses == nil {
		statuses = []map[string]any{}
	}
	out := map[string]any{
		"id": t.info.TaskID.Value, "name": t.info.Name, "framework_id": t.fw, "executor_id": "", "role": t.role,
		"slave_id": t.a.id, "state": t.masterState.String(), "resources": resourcesJSON(t.resources),
		"statuses": statuses,
	}
	// As common/http.cpp writes a Task: labels as an array of {key,
	// value}, the container as its protobuf JSON (unset fields left out).
	if t.info.Labels != nil {
		labels := []map[string]any{}
		for _, l := range t.info.Labels.Labels {
			e := map[string]any{"key": l.Key}
			if l.Value != nil {
				e["value"] = l.GetValue()
			}
			labels = append(labels, e)
		}
		out["labels"] = labels
	}
	if len(t.info.Limits) > 0 {
		// Mesos writes an infinite limit as a bare Infinity (rapidjson's
		// kWriteNanAndInfFlag), which is not JSON: here it is the string
		// "Infinity", the spelling Mesos reads in a JSON call.
		limits := map[string]any{}
		for name, v := range t.info.Limits {
			if math.IsInf(v.Value, 1) {
				limits[name] = "Infinity"
			} else {
				limits[name] = v.Value
			}
		}
		out["limits"] = limits
	}
	if t.info.Container != nil {
		if b, err := json.Marshal(t.info.Container); err == nil {
			out["container"] = json.RawMessage(stripNulls(b))
		}
	}
	return out
}

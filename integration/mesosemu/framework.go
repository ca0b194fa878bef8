package mesosemu

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// Framework is a framework known to a master.
type Framework struct {
	id   string
	info mesos.FrameworkInfo
	sub  *subscription

	registeredTime   time.Time
	reregisteredTime time.Time
	unregisteredTime time.Time
	active           bool
	suppressed       map[string]bool
	filters          map[string]*refusalFilter // role + "\x00" + agent ID
	offers           map[string]*Offer
	failoverTimer    *time.Timer
	removed          bool
	// completedTasks keeps terminal tasks for /master/state.
	completedTasks []*Task
}

func (fw *Framework) has(c mesos.FrameworkInfo_Capability_Type) bool {
	for _, cp := range fw.info.Capabilities {
		if cp.Type == c {
			return true
		}
	}
	return false
}

func (fw *Framework) multiRole() bool { return fw.has(mesos.FrameworkInfo_Capability_MULTI_ROLE) }
func (fw *Framework) partitionAware() bool {
	return fw.has(mesos.FrameworkInfo_Capability_PARTITION_AWARE)
}

// roles are the framework's roles: FrameworkInfo.roles for MULTI_ROLE
// frameworks, the deprecated single role (default "*") otherwise.
func (fw *Framework) roles() []string {
	if fw.multiRole() {
		return fw.info.Roles
	}
	return []string{fw.info.GetRole()}
}

func (fw *Framework) hasRole(role string) bool {
	for _, r := range fw.roles() {
		if r == role {
			return true
		}
	}
	return false
}

func (fw *Framework) connected() bool { return fw.sub != nil }

// send delivers an event if the framework is connected; events for a
// disconnected framework are dropped, as the master drops them.
func (fw *Framework) send(ev *scheduler.Event) {
	if fw.sub != nil {
		fw.sub.send(ev)
	}
}

// validateFrameworkInfo applies the master's FrameworkInfo checks whose
// failures refuse a subscription with an ERROR event.
func validateFrameworkInfo(fi *mesos.FrameworkInfo) string {
	multi := false
	for _, c := range fi.Capabilities {
		if c.Type == mesos.FrameworkInfo_Capability_MULTI_ROLE {
			multi = true
		}
	}
	if !multi && len(fi.Roles) > 0 {
		return "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"
	}
	if multi && fi.Role != nil {
		return "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable"
	}
	seen := map[string]bool{}
	roles := fi.Roles
	if !multi {
		roles = []string{fi.GetRole()}
	}
	for _, r := range roles {
		if err := validateRole(r); err != "" {
			return err
		}
		if seen[r] {
			return fmt.Sprintf("'FrameworkInfo.roles' contains duplicate items: %s", r)
		}
		seen[r] = true
	}
	if fi.FailoverTimeout != nil {
		ft := *fi.FailoverTimeout
		if math.IsNaN(ft) || math.IsInf(ft, 0) || ft < 0 {
			return fmt.Sprintf("The framework failover_timeout (%g) is invalid", ft)
		}
	}
	return ""
}

func validateRole(r string) string {
	switch {
	case r == "":
		return "Role name cannot be empty"
	case r == "." || r == "..":
		return fmt.Sprintf("Role '%s' cannot be '.' or '..'", r)
	case strings.HasPrefix(r, "-"):
		return fmt.Sprintf("Role '%s' cannot start with '-'", r)
	case strings.ContainsAny(r, " \t\n\\\x7f"):
		return fmt.Sprintf("Role '%s' cannot include whitespace, backslash or control characters", r)
	}
	return ""
}

// subscribeLocked runs Master::subscribe for an HTTP scheduler. It returns
// the framework on success; on refusal it has already queued the ERROR on
// sub and closed it.
func (m *Master) subscribeLocked(sub *subscription, call *scheduler.Call_Subscribe) *Framework {
	fi := *call.FrameworkInfo
	if msg := validateFrameworkInfo(&fi); msg != "" {
		sub.close(msg)
		return nil
	}
	id := ""
	if fi.ID != nil {
		id = fi.ID.Value
	}
	if id != "" {
		for _, done := range m.completed {
			if done.id == id {
				sub.close("Framework has been removed")
				return nil
			}
		}
	}
	probe := &Framework{info: fi}
	roleSet := map[string]bool{}
	for _, r := range probe.roles() {
		roleSet[r] = true
	}
	var missing []string
	for _, r := range call.SuppressedRoles {
		if !roleSet[r] {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		sub.close(fmt.Sprintf("Suppressed roles '{ %s }' are not contained in the set of roles", strings.Join(missing, ", ")))
		return nil
	}

	now := m.c.clock.Now()
	fw := m.frameworks[id]
	if fw != nil {
		// Failover of a known framework: the newest subscription wins.
		if fw.sub != nil {
			fw.sub.close("Framework failed over")
		}
		if fw.failoverTimer != nil {
			fw.failoverTimer.Stop()
			fw.failoverTimer = nil
		}
		// Outstanding offers are discarded, not rescinded.
		for oid := range fw.offers {
			m.removeOfferLocked(oid, false)
		}
		preserved := fw.info
		fw.info = fi
		fw.info.User = preserved.User
		fw.info.Checkpoint = preserved.Checkpoint
		fw.info.Principal = preserved.Principal
		fw.reregisteredTime = now
	} else {
		if id == "" {
			id = fmt.Sprintf("%s-%04d", m.info.ID, m.nextFw)
			m.nextFw++
		}
		fi.ID = &mesos.FrameworkID{Value: id}
		fw = &Framework{
			id:             id,
			info:           fi,
			registeredTime: now,
			filters:        map[string]*refusalFilter{},
			offers:         map[string]*Offer{},
		}
		fw.reregisteredTime = now
		m.frameworks[id] = fw
	}
	fw.info.ID = &mesos.FrameworkID{Value: id}
	fw.sub = sub
	fw.active = true
	// suppressed_roles sets the suppression state exactly; roles not listed
	// are revived and their filters cleared.
	fw.suppressed = map[string]bool{}
	for _, r := range call.SuppressedRoles {
		fw.suppressed[r] = true
	}
	for key := range fw.filters {
		role, _, _ := strings.Cut(key, "\x00")
		if !fw.suppressed[role] {
			delete(fw.filters, key)
		}
	}
	hb := m.c.cfg.Heartbeat.Seconds()
	info := m.info
	sub.send(&scheduler.Event{
		Type: scheduler.Event_SUBSCRIBED,
		Subscribed: &scheduler.Event_Subscribed{
			FrameworkID:              &mesos.FrameworkID{Value: id},
			HeartbeatIntervalSeconds: &hb,
			MasterInfo:               &info,
		},
	})
	sub.send(&scheduler.Event{Type: scheduler.Event_HEARTBEAT})
	m.resumeUpdatesLocked(fw)
	m.c.log.WithField("framework_id", id).Info("framework subscribed")
	m.c.allocateSoonLocked()
	return fw
}

// resumeUpdatesLocked is the master telling every agent that the
// framework is back (UpdateFrameworkMessage): each agent's status update
// manager resumes its streams, resending the head update of every task at
// once with the retry interval reset (slave.cpp updateFramework, resume()).
func (m *Master) resumeUpdatesLocked(fw *Framework) {
	for _, a := range m.c.agents {
		if !a.reachable() {
			continue
		}
		for _, t := range a.tasksOf(fw.id) {
			if len(t.pending) > 0 {
				t.backoff = statusRetryMin
				a.forwardHeadLocked(t)
			}
		}
	}
}

// exitedLocked runs when a subscription's connection closes.
func (m *Master) exitedLocked(fw *Framework, sub *subscription) {
	if fw.sub != sub || fw.removed {
		return
	}
	fw.sub = nil
	fw.active = false
	fw.unregisteredTime = m.c.clock.Now()
	for oid := range fw.offers {
		// Rescinded, but the RESCIND cannot be delivered any more.
		m.removeOfferLocked(oid, false)
	}
	timeout := time.Duration(fw.info.GetFailoverTimeout() * float64(time.Second))
	reg := fw.reregisteredTime
	m.c.log.WithField("framework_id", fw.id).Infof("framework disconnected; failover timeout %s", timeout)
	fw.failoverTimer = m.c.clock.AfterFunc(timeout, func() {
		m.c.mu.Lock()
		defer m.c.mu.Unlock()
		if m.frameworks[fw.id] == fw && fw.sub == nil && fw.reregisteredTime.Equal(reg) {
			m.c.log.WithField("framework_id", fw.id).Info("framework failover timeout expired")
			m.removeFrameworkLocked(fw)
		}
	})
}

// removeFrameworkLocked kills all the framework's tasks and moves it to the
// bounded completed list; its ID can never subscribe again on this master.
func (m *Master) removeFrameworkLocked(fw *Framework) {
	if fw.removed {
		return
	}
	fw.removed = true
	fw.active = false
	if fw.failoverTimer != nil {
		fw.failoverTimer.Stop()
	}
	for oid := range fw.offers {
		m.removeOfferLocked(oid, false)
	}
	for _, a := range m.c.agents {
		for _, t := range a.tasksOf(fw.id) {
			a.destroyTaskLocked(t)
			// Master::removeFramework: the master's copy of each task ends
			// as TASK_KILLED among the framework's completed tasks.
			if !isTerminal(t.masterState) {
				t.masterState = mesos.TASK_KILLED
				now := float64(m.c.clock.Now().UnixNano()) / 1e9
				t.history = append(t.history, mesos.TaskStatus{TaskID: t.info.TaskID, State: mesos.TASK_KILLED.Enum(), Timestamp: &now})
			}
			fw.completedTasks = append(fw.completedTasks, t)
		}
	}
	if n := len(fw.completedTasks) - 1000; n > 0 {
		fw.completedTasks = fw.completedTasks[n:]
	}
	if fw.sub != nil {
		fw.sub.close("")
		fw.sub = nil
	}
	fw.unregisteredTime = m.c.clock.Now()
	delete(m.frameworks, fw.id)
	m.completed = append(m.completed, fw)
	if n := len(m.completed) - m.c.cfg.MaxCompletedFrameworks; n > 0 {
		m.completed = m.completed[n:]
	}
}

// updateFrameworkLocked applies UPDATE_FRAMEWORK; it returns an HTTP status
// and message for errors.
func (m *Master) updateFrameworkLocked(fw *Framework, u *scheduler.Call_UpdateFramework) (int, string) {
	fi := u.FrameworkInfo
	if fi.ID == nil || fi.ID.Value != fw.id {
		return 400, "Failed to validate scheduler::Call: 'framework_id' differs from 'update_framework.framework_info.id'"
	}
	if msg := validateFrameworkInfo(&fi); msg != "" {
		return 400, msg
	}
	if fi.User != fw.info.User {
		return 400, "Updating 'FrameworkInfo.user' is unsupported"
	}
	if fi.GetCheckpoint() != fw.info.GetCheckpoint() {
		return 400, "Updating 'FrameworkInfo.checkpoint' is unsupported"
	}
	if fi.GetPrincipal() != fw.info.GetPrincipal() {
		return 400, "Changing framework's principal is not allowed."
	}
	probe := &Framework{info: fi}
	for _, r := range u.SuppressedRoles {
		if !probe.hasRole(r) {
			return 400, fmt.Sprintf("Suppressed roles '{ %s }' are not contained in the set of roles", r)
		}
	}
	fw.info = fi
	fw.suppressed = map[string]bool{}
	for _, r := range u.SuppressedRoles {
		fw.suppressed[r] = true
	}
	for oid, o := range fw.offers {
		if !fw.hasRole(o.role) {
			m.rescindOfferLocked(oid)
		}
	}
	m.c.allocateSoonLocked()
	return 200, ""
}

func (m *Master) frameworkIDs() []string {
	ids := make([]string, 0, len(m.frameworks))
	for id := range m.frameworks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

package scheduler

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// health is one template's record of failures: node creations in
// Jenkins, and launches in Mesos (a task that ended before its agent
// connected, or an agent that never connected).
//
// Launch failures back off exponentially (LaunchBackoff doubling up to
// LaunchBackoffMax), and after a failure only one agent of the template
// is on its way up at a time until one connects. After BreakerThreshold failures in a row the breaker
// opens: no agent of the template is created for BreakerCooldown, then
// one probe agent at a time until one connects (which closes it) or
// fails (which opens it again). A configuration error — the master
// refused the task, or the executor could not start the container — opens
// it at once: retrying cannot help, only a changed template can (a config
// reload resets the record of every template it changes).
type health struct {
	createFails int
	createAfter time.Time
	createErr   string

	launchFails int
	launchAfter time.Time
	launchErr   string
	failedTask  string // the task of the last launch failure, whose output may follow
	open        bool   // the breaker: creations stop until launchAfter, then one probe
	configError bool   // the last failure was a configuration error
}

// blockedUntil is when the template may create agents again (zero: now).
func (h *health) blockedUntil() time.Time {
	if h.createAfter.After(h.launchAfter) {
		return h.createAfter
	}
	return h.launchAfter
}

// configErrorOf tells whether a task's end before its agent connected
// says the template is wrong, not the cluster unlucky:
//   - TASK_ERROR: the master refused the task (validation);
//   - TASK_FAILED from the executor without a reason while the task was
//     not yet running: the Docker executor could not build its run
//     options, or `docker run` itself refused them (exit status 125).
//
// A failed image pull (REASON_CONTAINER_LAUNCH_FAILED) is not: the
// registry may be down, so it backs off and retries.
func configErrorOf(st *mesos.TaskStatus, wasRunning bool) bool {
	switch st.GetState() {
	case mesos.TASK_ERROR:
		return true
	case mesos.TASK_FAILED:
		if st.Reason != nil || st.GetSource() != mesos.SOURCE_EXECUTOR || wasRunning {
			return false
		}
		msg := st.GetMessage()
		return strings.Contains(msg, "Failed to create docker run options") || strings.Contains(msg, "exited with status 125")
	}
	return false
}

// launchFailed records a launch of agent a that failed with reason.
func (c *Core) launchFailed(a *agent, reason string, configErr bool) {
	if a.tmpl < 0 {
		return
	}
	h := &c.health[a.tmpl]
	h.launchFails++
	h.launchErr = reason
	h.failedTask = a.name
	h.configError = configErr
	fields := map[string]string{"node": a.name, "task_id": a.name, "agent_id": a.agentID, "template": c.cfg.Templates[a.tmpl].Name}
	wait := c.cfg.LaunchBackoff << min(h.launchFails-1, 16)
	if wait > c.cfg.LaunchBackoffMax || wait <= 0 {
		wait = c.cfg.LaunchBackoffMax
	}
	switch {
	case configErr || h.launchFails >= c.cfg.BreakerThreshold:
		wasOpen := h.open
		h.open = true
		h.launchAfter = c.now.Add(c.cfg.BreakerCooldown)
		why := fmt.Sprintf("%d launch failures in a row", h.launchFails)
		if configErr {
			why = "a configuration error"
		}
		if !wasOpen {
			c.note("breaker_open", fmt.Sprintf("template %s: launches stopped for %s after %s; last: %s (fix the template and send SIGHUP to retry at once)",
				c.cfg.Templates[a.tmpl].Name, c.cfg.BreakerCooldown, why, reason), fields)
		}
		// Agents created for it would only fail the same way.
		for _, b := range c.sortedAgents() {
			if b.tmpl == a.tmpl && (b.state == stReady || b.state == stCreating) {
				c.retire(b, "withdrawn", "launches of template "+c.cfg.Templates[a.tmpl].Name+" are stopped")
			}
		}
	default:
		h.launchAfter = c.now.Add(wait)
	}
	c.note("launch_failed", "launch of "+a.name+" failed: "+reason, fields)
}

// launchSucceeded: an agent of template t connected; its breaker closes.
func (c *Core) launchSucceeded(t int) {
	if t < 0 {
		return
	}
	h := &c.health[t]
	if h.open {
		c.note("breaker_closed", "template "+c.cfg.Templates[t].Name+": an agent connected; launches resume", map[string]string{"template": c.cfg.Templates[t].Name})
	}
	h.launchFails, h.launchAfter, h.launchErr, h.failedTask, h.open, h.configError = 0, time.Time{}, "", "", false, false
}

// readOutput asks the driver for the end of a's container output: a
// task that failed to start or to connect, or that ended by itself.
func (c *Core) readOutput(a *agent) {
	if a.agentID == "" {
		return // never launched: no sandbox
	}
	c.pending.Outputs = append(c.pending.Outputs, OutputRead{Task: a.name, Agent: a.agentID})
}

// maxOutputLine bounds the output a reason quotes, in bytes.
const maxOutputLine = 200

// onAgentOutput quotes the end of a failed agent's output in its
// template's failure reason: what the container said is often the
// whole explanation (a Jenkins URL it cannot reach, `java` missing).
func (c *Core) onAgentOutput(e AgentOutput) {
	line := strings.Join(strings.Fields(e.Last), " ")
	if line == "" {
		return
	}
	if len(line) > maxOutputLine {
		line = strings.ToValidUTF8(line[:maxOutputLine], "") + "…"
	}
	for t := range c.health {
		h := &c.health[t]
		if h.failedTask == e.Task && h.launchErr != "" {
			h.launchErr += "; its output ends: " + line
			h.failedTask = "" // quoted once
		}
	}
}

// mayCreate is how many agents template t may create now (-1: no limit
// from its health).
func (c *Core) mayCreate(t int) int {
	h := &c.health[t]
	if c.now.Before(h.blockedUntil()) {
		return 0
	}
	if h.launchFails == 0 {
		return -1
	}
	// After a failure, and while the breaker is half open: one agent at
	// a time until one connects, so a bad template costs one launch per
	// backoff step, not one per waiting build.
	for _, a := range c.agents {
		if a.tmpl == t && a.state < stOnline {
			return 0
		}
	}
	return 1
}

// healthReason explains a template that may not create agents now.
func (c *Core) healthReason(t int) (code, reason string, ok bool) {
	h := &c.health[t]
	switch {
	case c.now.Before(h.createAfter) && !h.createAfter.Before(h.launchAfter):
		return "backoff", fmt.Sprintf("node creation failing: %s; retry in %s", h.createErr, h.createAfter.Sub(c.now)), true
	case h.open && c.now.Before(h.launchAfter):
		kind := fmt.Sprintf("%d launches failed in a row", h.launchFails)
		if h.configError {
			kind = "the template is refused"
		}
		return "breaker_open", fmt.Sprintf("launches stopped (%s): %s; next try in %s", kind, h.launchErr, h.launchAfter.Sub(c.now)), true
	case h.open:
		return "breaker_probe", "launches failed (" + h.launchErr + "); trying one agent", true
	case c.now.Before(h.launchAfter):
		return "launch_backoff", fmt.Sprintf("launch failed: %s; retry in %s", h.launchErr, h.launchAfter.Sub(c.now)), true
	case h.launchFails > 0:
		return "launch_retry", "launch failed (" + h.launchErr + "); trying one agent before the others", true
	}
	return "", "", false
}

// onReconfigured takes a reloaded configuration. Agents keep running;
// an agent whose template is gone finishes what it does and is not
// replaced (one not yet launched is withdrawn). A template whose
// definition changed starts with a clean record — fixing a bad image and
// reloading closes its breaker — while an unchanged one keeps its record.
func (c *Core) onReconfigured(cfg Config) {
	cfg = cfg.WithDefaults()
	cfg.FrameworkName, cfg.JenkinsURL = c.cfg.FrameworkName, c.cfg.JenkinsURL
	// Templates derived for what builds chose are derived again from
	// their base in the new configuration, when it still allows that.
	cfg.Templates = slices.Clip(cfg.Templates)
	for i := range c.cfg.Templates {
		old := &c.cfg.Templates[i]
		if !old.derived {
			continue
		}
		baseName := c.cfg.Templates[old.base].Name
		for b := range cfg.Templates {
			if nb := &cfg.Templates[b]; !nb.derived && nb.Name == baseName {
				if d, why := variantOf(*nb, b, old.variant); why.code == "" {
					cfg.Templates = append(cfg.Templates, d)
				}
				break
			}
		}
	}
	c.badVariants = nil
	idx := make(map[string]int, len(cfg.Templates))
	for i := range cfg.Templates {
		idx[cfg.Templates[i].Name] = i
	}
	hs := make([]health, len(cfg.Templates))
	var changed, removed []string
	for i := range c.cfg.Templates {
		old := &c.cfg.Templates[i]
		j, ok := idx[old.Name]
		switch {
		case !ok:
			removed = append(removed, old.Name)
		case reflect.DeepEqual(*old, cfg.Templates[j]):
			hs[j] = c.health[i]
		default:
			changed = append(changed, old.Name)
		}
	}
	for _, a := range c.sortedAgents() {
		if a.tmpl < 0 {
			continue
		}
		j, ok := idx[c.cfg.Templates[a.tmpl].Name]
		if !ok {
			j = -1
		}
		a.tmpl = j
	}
	c.cfg = cfg
	c.health = hs
	c.needs = c.needs[:0]
	for i := range cfg.Templates {
		c.needs = append(c.needs, cfg.Templates[i].need())
	}
	c.unmet = map[int]string{}
	for _, a := range c.sortedAgents() {
		if a.tmpl < 0 && (a.state == stCreating || a.state == stReady) {
			c.retire(a, "withdrawn", "its template was removed")
		}
	}
	c.note("reconfigured", fmt.Sprintf("configuration reloaded: %d templates; changed: %s; removed: %s", len(cfg.Templates), listOrNone(changed), listOrNone(removed)), nil)
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

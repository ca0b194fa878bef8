package scheduler

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/offers"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// RetireMessage is the offline message of a one-shot agent after its build.
const RetireMessage = "retiring after this build"

// onUpdate follows a task's state. Updates with a uuid are acknowledged
// in the same Ready, after its Persist; master-generated ones (no uuid)
// never are.
func (c *Core) onUpdate(st mesos.TaskStatus) {
	id := st.TaskID.Value
	state := st.GetState()
	agentID := st.GetAgentID().GetValue()
	defer func() {
		if len(st.UUID) > 0 && agentID != "" {
			c.call(calls.Acknowledge(agentID, id, st.UUID))
		}
	}()
	a := c.agents[id]
	if a == nil {
		if isTerminal(state) {
			delete(c.orphans, id)
		} else {
			o, known := c.orphans[id]
			if !known {
				o.seenAt = c.now
			}
			o.agentID = agentID
			c.orphans[id] = o // decided once the node list is known
		}
		return
	}
	if agentID != "" {
		a.agentID = agentID
	}
	fields := map[string]string{"node": a.name, "task_id": id, "agent_id": a.agentID}
	if a.heldSince.IsZero() && !isTerminal(state) {
		a.heldSince = c.now // a task this process did not launch, first heard of
	}
	if a.state == stDeleting && !isTerminal(state) {
		// Its task reports in after the agent was given up (a restart's
		// orphan check, a node that vanished): kill it, or it would run on
		// with no node. Running again after a KILL means the KILL did not
		// take — the master does not kill an unreachable task, it answers
		// with a reconciliation — so it is sent again now that the agent
		// is back.
		a.taskLive = true
		if state == mesos.TASK_RUNNING || state == mesos.TASK_STARTING || state == mesos.TASK_STAGING {
			a.taskKilled = false
		}
		c.kill(a)
		return
	}
	switch {
	case state == mesos.TASK_STAGING || state == mesos.TASK_STARTING:
		a.taskLive = true
		if a.state == stLaunching {
			a.state = stStarting
		}
	case state == mesos.TASK_RUNNING:
		a.taskLive = true
		if !a.unreachableSince.IsZero() {
			a.unreachableSince = time.Time{}
			c.note("task_reachable", "task "+id+" reachable again", fields)
		}
		if a.state == stLaunching || a.state == stStarting {
			a.state = stRunning
			c.note("task_running", "task "+id+" running on "+a.host, fields)
		}
	case state == mesos.TASK_UNREACHABLE:
		// The agent may come back (PARTITION_AWARE): keep the node for
		// UnreachableGrace.
		if a.unreachableSince.IsZero() {
			a.unreachableSince = c.now
			c.note("task_unreachable", fmt.Sprintf("task %s unreachable; its node is kept for %s in case the agent comes back", id, c.cfg.UnreachableGrace), fields)
		}
	case state == mesos.TASK_KILLING:
	case isTerminal(state):
		wasLive := a.taskLive
		a.taskLive = false
		if a.heldUntil.IsZero() {
			a.heldUntil = c.now
		}
		reason := state.String()
		if st.Reason != nil {
			reason += " (" + st.GetReason().String() + ")"
		}
		if st.GetMessage() != "" {
			reason += ": " + st.GetMessage()
		}
		if a.state < stOnline && a.state >= stLaunching && wasLive {
			c.launchFailed(a, reason, configErrorOf(&st, a.state == stRunning))
		}
		if a.state != stDeleting {
			c.readOutput(a) // it ended by itself: its output says why
			c.retire(a, "task_ended", "task ended: "+reason)
		}
		c.forget(a)
	}
}

// retire takes an agent down: its node is deleted and its task killed.
// The core never calls it for a node that is running a build.
func (c *Core) retire(a *agent, code, why string) {
	if a.state == stDeleting {
		return
	}
	a.state = stDeleting
	if !a.nodeGone {
		c.deleteNode(a)
	}
	c.kill(a)
	c.note(code, a.name+": "+why, map[string]string{"node": a.name, "task_id": a.name, "agent_id": a.agentID})
	c.forget(a)
}

// tickDue names what is due for an agent now.
type tickDue int

const (
	dueNothing tickDue = iota
	dueUnreachable
	dueTemplateRemoved
	dueConnectTimeout
	dueUnused
	dueIdle
)

// tickAction is what is due for agent a now.
func (c *Core) tickAction(a *agent) tickDue {
	if !a.unreachableSince.IsZero() && a.state != stDeleting && c.due(a.unreachableSince.Add(c.cfg.UnreachableGrace)) && a.busy == 0 {
		return dueUnreachable
	}
	if a.tmpl < 0 {
		if a.state == stOnline && a.busy == 0 {
			return dueTemplateRemoved
		}
		return dueNothing
	}
	t := &c.cfg.Templates[a.tmpl]
	switch {
	case (a.state == stLaunching || a.state == stStarting || a.state == stRunning) && c.due(a.launchedAt.Add(t.ConnectTimeout)):
		return dueConnectTimeout
	case a.state == stOnline && t.Retention == RetainOnce && !a.everBusy && c.due(a.onlineAt.Add(t.ConnectTimeout)):
		return dueUnused
	case a.state == stOnline && t.Retention == RetainIdle && a.busy == 0 && c.due(a.idleSince.Add(t.IdleTimeout)):
		return dueIdle
	}
	return dueNothing
}

// act carries out what is due for a.
func (c *Core) act(a *agent, what tickDue) {
	switch what {
	case dueUnreachable:
		// Past the grace: give the build up as Jenkins will (the node
		// goes; a build on it fails) and serve the demand elsewhere.
		c.retire(a, "unreachable", "unreachable for "+c.cfg.UnreachableGrace.String())
	case dueTemplateRemoved:
		c.stepDown(a, "template_removed", "its template is no longer configured")
	case dueConnectTimeout:
		why := "agent did not connect within " + c.cfg.Templates[a.tmpl].ConnectTimeout.String()
		c.launchFailed(a, why, false)
		c.readOutput(a)
		c.retire(a, "connect_timeout", why)
	case dueUnused:
		if c.warm(a) {
			a.onlineAt = c.now // kept for the pool: its wait starts again
			return
		}
		c.stepDown(a, "unused", "no build came within "+c.cfg.Templates[a.tmpl].ConnectTimeout.String())
	case dueIdle:
		if c.warm(a) {
			a.idleSince = c.now
			return
		}
		c.stepDown(a, "idle_timeout", "idle for "+c.cfg.Templates[a.tmpl].IdleTimeout.String())
	}
}

// stepDown takes an online agent that runs no build out of service
// safely: it is marked offline first (so Jenkins gives it no build), and
// deleted at the next listing that shows the mark; a build that reached
// it before the mark runs to its end first.
func (c *Core) stepDown(a *agent, code, why string) {
	if a.state != stOnline {
		c.retire(a, code, why)
		return
	}
	a.state = stRetiring
	a.downWhy = why
	c.jenkins(NodeOp{Kind: NodeRetire, Name: a.name, Template: c.templateName(a), Message: why})
	c.note(code, a.name+": "+why+"; marked offline, deleted at the next listing", map[string]string{"node": a.name, "task_id": a.name, "agent_id": a.agentID})
}

// deleteNode asks Jenkins to delete a's node, once until it answers.
func (c *Core) deleteNode(a *agent) {
	if a.deleteSent {
		return
	}
	a.deleteSent = true
	c.jenkins(NodeOp{Kind: NodeDelete, Name: a.name, Template: c.templateName(a)})
}

func (c *Core) kill(a *agent) {
	if a.taskLive && !a.taskKilled && a.agentID != "" {
		c.call(calls.Kill(a.name, a.agentID))
		a.taskKilled = true
	}
}

// forget drops an agent once both its node and its task are gone. An
// agent whose task ran leaves an accounting note: what it held, for how
// long, and the builds Jenkins showed on it, so a log pipeline can sum
// the cluster's time per job without a metric per job.
func (c *Core) forget(a *agent) {
	if a.state == stDeleting && a.nodeGone && !a.taskLive {
		c.dropAgent(a.name)
		if !a.heldSince.IsZero() {
			until := a.heldUntil
			if until.IsZero() || until.Before(a.heldSince) {
				until = c.now
			}
			fields := map[string]string{"node": a.name, "task_id": a.name, "agent_id": a.agentID, "template": c.templateName(a),
				"seconds": strconv.FormatFloat(until.Sub(a.heldSince).Seconds(), 'f', 3, 64), "builds": strings.Join(a.builds, " ")}
			text := fmt.Sprintf("agent %s held its slice for %s", a.name, until.Sub(a.heldSince).Round(time.Millisecond))
			switch {
			case a.held != (offers.Amounts{}):
				fields["cpus"], fields["mem"] = a.held.CPUs.String(), a.held.Mem.String()
			case a.tmpl >= 0:
				t := &c.cfg.Templates[a.tmpl]
				fields["cpus"] = strconv.FormatFloat(t.CPUs, 'g', -1, 64)
				fields["mem"] = strconv.FormatFloat(t.Mem, 'g', -1, 64)
			}
			if fields["cpus"] != "" {
				text += fmt.Sprintf(" (%s cpus, %s MB)", fields["cpus"], fields["mem"])
			}
			if len(a.builds) > 0 {
				text += "; builds: " + fields["builds"]
			}
			c.note("agent_done", text, fields)
		}
	}
}

// maxBuildsNoted bounds the builds an agent's accounting note lists (a
// long-lived agent of retention idle may run many).
const maxBuildsNoted = 16

func (c *Core) templateName(a *agent) string {
	if a.tmpl < 0 {
		return ""
	}
	return c.cfg.Templates[a.tmpl].Name
}

func (c *Core) onNodeDone(d NodeDone) {
	a := c.agents[d.Op.Name]
	if a == nil {
		return
	}
	fields := map[string]string{"node": a.name}
	switch d.Op.Kind {
	case NodeCreate:
		if d.Err != "" {
			h := &c.health[a.tmpl]
			h.createFails++
			wait := c.cfg.CreateBackoff << min(h.createFails-1, 16)
			if wait > c.cfg.CreateBackoffMax || wait <= 0 {
				wait = c.cfg.CreateBackoffMax
			}
			h.createAfter = c.now.Add(wait)
			h.createErr = d.Err
			c.note("node_create_failed", fmt.Sprintf("creating node %s failed: %s; retry in %s", a.name, d.Err, wait), fields)
			// The node may exist all the same (an answer lost on the way):
			// delete it to be sure.
			a.nodeGone = false
			c.retire(a, "node_create_failed", "creation failed")
			return
		}
		if a.tmpl >= 0 {
			c.health[a.tmpl].createFails, c.health[a.tmpl].createErr = 0, ""
		}
		a.nodeGone = false
		switch a.state {
		case stCreating:
			a.secret = d.Secret
			a.state = stReady
			c.note("node_created", "node "+a.name+" created", fields)
		case stDeleting:
			// Withdrawn while it was being created.
			c.deleteNode(a)
		}
	case NodeRetire:
		if d.Err != "" {
			c.note("node_retire_failed", "marking "+a.name+" offline failed: "+d.Err+"; retrying at the next listing", fields)
			if a.state == stRetiring {
				a.state = stBusy
			}
		}
	case NodeDelete:
		a.deleteSent = false
		if d.Err != "" {
			c.note("node_delete_failed", "deleting "+a.name+" failed: "+d.Err+"; retrying at the next listing", fields)
			return
		}
		a.nodeGone = true
		c.note("node_deleted", "node "+a.name+" deleted", fields)
		c.forget(a)
	}
}

// onNodes follows the framework's nodes as Jenkins lists them.
func (c *Core) onNodes(nodes []Node) {
	c.nodesSeen = true
	byName := make(map[string]*Node, len(nodes))
	for i := range nodes {
		byName[nodes[i].Name] = &nodes[i]
	}
	for _, a := range c.sortedAgents() {
		n := byName[a.name]
		delete(byName, a.name)
		fields := map[string]string{"node": a.name, "task_id": a.name, "agent_id": a.agentID}
		if n == nil {
			switch {
			case a.state == stDeleting && !a.nodeGone:
				a.nodeGone = true // someone (or our delete) removed it
				c.forget(a)
			case a.nodeSeen && a.state != stDeleting && a.state != stCreating:
				a.nodeGone = true
				c.retire(a, "node_vanished", "its Jenkins node disappeared")
			}
			continue
		}
		a.nodeSeen = true
		a.busy = n.Busy
		for _, b := range n.Builds {
			if !slices.Contains(a.builds, b) && len(a.builds) < maxBuildsNoted {
				a.builds = append(a.builds, b)
			}
		}
		once := a.tmpl < 0 || c.cfg.Templates[a.tmpl].Retention == RetainOnce
		switch {
		case a.state == stDeleting:
			if !a.nodeGone && n.Busy == 0 && !a.deleteSent {
				// A delete that failed earlier: try again.
				c.deleteNode(a)
			}
		case n.Online && n.Busy > 0:
			// A build reached it (one stepping down included, if the build
			// came before the offline mark): it runs to its end first.
			a.everBusy, a.downWhy = true, ""
			if a.state < stBusy {
				if a.state < stOnline {
					c.launchSucceeded(a.tmpl)
				}
				a.state = stBusy
				c.note("build_running", "a build runs on "+a.name, fields)
			}
			if a.state == stBusy && once {
				a.state = stRetiring
				c.jenkins(NodeOp{Kind: NodeRetire, Name: a.name, Template: c.templateName(a), Message: RetireMessage})
			}
		case a.state == stRetiring && a.downWhy != "" && n.Busy == 0:
			// Stepping down (unused, surplus, idle, template removed):
			// deleted once the listing shows it marked offline (or
			// disconnected), so that no build can have been given to it in
			// between.
			if n.TemporarilyOffline || !n.Online {
				c.retire(a, "reclaimed", "agent reclaimed: "+a.downWhy)
			}
		case n.Busy == 0 && (a.state == stRetiring || (a.state == stBusy && once)):
			// A one-shot agent's build has ended, however it ended (done,
			// aborted by a Jenkins restart, failed with its channel),
			// connected or not: reclaim it.
			c.note("build_done", "the build on "+a.name+" is done", fields)
			c.retire(a, "reclaimed", "one-shot agent reclaimed after its build")
		case !n.Online:
			if a.state == stOnline || a.state == stBusy {
				// The agent lost its connection; inbound agents reconnect.
				a.state = stRunning
				a.launchedAt = c.now
			}
		default: // online and idle
			switch {
			case a.state == stBusy:
				a.state = stOnline
				a.idleSince = c.now
			case a.state < stOnline:
				if a.tmpl < 0 {
					c.retire(a, "unknown_template", "no template of this configuration made it")
					continue
				}
				a.state = stOnline
				a.onlineAt, a.idleSince = c.now, c.now
				c.launchSucceeded(a.tmpl)
				c.note("agent_online", "agent "+a.name+" is online", fields)
			}
		}
	}
	// Nodes of this framework the core does not know: left by an earlier
	// instance. Adopt them; the orphan check decides later.
	for _, n := range nodes {
		if byName[n.Name] == nil {
			continue
		}
		c.adopt(n)
	}
}

func (c *Core) onTick() {
	// Only the agents with something due, in name order: the pass runs
	// before every Ready, so it must cost nothing when nothing is due.
	for _, a := range c.agentsWhere(func(a *agent) bool { return c.tickAction(a) != dueNothing }) {
		c.act(a, c.tickAction(a)) // again: an earlier action may have changed it
	}
	c.checkOrphans()
	c.probeUnreachable()
	if c.subscribed && !c.now.Before(c.lastReconcile.Add(c.cfg.ReconcileInterval)) {
		c.call(calls.Reconcile(nil))
		c.lastReconcile = c.now
	}
}

// unreachableProbe is how often the tasks of unreachable agents are
// reconciled explicitly. The master tells a framework when such an agent
// re-registers ("Unreachable agent re-reregistered"), but drops that
// update if the framework is not connected at that moment (a failover, a
// restart): the probe's answer is how the core learns it then.
const unreachableProbe = 30 * time.Second

func (c *Core) probeUnreachable() {
	if !c.subscribed || c.now.Before(c.lastProbe.Add(unreachableProbe)) {
		return
	}
	tasks := map[string]string{}
	for _, a := range c.agents {
		if !a.unreachableSince.IsZero() && a.state != stDeleting && a.agentID != "" && !c.now.Before(a.unreachableSince.Add(unreachableProbe)) {
			tasks[a.name] = a.agentID
		}
	}
	if len(tasks) > 0 {
		c.call(calls.Reconcile(calls.ReconcileTasks(tasks)))
		c.lastProbe = c.now
	}
}

// due tells whether a deadline that rests on Jenkins' view has passed
// and the nodes were listed since: only then does the core know the
// agent still has not connected, or is still idle.
func (c *Core) due(deadline time.Time) bool {
	return !c.now.Before(deadline) && !c.nodesAt.Before(deadline)
}

// wake is the earliest deadline the core holds.
func (c *Core) wake() time.Time {
	var w time.Time
	at := func(t time.Time) {
		if !t.IsZero() && (w.IsZero() || t.Before(w)) {
			w = t
		}
	}
	// A deadline that acts only on a node listing made after it (see due)
	// needs no wake once passed: the next listing brings it.
	atDue := func(t time.Time) {
		if c.now.Before(t) {
			at(t)
		}
	}
	for _, a := range c.agents {
		if !a.unreachableSince.IsZero() && a.state != stDeleting {
			atDue(a.unreachableSince.Add(c.cfg.UnreachableGrace))
			probe := a.unreachableSince.Add(unreachableProbe)
			if next := c.lastProbe.Add(unreachableProbe); next.After(probe) {
				probe = next
			}
			if c.subscribed {
				at(probe)
			}
		}
		if a.tmpl < 0 {
			continue
		}
		t := &c.cfg.Templates[a.tmpl]
		switch {
		case a.state == stLaunching || a.state == stStarting || a.state == stRunning:
			atDue(a.launchedAt.Add(t.ConnectTimeout))
		case a.state == stOnline && t.Retention == RetainOnce && !a.everBusy:
			atDue(a.onlineAt.Add(t.ConnectTimeout))
		case a.state == stOnline && t.Retention == RetainIdle && a.busy == 0:
			atDue(a.idleSince.Add(t.IdleTimeout))
		}
	}
	if c.reviveDue {
		at(c.lastRevive.Add(c.cfg.ReviveDebounce))
	}
	if len(c.held) > 0 {
		at(c.heldUntil)
	}
	if c.now.Before(c.offerCallRetry) {
		at(c.offerCallRetry)
	}
	for t := range c.health {
		if until := c.health[t].blockedUntil(); c.now.Before(until) {
			at(until)
		}
	}
	if c.subscribed {
		for _, o := range c.orphans {
			atDue(c.orphanDeadline(o.seenAt))
		}
		for _, a := range c.agents {
			if a.adopted && !a.taskLive && a.state != stDeleting {
				atDue(c.orphanDeadline(a.adoptedAt))
			}
		}
		at(c.lastReconcile.Add(c.cfg.ReconcileInterval))
	}
	return w
}

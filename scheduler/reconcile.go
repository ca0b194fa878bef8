package scheduler

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// onSubscribed records the framework ID (persisted before anything else
// is acted on) and reconciles: explicitly for the tasks the core knows,
// then implicitly, so every task of the framework reports in.
func (c *Core) onSubscribed(e Subscribed) {
	if e.FrameworkID != c.state.FrameworkId || c.state.FrameworkName != c.cfg.FrameworkName {
		c.state.FrameworkId = e.FrameworkID
		c.state.FrameworkName = c.cfg.FrameworkName
		c.persist = true
	}
	c.subscribed = true
	c.subscribeAt = c.now
	c.held = nil
	c.inverse = nil      // the master offers again to the new subscription
	c.suppressed = false // a subscription starts unsuppressed
	c.lastRevive = time.Time{}
	c.nodesSeen = false
	known := map[string]string{}
	for _, a := range c.agents {
		if a.taskLive && a.agentID != "" {
			known[a.name] = a.agentID
		}
	}
	if len(known) > 0 {
		c.call(calls.Reconcile(calls.ReconcileTasks(known)))
	}
	c.call(calls.Reconcile(nil))
	c.lastReconcile = c.now
	c.note("subscribed", "subscribed as framework "+e.FrameworkID, map[string]string{"framework_id": e.FrameworkID})
}

// templateOfNode is the template a node (named <template>-xxxxxxxx) was
// made by: the longest template name that prefixes its name, so that a
// derived template (<template>-<hash>) wins over its base. A name of the
// derived shape whose derived template is not known (after a restart,
// nothing is derived yet) gets it back from what its labels say was
// chosen; -1 when they do not give the node's name back (labels changed
// by hand, a template changed since): its image or size is unknown.
func (c *Core) templateOfNode(n Node) int {
	t := -1
	for i := range c.cfg.Templates {
		if strings.HasPrefix(n.Name, c.cfg.Templates[i].Name+"-") && (t < 0 || len(c.cfg.Templates[i].Name) > len(c.cfg.Templates[t].Name)) {
			t = i
		}
	}
	if t < 0 || !c.cfg.Templates[t].choosable() || !derivedShape(n.Name[len(c.cfg.Templates[t].Name)+1:]) {
		return t
	}
	chosen := choices(n.Labels)
	if len(chosen) == 0 {
		return -1
	}
	d, why := variantOf(c.cfg.Templates[t], t, chosen)
	if why.code != "" || !strings.HasPrefix(n.Name, d.Name+"-") {
		return -1
	}
	return c.addTemplate(d)
}

// derivedShape tells whether rest, a node name after "<template>-", is
// "<8 hex>-<8 hex>": an agent of a template derived for an image.
func derivedShape(rest string) bool {
	hex := func(s string) bool {
		for _, c := range s {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	}
	return len(rest) == 17 && rest[8] == '-' && hex(rest[:8]) && hex(rest[9:])
}

// adopt takes over a node of this framework that an earlier instance
// created: its task is expected to report in through reconciliation.
func (c *Core) adopt(n Node) {
	t := c.templateOfNode(n)
	a := &agent{name: n.Name, tmpl: t, adopted: true, adoptedAt: c.now, nodeSeen: true, busy: n.Busy, launchedAt: c.now, onlineAt: c.now, idleSince: c.now,
		builds: n.Builds}
	switch {
	case n.Online && n.Busy > 0:
		a.state, a.everBusy = stBusy, true
		if t >= 0 && c.cfg.Templates[t].Retention == RetainOnce {
			a.state = stRetiring
			c.jenkins(NodeOp{Kind: NodeRetire, Name: a.name, Template: c.cfg.Templates[t].Name, Message: RetireMessage})
		}
	case n.Online && n.TemporarilyOffline:
		a.state, a.everBusy = stRetiring, true // it was retiring: its build is done
	case n.Online:
		a.state = stOnline
	default:
		a.state = stRunning
	}
	if o, ok := c.orphans[n.Name]; ok {
		a.agentID, a.taskLive = o.agentID, true
		a.heldSince = c.now // from first sight: this process did not launch it
		delete(c.orphans, n.Name)
	}
	c.putAgent(a)
	if c.subscribed && c.lastReconcile.Before(c.now) {
		// Ask every task to report, so that this node's task (if it has
		// one) is heard from within the grace.
		c.call(calls.Reconcile(nil))
		c.lastReconcile = c.now
	}
	fields := map[string]string{"node": a.name, "task_id": a.name, "agent_id": a.agentID}
	if t >= 0 {
		// What the agent holds, for the resource accounting of a task this
		// process did not launch (a derived template is in no file).
		tp := &c.cfg.Templates[t]
		fields["template"] = tp.Name
		fields["cpus"] = strconv.FormatFloat(tp.CPUs, 'g', -1, 64)
		fields["mem"] = strconv.FormatFloat(tp.Mem, 'g', -1, 64)
	}
	c.note("adopted", "adopted node "+a.name+" ("+a.state.String()+")", fields)
	if a.state == stRetiring && n.Busy == 0 {
		c.retire(a, "reclaimed", "one-shot agent reclaimed after its build")
	}
}

// orphanDeadline is when a task without a node, or an adopted node
// without a task, first seen at seen, is given up: a grace after both the
// sighting and the subscription, so that reconciliation answers and
// launches in flight are in.
func (c *Core) orphanDeadline(seen time.Time) time.Time {
	from := seen
	if c.subscribeAt.After(from) {
		from = c.subscribeAt
	}
	return from.Add(c.cfg.OrphanGrace)
}

// checkOrphans runs both ways, at every tick, whenever the grace of a
// sighting has passed and the node list is fresh: tasks with no node are
// killed; adopted nodes whose task never reported (an implicit
// reconciliation went out since they were adopted) are deleted, never
// while busy.
func (c *Core) checkOrphans() {
	if !c.subscribed || !c.nodesSeen {
		return
	}
	for _, id := range sortedKeys(c.orphans) {
		o := c.orphans[id]
		if c.agents[id] != nil {
			delete(c.orphans, id)
			continue
		}
		if !c.due(c.orphanDeadline(o.seenAt)) {
			continue
		}
		if o.agentID != "" {
			c.call(calls.Kill(id, o.agentID))
			c.note("orphan_task", "killing task "+id+": it has no Jenkins node", map[string]string{"task_id": id, "agent_id": o.agentID})
		}
		delete(c.orphans, id)
	}
	orphaned := func(a *agent) bool {
		return a.adopted && !a.taskLive && a.state != stDeleting && a.busy == 0 && !c.lastReconcile.Before(a.adoptedAt) && c.due(c.orphanDeadline(a.adoptedAt))
	}
	for _, a := range c.agentsWhere(orphaned) {
		if orphaned(a) {
			c.retire(a, "orphan_node", "its task is gone")
		}
	}
}

// sortedKeys returns a map's keys in order (deterministic iteration).
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

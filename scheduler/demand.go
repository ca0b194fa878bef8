package scheduler

import (
	"fmt"
	"sort"
	"strings"
)

// demand sorts the waiting builds by the template that serves them: the
// first template, in configuration order, whose label set satisfies the
// build's label expression. Blocked builds are not demand; builds in
// their quiet period are when ProvisionDuringQuietPeriod is set.
func (c *Core) demand() (byTemplate [][]*QueueItem, unserved []*QueueItem) {
	byTemplate = make([][]*QueueItem, len(c.cfg.Templates))
	for i := range c.queue {
		it := &c.queue[i]
		if it.Blocked || (it.Quiet && !c.cfg.ProvisionDuringQuietPeriod) {
			continue
		}
		if a := c.agents[it.LabelNode]; it.LabelNode != "" && a != nil && a.tmpl >= 0 {
			byTemplate[a.tmpl] = append(byTemplate[a.tmpl], it)
			continue
		}
		if it.Label == "" {
			continue
		}
		expr := c.expr(it.Label)
		if expr == nil {
			unserved = append(unserved, it)
			continue
		}
		served := false
		for t := range c.cfg.Templates {
			if c.cfg.Templates[t].serves(expr) {
				byTemplate[t] = append(byTemplate[t], it)
				served = true
				break
			}
		}
		if !served {
			unserved = append(unserved, it)
		}
	}
	for t := range byTemplate {
		sort.SliceStable(byTemplate[t], func(a, b int) bool { return byTemplate[t][a].ID < byTemplate[t][b].ID })
	}
	return byTemplate, unserved
}

func (c *Core) expr(label string) *labelExpr {
	if e, ok := c.exprs[label]; ok {
		return e
	}
	if _, bad := c.badExprs[label]; bad {
		return nil
	}
	e, err := parseLabelExpr(label)
	if err != nil {
		c.badExprs[label] = err.Error()
		return nil
	}
	c.exprs[label] = e
	return e
}

// capacity is how many builds the template's agents can still take:
// every executor of an agent on its way up, and the idle executors of an
// online one. Busy, retiring and deleting agents take nothing more.
func (c *Core) capacity(t int) int {
	n := 0
	execs := c.cfg.Templates[t].Executors
	for _, a := range c.agents {
		if a.tmpl != t {
			continue
		}
		switch a.state {
		case stCreating, stReady, stLaunching, stStarting, stRunning:
			n += execs
		case stOnline:
			n += execs - min(a.busy, execs)
		}
	}
	return n
}

// warm tells whether agent a, online and idle, is part of its template's
// warm pool: without it the free executors beyond the waiting builds
// would fall below min_idle agents' worth.
func (c *Core) warm(a *agent) bool {
	if a.tmpl < 0 || c.cfg.Templates[a.tmpl].MinIdle == 0 {
		return false
	}
	tmpl := &c.cfg.Templates[a.tmpl]
	byTemplate, _ := c.demand()
	spare := c.capacity(a.tmpl) - len(byTemplate[a.tmpl])
	return spare-tmpl.Executors < tmpl.MinIdle*tmpl.Executors
}

// poolOnly tells whether agent a, online and idle, is there only for the
// warm pool: the template's free executors exceed its waiting builds by at
// least a's own.
func (c *Core) poolOnly(a *agent) bool {
	if a.tmpl < 0 || c.cfg.Templates[a.tmpl].MinIdle == 0 {
		return false
	}
	byTemplate, _ := c.demand()
	return c.capacity(a.tmpl)-len(byTemplate[a.tmpl]) >= c.cfg.Templates[a.tmpl].Executors
}

func (c *Core) live(t int) (ofTemplate, all int) {
	for _, a := range c.agents {
		if a.state == stDeleting {
			continue
		}
		all++
		if a.tmpl == t {
			ofTemplate++
		}
	}
	return ofTemplate, all
}

// reconcileDemand creates the agents the waiting builds need ("no
// delay": waiting + the warm pool − capacity, within the caps) and
// withdraws ready agents nobody waits for any more.
func (c *Core) reconcileDemand() {
	if !c.subscribed || c.queueStale {
		return // no offers can come, or the queue is older than the nodes
	}
	byTemplate, _ := c.demand()
	for t := range c.cfg.Templates {
		tmpl := &c.cfg.Templates[t]
		pool := 0
		if c.nodesSeen {
			// Not before the first node listing: a restarted instance
			// adopts the warm agents it already has.
			pool = tmpl.MinIdle * tmpl.Executors
		}
		short := len(byTemplate[t]) + pool - c.capacity(t)
		if short < 0 {
			c.withdraw(t, -short)
			continue
		}
		may := c.mayCreate(t)
		if short == 0 || may == 0 {
			continue
		}
		want := (short + tmpl.Executors - 1) / tmpl.Executors
		if may > 0 {
			want = min(want, may)
		}
		mine, all := c.live(t)
		for k := 0; k < want; k++ {
			if (tmpl.MaxInstances > 0 && mine >= tmpl.MaxInstances) || (c.cfg.MaxAgents > 0 && all >= c.cfg.MaxAgents) {
				break
			}
			c.createAgent(t)
			mine++
			all++
		}
	}
}

func (c *Core) createAgent(t int) {
	tmpl := &c.cfg.Templates[t]
	var name string
	for {
		name = fmt.Sprintf("%s-%08x", tmpl.Name, uint32(c.rnd.Uint64()))
		if c.agents[name] == nil {
			break
		}
	}
	c.putAgent(&agent{name: name, tmpl: t, state: stCreating, nodeGone: true})
	c.jenkins(NodeOp{Kind: NodeCreate, Name: name, Template: tmpl.Name, Labels: strings.Join(tmpl.Labels, " "), Executors: tmpl.Executors,
		RemoteFS: tmpl.RemoteFS, WebSocket: tmpl.WebSocket, Description: c.nodeDescription(tmpl.Name)})
	c.note("node_create", "creating node "+name, map[string]string{"node": name})
}

// nodeDescription marks a node as this framework's: the adapter lists
// only nodes whose description starts with NodeDescriptionPrefix.
func (c *Core) nodeDescription(template string) string {
	return NodeDescriptionPrefix + c.cfg.FrameworkName + " (template " + template + ")"
}

// NodeDescriptionPrefix starts the description of every node the
// framework creates.
const NodeDescriptionPrefix = "jenkins-mesos agent of "

// withdraw deletes up to n ready agents of template t that have not been
// launched: the builds they were for have gone.
//
// Then, for a one-shot template, online agents that never ran a build and
// have been online for SurplusGrace: the build they came for went
// elsewhere, was cancelled, or was cut by a Jenkins restart before the
// core saw it running. They step down (marked offline, then deleted).
func (c *Core) withdraw(t, n int) {
	for _, a := range c.sortedAgents() {
		if n == 0 {
			return
		}
		if a.tmpl == t && a.state == stReady {
			c.retire(a, "withdrawn", "no build waits for it any more")
			n--
		}
	}
	if c.cfg.Templates[t].Retention != RetainOnce {
		return
	}
	for _, a := range c.sortedAgents() {
		if n == 0 {
			return
		}
		if a.tmpl == t && a.state == stOnline && !a.everBusy && a.busy == 0 && !c.now.Before(a.onlineAt.Add(c.cfg.SurplusGrace)) {
			c.stepDown(a, "surplus", "no build waits for it")
			n -= c.cfg.Templates[t].Executors
		}
	}
}

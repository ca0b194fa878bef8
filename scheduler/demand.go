package scheduler

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jenkins-mesos/jenkins-mesos/offers"
)

// demand sorts the waiting builds by the template that serves them: the
// first template, in configuration order, whose label set satisfies the
// build's label expression. Blocked builds are not demand, nor are any
// while Jenkins quiets down (it would start none of them); builds in
// their quiet period are when ProvisionDuringQuietPeriod is set.
func (c *Core) demand() (byTemplate [][]*QueueItem, unserved []*QueueItem) {
	byTemplate = make([][]*QueueItem, len(c.cfg.Templates))
	for i := range c.queue {
		it := &c.queue[i]
		if it.Blocked || c.jenkinsQuieting || (it.Quiet && !c.cfg.ProvisionDuringQuietPeriod) {
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
		served := -1
		for t := range c.cfg.Templates {
			tmpl := &c.cfg.Templates[t]
			if tmpl.derived {
				continue // reached through its base
			}
			if tmpl.serves(expr) {
				served = t
				break
			}
			if d := c.variantTemplate(t, it.Label, expr); d >= 0 {
				served = d
				break
			}
		}
		if served < 0 {
			unserved = append(unserved, it)
			continue
		}
		for len(byTemplate) < len(c.cfg.Templates) {
			byTemplate = append(byTemplate, nil) // a template derived just now
		}
		byTemplate[served] = append(byTemplate[served], it)
	}
	for t := range byTemplate {
		sort.SliceStable(byTemplate[t], func(a, b int) bool { return byTemplate[t][a].ID < byTemplate[t][b].ID })
	}
	return byTemplate, unserved
}

// variantTemplate is the template derived from template t for what a
// build's label chooses — an image=<ref>, cpus=<n> or mem=<MB> atom, the
// first of each — made on first use; -1 when t lets builds choose
// nothing, the label chooses nothing, or t's labels with the chosen atoms
// do not satisfy the expression. A choice t does not allow (an image
// outside its images, more than its max_cpus or max_mem) is remembered
// as the label's reason.
func (c *Core) variantTemplate(t int, label string, expr *labelExpr) int {
	tmpl := &c.cfg.Templates[t]
	if !tmpl.choosable() {
		return -1
	}
	chosen := choices(expr.atoms(nil))
	if len(chosen) == 0 || !expr.matches(func(a string) bool { return slices.Contains(chosen, a) || slices.Contains(tmpl.Labels, a) }) {
		return -1
	}
	d, why := variantOf(*tmpl, t, chosen)
	if why.code != "" {
		if c.badVariants == nil {
			c.badVariants = map[string]variantRefusal{}
		}
		c.badVariants[label] = why
		return -1
	}
	return c.addTemplate(d)
}

// addTemplate is the index of the derived template named as d, appended
// (with its need and a clean health) when there is none yet.
func (c *Core) addTemplate(d Template) int {
	for i := range c.cfg.Templates {
		if c.cfg.Templates[i].Name == d.Name {
			return i
		}
	}
	c.cfg.Templates = append(c.cfg.Templates, d)
	c.needs = append(c.needs, d.need())
	c.health = append(c.health, health{})
	return len(c.cfg.Templates) - 1
}

// choices are the atoms among these that choose (image=, cpus=, mem=),
// the first of each.
func choices(atoms []string) []string {
	var chosen []string
	seen := map[string]bool{}
	for _, atom := range atoms {
		key, _, ok := strings.Cut(atom, "=")
		if ok && (key == "image" || key == "cpus" || key == "mem") && !seen[key] {
			seen[key] = true
			chosen = append(chosen, atom)
		}
	}
	return chosen
}

// variantRefusal is why a build's choice is refused: a reason code and
// a sentence.
type variantRefusal struct{ code, reason string }

// variantOf is base (at index b) for the chosen atoms: named
// <base>-<hash of the atoms>, labelled with them besides base's labels,
// with the image and resources they name, without a warm pool and
// letting choose nothing more. A choice base does not allow is refused
// with a code and a reason.
func variantOf(base Template, b int, chosen []string) (Template, variantRefusal) {
	d := base
	d.Name = fmt.Sprintf("%s-%08x", base.Name, fnv32(strings.Join(chosen, "\x00")))
	d.Labels = append(slices.Clip(base.Labels), chosen...)
	for _, atom := range chosen {
		key, v, _ := strings.Cut(atom, "=")
		switch key {
		case "image":
			if v == "" || !base.allows(v) {
				return d, variantRefusal{"image_not_allowed", fmt.Sprintf("image %s is not allowed by template %s (images: %s)", v, base.Name, strings.Join(base.Images, ", "))}
			}
			d.Container.Image = v
		case "cpus", "mem":
			limit, unit := base.MaxCPUs, ""
			if key == "mem" {
				limit, unit = base.MaxMem, " MB"
			}
			n, err := strconv.ParseFloat(v, 64)
			switch {
			case limit == 0:
				return d, variantRefusal{"size_not_allowed", fmt.Sprintf("template %s does not let a build choose its %s (max_%s)", base.Name, key, key)}
			case err != nil || n <= 0 || math.IsInf(n, 0) || math.IsNaN(n):
				return d, variantRefusal{"size_not_allowed", fmt.Sprintf("%s: expected a positive number, up to template %s's max_%s (%g%s)", atom, base.Name, key, limit, unit)}
			case n > limit:
				return d, variantRefusal{"size_not_allowed", fmt.Sprintf("%s is more than template %s lets a build choose (max_%s %g%s)", atom, base.Name, key, limit, unit)}
			}
			if key == "cpus" {
				d.CPUs = n
				if d.Container.CPUsLimit > 0 && d.Container.CPUsLimit < n {
					d.Container.CPUsLimit = n // a limit is never below the request
				}
			} else {
				d.Mem = n
				if d.Container.MemLimit > 0 && d.Container.MemLimit < n {
					d.Container.MemLimit = n
				}
			}
		}
	}
	d.Images, d.MaxCPUs, d.MaxMem, d.MinIdle = nil, 0, 0, 0
	d.derived, d.base, d.variant = true, b, chosen
	return d, variantRefusal{}
}

// maxIdleDerived is how many templates derived for images may sit unused
// (no agent, no waiting build) before they are dropped: builds that name
// a new tag each time would otherwise grow the templates, and every
// Step's work with them, without end.
const maxIdleDerived = 32

// compactDerived drops the derived templates that no agent and no
// waiting build use, once more than maxIdleDerived are; the others keep
// their order, and the agents, health and fit reasons follow their
// templates to the new indices.
func (c *Core) compactDerived(byTemplate [][]*QueueItem) bool {
	used := make([]bool, len(c.cfg.Templates))
	for _, a := range c.agents {
		if a.tmpl >= 0 {
			used[a.tmpl] = true
		}
	}
	idle := 0
	for t := range c.cfg.Templates {
		if t < len(byTemplate) && len(byTemplate[t]) > 0 {
			used[t] = true
		}
		if c.cfg.Templates[t].derived && !used[t] {
			idle++
		}
	}
	if idle <= maxIdleDerived {
		return false
	}
	moved := make([]int, len(c.cfg.Templates))
	var tmpls []Template
	var needs []offers.Amounts
	var hs []health
	for t := range c.cfg.Templates {
		moved[t] = -1
		if c.cfg.Templates[t].derived && !used[t] {
			continue
		}
		moved[t] = len(tmpls)
		tmpls = append(tmpls, c.cfg.Templates[t])
		needs = append(needs, c.needs[t])
		hs = append(hs, c.health[t])
	}
	for _, a := range c.agents {
		if a.tmpl >= 0 {
			a.tmpl = moved[a.tmpl]
		}
	}
	unmet := map[int]string{}
	for t, msg := range c.unmet {
		if moved[t] >= 0 {
			unmet[moved[t]] = msg
		}
	}
	c.cfg.Templates, c.needs, c.health, c.unmet = tmpls, needs, hs, unmet
	return true
}

// group is the template whose max_instances template t's agents count
// against: its base for a derived one.
func (c *Core) group(t int) int {
	if c.cfg.Templates[t].derived {
		return c.cfg.Templates[t].base
	}
	return t
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
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

// spare is how many executors template t's agents have free beyond its
// waiting builds (negative: builds wait for agents).
func (c *Core) spare(t int) int {
	byTemplate, _ := c.demand()
	return c.capacity(t) - len(byTemplate[t])
}

// warm tells whether agent a, online and idle, is part of its template's
// warm pool: without it the free executors beyond the waiting builds
// would fall below min_idle agents' worth.
func (c *Core) warm(a *agent) bool {
	if a.tmpl < 0 || c.cfg.Templates[a.tmpl].MinIdle == 0 {
		return false
	}
	tmpl := &c.cfg.Templates[a.tmpl]
	return c.spare(a.tmpl)-tmpl.Executors < tmpl.MinIdle*tmpl.Executors
}

// poolOnly tells whether agent a, online and idle, is there only for the
// warm pool: its template's free executors beyond the waiting builds are
// at least a's own.
func (c *Core) poolOnly(a *agent) bool {
	if a.tmpl < 0 || c.cfg.Templates[a.tmpl].MinIdle == 0 {
		return false
	}
	return c.spare(a.tmpl) >= c.cfg.Templates[a.tmpl].Executors
}

// own counts template t's agents not being deleted.
func (c *Core) own(t int) int {
	n := 0
	for _, a := range c.agents {
		if a.tmpl == t && a.state != stDeleting {
			n++
		}
	}
	return n
}

// live counts the agents not being deleted: those of template t's group
// (a template and the ones derived from it for images), and all.
func (c *Core) live(t int) (ofTemplate, all int) {
	g := c.group(t)
	for _, a := range c.agents {
		if a.state == stDeleting {
			continue
		}
		all++
		if a.tmpl >= 0 && c.group(a.tmpl) == g {
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
	if c.compactDerived(byTemplate) {
		byTemplate, _ = c.demand() // the indices moved
	}
	want := make([]int, len(c.cfg.Templates)) // new agents each template wants, within its own caps
	live := make([]int, len(c.cfg.Templates)) // the agents of its group, for max_instances
	own := make([]int, len(c.cfg.Templates))  // its own agents, for sharing max_agents
	all := 0
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
		w := (short + tmpl.Executors - 1) / tmpl.Executors
		if may > 0 {
			w = min(w, may)
		}
		want[t] = w
	}
	for t := range want {
		if want[t] > 0 {
			// After the withdrawals above, which no longer count.
			live[t], all = c.live(t)
			own[t] = c.own(t)
			if m := c.cfg.Templates[t].MaxInstances; m > 0 {
				want[t] = min(want[t], max(m-live[t], 0))
			}
		}
	}
	// limits.max_agents, and a template's max_instances among it and the
	// templates derived from it, are shared: while a cap binds, each new
	// agent goes to the wanting template with the fewest agents of its
	// own (the first in the configuration on a tie), so one label's burst
	// cannot take every place while another's builds wait, and a place
	// that frees up goes to the template that has least. An image or size
	// a build chose is a template of its own here: plain builds of its
	// base do not starve it.
	for {
		if c.cfg.MaxAgents > 0 && all >= c.cfg.MaxAgents {
			return
		}
		pick := -1
		for t := range want {
			if want[t] > 0 && (pick < 0 || own[t] < own[pick]) {
				pick = t
			}
		}
		if pick < 0 {
			return
		}
		c.createAgent(pick)
		want[pick]--
		own[pick]++
		all++
		g := c.group(pick)
		for t := range live {
			if c.group(t) == g {
				live[t]++ // its group grew: max_instances counts the group
				if m := c.cfg.Templates[t].MaxInstances; m > 0 && live[t] >= m {
					want[t] = 0
				}
			}
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

package scheduler

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// explain gives every waiting build and every template a code and a
// sentence; Ready carries them when they change.
func (c *Core) explain() {
	byTemplate, unserved := c.demand()
	var waits []Wait
	var tmpls []TemplateStatus
	for t := range c.cfg.Templates {
		tmpl := &c.cfg.Templates[t]
		// Agents that can take a build, the most advanced first.
		var slots []*agent
		for _, a := range c.sortedAgents() {
			if a.tmpl != t {
				continue
			}
			switch a.state {
			case stOnline, stRunning, stStarting, stLaunching, stReady, stCreating:
				for k := 0; k < tmpl.Executors-min(a.busy, tmpl.Executors); k++ {
					slots = append(slots, a)
				}
			}
		}
		sort.SliceStable(slots, func(i, j int) bool { return slots[i].state > slots[j].state })
		mine, all := c.live(t)
		ts := TemplateStatus{Template: tmpl.Name, Waiting: len(byTemplate[t]), Agents: c.own(t), Code: "ok", Reason: "serving"}
		capName := tmpl.Name // whose max_instances counts
		switch {
		case tmpl.MinIdle > 0:
			ts.Reason = fmt.Sprintf("serving; %d warm agent(s) kept ahead of the builds (min_idle)", tmpl.MinIdle)
		case tmpl.derived:
			capName = c.cfg.Templates[tmpl.base].Name
			ts.Reason = fmt.Sprintf("serving %s for template %s", strings.Join(tmpl.variant, " "), capName)
		}
		for i, it := range byTemplate[t] {
			w := Wait{Build: it.ID, Name: it.Name, Template: tmpl.Name, Quiet: it.Quiet}
			if i < len(slots) {
				w.Code, w.Reason = c.slotReason(slots[i], t)
			} else {
				code, reason, unhealthy := c.healthReason(t)
				switch {
				case unhealthy:
					w.Code, w.Reason = code, reason
				case tmpl.MaxInstances > 0 && mine >= tmpl.MaxInstances:
					w.Code, w.Reason = "limit", fmt.Sprintf("template %s has its max_instances (%d) agents", capName, tmpl.MaxInstances)
				case c.cfg.MaxAgents > 0 && all >= c.cfg.MaxAgents:
					w.Code, w.Reason = "limit", fmt.Sprintf("limits.max_agents (%d) reached", c.cfg.MaxAgents)
				case !c.subscribed:
					w.Code, w.Reason = "not_subscribed", "not subscribed to the Mesos master yet"
				default:
					w.Code, w.Reason = "pending", "an agent will be created"
				}
			}
			if it.Quiet && w.Code != "limit" && w.Code != "backoff" && w.Code != "launch_backoff" && w.Code != "breaker_open" {
				w.Reason = "in its quiet period; " + w.Reason
			}
			waits = append(waits, w)
			if ts.Code == "ok" && w.Code != "assigning" && w.Code != "connecting" && w.Code != "launching" && w.Code != "creating" {
				ts.Code, ts.Reason = w.Code, w.Reason
			}
		}
		tmpls = append(tmpls, ts)
	}
	for _, it := range unserved {
		w := Wait{Build: it.ID, Name: it.Name, Quiet: it.Quiet, Code: "no_template", Reason: fmt.Sprintf("label `%s` matches no template", it.Label)}
		if msg, bad := c.badExprs[it.Label]; bad {
			w.Code, w.Reason = "bad_label", msg
		} else if r, bad := c.badVariants[it.Label]; bad {
			w.Code, w.Reason = r.code, r.reason
		}
		waits = append(waits, w)
	}
	if c.jenkinsQuieting {
		for _, it := range c.queue {
			if !it.Blocked {
				waits = append(waits, Wait{Build: it.ID, Name: it.Name, Quiet: it.Quiet, Code: "jenkins_shutting_down",
					Reason: "Jenkins is quieting down (Prepare for Shutdown) and starts no build, so no agent is made; cancel the shutdown to go on"})
			}
		}
	}
	if !reflect.DeepEqual(waits, c.lastWaiting) {
		c.lastWaiting = waits
		c.pending.Waiting = waits
		if c.pending.Waiting == nil {
			c.pending.Waiting = []Wait{}
		}
	}
	if !reflect.DeepEqual(tmpls, c.lastTmpl) {
		c.lastTmpl = tmpls
		c.pending.Templates = tmpls
	}
}

func (c *Core) slotReason(a *agent, t int) (string, string) {
	switch a.state {
	case stOnline:
		return "assigning", "agent " + a.name + " is online; Jenkins assigns the build"
	case stRunning:
		return "connecting", "agent " + a.name + " started on " + a.host + ", connecting to Jenkins"
	case stStarting, stLaunching:
		return "launching", "task " + a.name + " launching on " + a.host
	case stReady:
		if msg, ok := c.unmet[t]; ok {
			return "no_fit", "no offer fits: " + msg
		}
		return "waiting_offer", "node " + a.name + " waits for an offer"
	}
	return "creating", "creating node " + a.name
}

package scheduler

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/executor"
	"github.com/jenkins-mesos/jenkins-mesos/offers"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// onOffers takes one OFFERS event. While nodes are being created the
// offers are held (at most HoldForCreate from the first one held), so
// that the agents being created are matched together the moment their
// nodes are ready, instead of some now and the rest an allocation
// interval (and a refuse filter) later.
func (c *Core) onOffers(in []mesos.Offer) {
	if len(in) == 0 {
		return
	}
	if c.anyAgent(stCreating) {
		if len(c.held) == 0 {
			c.heldUntil = c.now.Add(c.cfg.HoldForCreate)
		}
		if c.now.Before(c.heldUntil) {
			c.held = append(c.held, in...)
			return
		}
	}
	c.match(in)
}

// match places the ready agents on the offers: one ACCEPT per used offer
// with all its launches, one DECLINE for the rest.
func (c *Core) match(in []mesos.Offer) {
	ready := make([][]*agent, len(c.cfg.Templates))
	readyCount := 0
	for _, a := range c.agentsWhere(func(a *agent) bool { return a.state == stReady && a.tmpl >= 0 }) {
		ready[a.tmpl] = append(ready[a.tmpl], a)
		readyCount++
	}
	if readyCount == 0 {
		ids := make([]mesos.OfferID, len(in))
		for i := range in {
			ids[i] = in[i].ID
		}
		refuse := c.refuse()
		if refuse == c.cfg.RefuseLong {
			c.filtered = true // demand arriving later must clear this filter with a REVIVE
		}
		c.call(calls.Decline(ids...).With(calls.RefuseSeconds(refuse)))
		return
	}
	// Offers from agents going into maintenance take nothing; the rest
	// are matched, req.Offers[k] being in[usable[k]].
	req := &offers.Request{Strategy: c.cfg.Strategy}
	var usable []int
	var maint []mesos.OfferID
	var maintHosts []string
	for i := range in {
		if c.inMaintenance(&in[i]) {
			maint = append(maint, in[i].ID)
			maintHosts = append(maintHosts, in[i].Hostname)
			continue
		}
		usable = append(usable, i)
		req.Offers = append(req.Offers, offers.FromMesos(&in[i]))
	}
	for t := range c.cfg.Templates {
		tmpl := &c.cfg.Templates[t]
		req.Classes = append(req.Classes, offers.Class{Name: tmpl.Name, Need: c.needs[t], Ports: tmpl.Ports, Role: tmpl.Role, Constraints: tmpl.Constraints})
		req.Wanted = append(req.Wanted, len(ready[t]))
	}
	for _, a := range c.sortedAgents() {
		if a.tmpl >= 0 && a.host != "" && a.state >= stLaunching && a.state != stDeleting {
			req.Running = append(req.Running, offers.Running{Class: a.tmpl, Hostname: a.host, Attributes: a.attrs})
		}
	}
	res := c.matcher.Match(req)
	// Copy what the calls need before the matcher runs again.
	tasks := make(map[int32][]mesos.TaskInfo)
	var used []int32
	next := make([]int, len(c.cfg.Templates))
	for _, p := range res.Placements {
		a := ready[p.Class][next[p.Class]]
		next[p.Class]++
		o := &req.Offers[p.Offer]
		tmpl := &c.cfg.Templates[p.Class]
		ports := append([]uint64(nil), res.PortsOf(p)...)
		ti := executor.TaskInfo(executor.Agent{
			Name: a.name, Template: tmpl.Name, FrameworkName: c.cfg.FrameworkName, AgentID: o.AgentID,
			JenkinsURL: c.cfg.JenkinsURL, Secret: a.secret, WorkDir: tmpl.RemoteFS, WebSocket: tmpl.WebSocket,
			Resources: offers.ToMesos(o, res.Reserved(p), res.Unreserved(p), ports), Ports: ports, Container: tmpl.Container, KillGrace: tmpl.KillGrace,
		})
		if _, ok := tasks[p.Offer]; !ok {
			used = append(used, p.Offer)
		}
		tasks[p.Offer] = append(tasks[p.Offer], ti)
		a.state = stLaunching
		a.agentID, a.host, a.attrs = o.AgentID, o.Hostname, o.Attributes
		a.launchedAt, a.heldSince, a.heldUntil, a.held = c.now, c.now, time.Time{}, c.needs[p.Class]
		a.taskLive = true
		c.note("launch", fmt.Sprintf("launching %s on %s (%s cpus, %s mem)", a.name, o.Hostname, c.needs[p.Class].CPUs, c.needs[p.Class].Mem),
			map[string]string{"node": a.name, "task_id": a.name, "agent_id": o.AgentID, "offer_id": o.ID, "host": o.Hostname})
	}
	c.unmet = map[int]string{}
	onlyMaint := ""
	if len(maint) > 0 && len(req.Offers) == 0 {
		sort.Strings(maintHosts)
		onlyMaint = fmt.Sprintf("the only offers are from agents scheduled for maintenance within %s (%s)", c.cfg.MaintenanceHorizon, strings.Join(slices.Compact(maintHosts), ", "))
	}
	for _, u := range res.Unmet {
		c.unmet[u.Class] = u.Message
		if onlyMaint != "" {
			c.unmet[u.Class] = onlyMaint
		}
	}
	refuse := c.refuse()
	if refuse == c.cfg.RefuseLong {
		c.filtered = true
	}
	sort.Slice(used, func(i, j int) bool { return used[i] < used[j] })
	for _, oi := range used {
		op := calls.OpLaunch(tasks[oi]...)
		c.call(calls.Accept(calls.OfferOperations{op}.WithOffers(in[usable[oi]].ID)).With(calls.RefuseSeconds(refuse)))
	}
	if len(res.Decline)+len(maint) > 0 {
		ids := make([]mesos.OfferID, 0, len(res.Decline)+len(maint))
		for _, d := range res.Decline {
			ids = append(ids, in[usable[d]].ID)
		}
		ids = append(ids, maint...)
		c.call(calls.Decline(ids...).With(calls.RefuseSeconds(refuse)))
	}
}

// inMaintenance: the offer's agent is in, or within MaintenanceHorizon
// of, a maintenance window (Mesos sets the offer's unavailability from
// the operator's schedule).
func (c *Core) inMaintenance(o *mesos.Offer) bool {
	u := o.GetUnavailability()
	if u == nil {
		return false
	}
	// The window [start, start+duration) meets [now, now+horizon]; a
	// window without a duration lasts until the schedule changes.
	start := time.Unix(0, u.Start.Nanoseconds)
	if start.After(c.now.Add(c.cfg.MaintenanceHorizon)) {
		return false
	}
	return u.Duration == nil || start.Add(time.Duration(u.Duration.Nanoseconds)).After(c.now)
}

// refuse is the filter for what the framework does not take: short while
// agents still wait for an offer (or a node), long when nothing does.
func (c *Core) refuse() time.Duration {
	if c.wantsOffers() {
		return c.cfg.RefuseShort
	}
	return c.cfg.RefuseLong
}

// wantsOffers: some agent waits for an offer, or will once its node exists.
func (c *Core) wantsOffers() bool { return c.anyAgent(stReady, stCreating) }

// refreshOffers suppresses offers when nothing waits for one and revives
// them (at most once per ReviveDebounce) when something does.
func (c *Core) refreshOffers() {
	if !c.subscribed || c.now.Before(c.offerCallRetry) {
		return
	}
	want := c.wantsOffers()
	switch {
	case want && (c.suppressed || c.filtered):
		if c.lastRevive.IsZero() || !c.now.Before(c.lastRevive.Add(c.cfg.ReviveDebounce)) {
			c.call(&scheduler.Call{Type: scheduler.Call_REVIVE})
			c.suppressed = false
			c.lastRevive = c.now
			c.reviveDue = false
			c.filtered = false
		} else {
			c.reviveDue = true
		}
	case !want && !c.suppressed:
		c.call(&scheduler.Call{Type: scheduler.Call_SUPPRESS})
		c.suppressed = true
		c.reviveDue = false
	case !want:
		c.reviveDue = false
	}
}

// onCallFailed: an ACCEPT that did not reach the master launched nothing;
// its agents wait for the next offers again. A KILL is sent again when
// the task next reports.
func (c *Core) onCallFailed(e CallFailed) {
	k := e.Call
	switch k.Type {
	case scheduler.Call_ACCEPT:
		for _, op := range k.Accept.Operations {
			if op.Launch == nil {
				continue
			}
			for _, ti := range op.Launch.TaskInfos {
				if a := c.agents[ti.TaskID.Value]; a != nil && a.state == stLaunching {
					a.state, a.taskLive, a.host, a.agentID = stReady, false, "", ""
					a.heldSince = time.Time{} // nothing was launched
					c.note("accept_failed", "launch of "+a.name+" not sent: "+e.Err, map[string]string{"node": a.name})
				}
			}
		}
	case scheduler.Call_KILL:
		if a := c.agents[k.Kill.TaskID.Value]; a != nil {
			a.taskKilled = false
		}
	case scheduler.Call_SUPPRESS, scheduler.Call_REVIVE:
		// Not known to the master: send it again, but not before the next
		// second (a disconnected master would otherwise see a tight loop).
		c.suppressed = k.Type == scheduler.Call_REVIVE
		c.offerCallRetry = c.now.Add(time.Second)
	}
}

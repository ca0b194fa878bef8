package mesosemu

import (
	"fmt"
	"sort"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// maxRefuse is the allocator's cap on refuse_seconds.
const maxRefuse = 365 * 24 * time.Hour

// Offer is an outstanding offer: one agent's resources allocated to one
// framework and role. Resources are kept in canonical form (reservation
// stack, no allocation info); the wire form is derived per framework.
type Offer struct {
	id        string
	fw        *Framework
	agent     *Agent
	role      string
	resources mesos.Resources
	timer     *time.Timer
}

// refusalFilter suppresses offers of resources that are a subset of what
// was refused on an agent for a role, until it expires.
type refusalFilter struct {
	resources mesos.Resources
	expires   time.Time
}

func filterKey(role, agentID string) string { return role + "\x00" + agentID }

func (c *Cluster) allocationLoop() {
	defer c.wg.Done()
	t := c.clock.NewTicker(c.cfg.AllocationInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		case <-c.allocTrigger:
		}
		c.allocate()
	}
}

// allocateSoonLocked asks for an allocation run now (batched), as adding a
// framework, reviving or adding an agent does in the hierarchical allocator.
func (c *Cluster) allocateSoonLocked() {
	select {
	case c.allocTrigger <- struct{}{}:
	default:
	}
}

func (c *Cluster) allocate() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.leader == nil || !c.leader.elected {
		return 0
	}
	c.cycles++
	return c.leader.allocateLocked()
}

// AllocationCycles counts the allocation cycles the leading master has
// run, so a caller can wait for "n cycles with no offer" instead of a
// stretch of wall-clock time.
func (c *Cluster) AllocationCycles() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cycles
}

type allocCandidate struct {
	fw    *Framework
	role  string
	share float64
}

// allocateLocked runs one allocation cycle: each agent's free resources go
// to the eligible (framework, role) with the lowest dominant share, as one
// offer; each framework gets one OFFERS event for the cycle.
func (m *Master) allocateLocked() int {
	now := m.c.clock.Now()
	m.inverseOffersLocked(now)
	var cands []*allocCandidate
	for _, id := range m.frameworkIDs() {
		fw := m.frameworks[id]
		if !fw.active || fw.sub == nil {
			continue
		}
		for _, r := range fw.roles() {
			if !fw.suppressed[r] {
				cands = append(cands, &allocCandidate{fw: fw, role: r})
			}
		}
	}
	if len(cands) == 0 {
		return 0
	}
	totals, allocated := m.sharesLocked()
	share := func(fwID string) float64 {
		best := 0.0
		for name, tot := range totals {
			if tot > 0 {
				if s := allocated[fwID][name] / tot; s > best {
					best = s
				}
			}
		}
		return best
	}
	for _, cd := range cands {
		cd.share = share(cd.fw.id)
	}
	order := m.c.rng.Perm(len(m.c.agents))
	made := map[*Framework][]*Offer{}
	count := 0
	for _, i := range order {
		a := m.c.agents[i]
		if !a.reachable() {
			continue
		}
		avail := a.available()
		if !hasPositive(avail) {
			continue
		}
		sort.SliceStable(cands, func(i, j int) bool {
			if cands[i].share != cands[j].share {
				return cands[i].share < cands[j].share
			}
			if cands[i].fw.id != cands[j].fw.id {
				return cands[i].fw.id < cands[j].fw.id
			}
			return cands[i].role < cands[j].role
		})
		for _, cd := range cands {
			if a.hasGPUs() && !cd.fw.has(mesos.FrameworkInfo_Capability_GPU_RESOURCES) {
				continue
			}
			offerable := allocatableTo(avail, cd.role)
			if !allocatable(offerable) || cd.fw.filteredLocked(cd.role, a, offerable, now) {
				continue
			}
			o := m.newOfferLocked(cd.fw, a, cd.role, offerable)
			made[cd.fw] = append(made[cd.fw], o)
			count++
			for _, r := range offerable {
				if r.GetType() == mesos.SCALAR {
					if allocated[cd.fw.id] == nil {
						allocated[cd.fw.id] = map[string]float64{}
					}
					allocated[cd.fw.id][r.Name] += r.GetScalar().GetValue()
				}
			}
			cd.share = share(cd.fw.id)
			break
		}
	}
	for fw, offers := range made {
		ev := &scheduler.Event{Type: scheduler.Event_OFFERS, Offers: &scheduler.Event_Offers{}}
		ev.Offers.Offers = make([]mesos.Offer, 0, len(offers))
		for _, o := range offers {
			ev.Offers.Offers = append(ev.Offers.Offers, m.wireOffer(o))
		}
		fw.send(ev)
	}
	return count
}

// sharesLocked returns the cluster's scalar totals and each framework's
// allocation (tasks and offers), for dominant-resource fairness.
func (m *Master) sharesLocked() (map[string]float64, map[string]map[string]float64) {
	totals := map[string]float64{}
	allocated := map[string]map[string]float64{}
	add := func(fwID string, rs mesos.Resources) {
		if allocated[fwID] == nil {
			allocated[fwID] = map[string]float64{}
		}
		for _, r := range rs {
			if r.GetType() == mesos.SCALAR {
				allocated[fwID][r.Name] += r.GetScalar().GetValue()
			}
		}
	}
	for _, a := range m.c.agents {
		if a.removed {
			continue
		}
		for _, r := range a.total {
			if r.GetType() == mesos.SCALAR {
				totals[r.Name] += r.GetScalar().GetValue()
			}
		}
		for _, t := range a.tasks {
			if !t.freed {
				add(t.fw, t.resources)
			}
		}
	}
	for _, o := range m.offers {
		add(o.fw.id, o.resources)
	}
	return totals, allocated
}

// allocatableTo keeps the resources a role may use: unreserved ones and
// those reserved to the role.
func allocatableTo(rs mesos.Resources, role string) mesos.Resources {
	var out mesos.Resources
	for _, r := range rs {
		if n := len(r.Reservations); n == 0 || r.Reservations[n-1].GetRole() == role {
			out = append(out, r)
		}
	}
	return out
}

// allocatable is Mesos' --min_allocatable_resources check with its default
// "cpus:0.01|mem:32": resources are offered only if they hold at least
// 0.01 CPU or at least 32 MB of memory. An agent left with 30 MB and no
// CPU is not offered.
func allocatable(rs mesos.Resources) bool {
	cpus, mem := cpusMem(rs)
	return roundScalar(cpus) >= 0.01 || roundScalar(mem) >= 32
}

func hasPositive(rs mesos.Resources) bool {
	for _, r := range rs {
		switch r.GetType() {
		case mesos.SCALAR:
			if r.GetScalar().GetValue() > 0 {
				return true
			}
		case mesos.RANGES:
			if len(r.GetRanges().GetRange()) > 0 {
				return true
			}
		case mesos.SET:
			if len(r.GetSet().GetItem()) > 0 {
				return true
			}
		}
	}
	return false
}

func (fw *Framework) filteredLocked(role string, a *Agent, avail mesos.Resources, now time.Time) bool {
	key := filterKey(role, a.id)
	f := fw.filters[key]
	if f == nil {
		return false
	}
	if !now.Before(f.expires) {
		delete(fw.filters, key)
		return false
	}
	return resContains(f.resources, avail)
}

func (m *Master) newOfferLocked(fw *Framework, a *Agent, role string, rs mesos.Resources) *Offer {
	o := &Offer{id: fmt.Sprintf("%s-O%d", m.info.ID, m.nextOffer), fw: fw, agent: a, role: role, resources: rs}
	m.nextOffer++
	m.offers[o.id] = o
	fw.offers[o.id] = o
	a.offered = resPlus(a.offered, rs...)
	if d := m.c.cfg.OfferTimeout; d > 0 {
		id := o.id
		o.timer = m.c.clock.AfterFunc(d, func() {
			m.c.mu.Lock()
			defer m.c.mu.Unlock()
			if m.offers[id] == o {
				m.rescindOfferLocked(id)
			}
		})
	}
	return o
}

// wireOffer renders an offer in the framework's resource format:
// allocation_info only for MULTI_ROLE frameworks, "role":"*" (pre-refinement
// format) unless the framework is RESERVATION_REFINEMENT capable.
func (m *Master) wireOffer(o *Offer) mesos.Offer {
	out := mesos.Offer{
		ID:          mesos.OfferID{Value: o.id},
		FrameworkID: mesos.FrameworkID{Value: o.fw.id},
		AgentID:     mesos.AgentID{Value: o.agent.id},
		Hostname:    o.agent.hostname,
		Resources:   toWire(o.fw, o.role, o.resources),
		Attributes:  append([]mesos.Attribute(nil), o.agent.attributes...),
		URL:         o.agent.url(),
	}
	if o.fw.multiRole() {
		role := o.role
		out.AllocationInfo = &mesos.Resource_AllocationInfo{Role: &role}
	}
	out.Unavailability = m.c.unavailabilityLocked(o.agent)
	return out
}

func toWire(fw *Framework, role string, rs mesos.Resources) mesos.Resources {
	out := make(mesos.Resources, 0, len(rs))
	refinement := fw.has(mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT)
	for _, r := range rs {
		r := *proto(r)
		if fw.multiRole() {
			rl := role
			r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: &rl}
		}
		if !refinement {
			star := "*"
			r.Role = &star
			if n := len(r.Reservations); n > 0 {
				rr := r.Reservations[n-1].GetRole()
				r.Role = &rr
				r.Reservations = nil
			}
		}
		out = append(out, r)
	}
	return out
}

// canonical converts resources from any framework format back to the
// canonical one used for accounting.
func canonical(rs mesos.Resources) mesos.Resources {
	out := make(mesos.Resources, 0, len(rs))
	for _, r := range rs {
		r := *proto(r)
		r.AllocationInfo = nil
		if r.Role != nil && *r.Role != "*" && len(r.Reservations) == 0 {
			r.Reservations = []mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: r.Role}}
		}
		r.Role = nil
		r.Reservation = nil
		out = append(out, r)
	}
	return out
}

func proto(r mesos.Resource) *mesos.Resource {
	c := r
	return &c
}

// removeOfferLocked takes an offer away and gives its resources back to the
// agent, without a filter.
func (m *Master) removeOfferLocked(id string, rescind bool) {
	o := m.offers[id]
	if o == nil {
		return
	}
	delete(m.offers, id)
	delete(o.fw.offers, id)
	if o.timer != nil {
		o.timer.Stop()
	}
	o.agent.offered = resMinus(o.agent.offered, o.resources...)
	if rescind {
		o.fw.send(&scheduler.Event{Type: scheduler.Event_RESCIND, Rescind: &scheduler.Event_Rescind{OfferID: mesos.OfferID{Value: id}}})
	}
}

func (m *Master) rescindOfferLocked(id string) { m.removeOfferLocked(id, true) }

// refuseLocked installs a refusal filter for resources given back by a
// DECLINE or the unused part of an ACCEPT.
func (m *Master) refuseLocked(fw *Framework, role string, a *Agent, rs mesos.Resources, filters *mesos.Filters) {
	d := refuseDuration(filters)
	if d == 0 || !hasPositive(rs) {
		return
	}
	if d < m.c.cfg.AllocationInterval {
		// A filter lasts at least one allocation interval (MESOS-4302).
		d = m.c.cfg.AllocationInterval
	}
	key := filterKey(role, a.id)
	fw.filters[key] = &refusalFilter{resources: rs, expires: m.c.clock.Now().Add(d)}
}

// refuseDuration is how long a refusal filter lasts: refuse_seconds
// (5 when unset, as in the proto, and when negative), at most maxRefuse;
// 0 installs none.
func refuseDuration(filters *mesos.Filters) time.Duration {
	secs := filters.GetRefuseSeconds()
	if secs < 0 {
		secs = 5
	}
	if secs > maxRefuse.Seconds() {
		return maxRefuse
	}
	return time.Duration(secs * float64(time.Second))
}

func (m *Master) declineLocked(fw *Framework, ids []mesos.OfferID, filters *mesos.Filters) {
	for _, id := range ids {
		o := m.offers[id.Value]
		if o == nil || o.fw != fw {
			continue // unknown offer IDs are ignored
		}
		m.removeOfferLocked(id.Value, false)
		m.refuseLocked(fw, o.role, o.agent, o.resources, filters)
	}
}

// checkRolesLocked validates the roles of REVIVE/SUPPRESS; an empty list
// means all the framework's roles.
func (m *Master) checkRolesLocked(fw *Framework, roles []string, call string) ([]string, bool) {
	if len(roles) == 0 {
		return fw.roles(), true
	}
	for _, r := range roles {
		if !fw.hasRole(r) {
			m.c.log.WithField("framework_id", fw.id).Warnf("dropping %s: role '%s' is not one of the framework's roles {%s}", call, r, strings.Join(fw.roles(), ", "))
			return nil, false
		}
	}
	return roles, true
}

func (m *Master) reviveLocked(fw *Framework, roles []string) {
	roles, ok := m.checkRolesLocked(fw, roles, "REVIVE")
	if !ok {
		return
	}
	for _, r := range roles {
		delete(fw.suppressed, r)
		for key := range fw.filters {
			if strings.HasPrefix(key, r+"\x00") {
				delete(fw.filters, key)
			}
		}
	}
	m.c.allocateSoonLocked()
}

func (m *Master) suppressLocked(fw *Framework, roles []string) {
	roles, ok := m.checkRolesLocked(fw, roles, "SUPPRESS")
	if !ok {
		return
	}
	for _, r := range roles {
		fw.suppressed[r] = true
	}
}

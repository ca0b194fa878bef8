package scheduler

import (
	"sort"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// Maintenance. Offers of agents in or near a window take no new agent
// (inMaintenance, launch.go). An inverse offer asks for an agent back: our
// agents there that are idle after their builds step down, and the
// inverse offer is held, unanswered, while one of ours still runs a build
// there or waits for its build; it is accepted the moment none does
// (Mesos then shows ACCEPT for the framework in /maintenance/status). It
// is never declined: a build ends by itself, and a DECLINE would only
// stand until the framework no longer uses the agent, after which Mesos
// asks no more. A rescinded inverse offer, or one held when the
// subscription ends, is dropped.

// inverseAcceptFilter: after an ACCEPT the master need not ask again
// about that agent for a while.
const inverseAcceptFilter = 5 * time.Minute

func (c *Core) onInverseOffers(ios []mesos.InverseOffer) {
	if c.inverse == nil {
		c.inverse = map[string]string{}
	}
	for i := range ios {
		agentID := ios[i].GetAgentID().GetValue()
		c.inverse[ios[i].OfferID.Value] = agentID
		c.note("inverse_offer", "agent "+agentID+" is scheduled for maintenance: no new agent there; the inverse offer is accepted once no build of ours runs there",
			map[string]string{"agent_id": agentID, "inverse_offer_id": ios[i].OfferID.Value})
	}
}

// answerInverse steps down the idle agents on the Mesos agents asked back,
// and accepts the held inverse offers of those where nothing of ours runs
// a build or waits for one any more.
func (c *Core) answerInverse() {
	if len(c.inverse) == 0 {
		return
	}
	asked := map[string]bool{}
	for _, agentID := range c.inverse {
		asked[agentID] = true
	}
	for _, a := range c.sortedAgents() {
		// Idle after its builds (an agent kept for more), or idle in the
		// warm pool beyond the waiting builds: it steps down (a warm one
		// is made again elsewhere). One online that has not had its build
		// yet is waiting for it.
		if asked[a.agentID] && a.state == stOnline && a.busy == 0 && (a.everBusy || c.poolOnly(a)) {
			c.stepDown(a, "maintenance", "its Mesos agent is scheduled for maintenance")
		}
	}
	blocked := map[string]bool{}
	for _, a := range c.agents {
		if a.agentID == "" || a.state == stDeleting || (a.state == stRetiring && a.busy == 0) {
			continue
		}
		blocked[a.agentID] = true // a build runs there, or the agent waits for its build
	}
	var accept []mesos.OfferID
	agentOf := map[string]string{}
	for id, agentID := range c.inverse {
		if !blocked[agentID] {
			accept = append(accept, mesos.OfferID{Value: id})
			agentOf[id] = agentID
			delete(c.inverse, id)
		}
	}
	if len(accept) == 0 {
		return
	}
	sort.Slice(accept, func(i, j int) bool { return accept[i].Value < accept[j].Value })
	s := inverseAcceptFilter.Seconds()
	c.call(&scheduler.Call{Type: scheduler.Call_ACCEPT_INVERSE_OFFERS, AcceptInverseOffers: &scheduler.Call_AcceptInverseOffers{
		InverseOfferIDs: accept, Filters: &mesos.Filters{RefuseSeconds: &s}}})
	for _, id := range accept {
		c.note("maintenance_accept", "accepted the inverse offer for agent "+agentOf[id.Value]+": no build of ours runs there",
			map[string]string{"agent_id": agentOf[id.Value], "inverse_offer_id": id.Value})
	}
}

package scheduler

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/offers"
	"github.com/jenkins-mesos/jenkins-mesos/proto"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// Rand is all the core needs of randomness (math/rand/v2's *rand.Rand has
// it); node names take their suffix from it.
type Rand interface{ Uint64() uint64 }

// agentState is where an agent is in its life:
//
//	creating → ready → launching → starting → running → online ⇄ busy
//	    (node)  (secret) (ACCEPT)   (STARTING)  (RUNNING) (connected) (build)
//	busy → retiring (one-shot: marked offline) → deleting (node deleted,
//	task killed) → gone. Every state can fall to deleting: a failed
//	launch, a task that ended, a connect timeout, a node that vanished.
type agentState int

const (
	stCreating agentState = iota
	stReady
	stLaunching
	stStarting
	stRunning
	stOnline
	stBusy
	stRetiring
	stDeleting
)

var stateNames = [...]string{"creating", "ready", "launching", "starting", "running", "online", "busy", "retiring", "deleting"}

func (s agentState) String() string { return stateNames[s] }

type agent struct {
	name       string
	tmpl       int
	state      agentState
	secret     string
	agentID    string
	host       string
	attrs      []offers.Attribute
	launchedAt time.Time
	onlineAt   time.Time
	idleSince  time.Time
	everBusy   bool
	busy       int // executors running a build, as last listed
	// unreachableSince: the task was reported TASK_UNREACHABLE (zero when
	// reachable); the node is kept for UnreachableGrace.
	unreachableSince time.Time
	nodeSeen         bool // the node appeared in a listing at least once
	// Two sources of truth: the node in Jenkins and the task in Mesos.
	nodeGone   bool   // deleted (or never created)
	taskLive   bool   // launched and not yet terminal
	taskKilled bool   // KILL sent
	deleteSent bool   // a node deletion is in flight
	downWhy    string // why it is stepping down (stRetiring, waiting for the offline mark); "" otherwise
	adopted    bool   // found after a restart, not created by this core
	adoptedAt  time.Time
	// For the accounting note when it is gone: since when its task held
	// its slice (launch, or adoption), when the task ended, and the builds
	// Jenkins showed running on it.
	heldSince, heldUntil time.Time
	held                 offers.Amounts // the slice its task was launched with (zero: adopted, the template's)
	builds               []string
}

// orphan is a task that reported with no agent of the core behind it.
type orphan struct {
	agentID string
	seenAt  time.Time
}

// Core is the deterministic decision logic: events in, Ready out.
type Core struct {
	cfg Config // Templates: the configured ones, then those derived for images
	// badVariants: labels choosing what their template does not allow
	// (an image, a size), with why.
	badVariants map[string]variantRefusal
	rnd         Rand
	now         time.Time
	state       proto.State
	persist     bool
	matcher     offers.Matcher
	needs       []offers.Amounts
	agents      map[string]*agent
	// inverse holds the unanswered inverse offers: ID → Mesos agent ID
	// (maintenance.go).
	inverse map[string]string
	// byName caches the agents in name order; nil after the set changed
	// (putAgent, dropAgent). Callers only read it, and a rebuild makes a
	// new slice, so a loop over an older one stays valid.
	byName   []*agent
	queue    []QueueItem
	exprs    map[string]*labelExpr // parsed label expressions, by text
	badExprs map[string]string

	subscribed  bool
	subscribeAt time.Time
	suppressed  bool
	lastRevive  time.Time
	reviveDue   bool
	// held: offers that came while nodes were being created; they are
	// matched once no node is being created any more, or at heldUntil,
	// so no offer is kept longer than a node creation.
	held      []mesos.Offer
	heldUntil time.Time
	// offerCallRetry: a SUPPRESS or REVIVE failed; neither is sent again
	// before this time.
	offerCallRetry time.Time
	// filtered: offers were refused with the long filter since the last
	// REVIVE; new demand must REVIVE to clear it even when not suppressed.
	filtered  bool
	nodesSeen bool // at least one node listing since the subscription
	// nodesAt: when the nodes were last listed. A deadline that depends on
	// what Jenkins says (an agent that never connected, an idle one) acts
	// only on a listing made after it: a Jenkins that does not answer
	// must never get running agents deleted.
	nodesAt time.Time
	// queueStale: the nodes were listed after the queue was last read; a
	// build that just started would still count as waiting, so demand is
	// not reconsidered until the next queue observation.
	queueStale bool
	dirty      bool              // events were stepped since the last settle
	orphans    map[string]orphan // by task ID: tasks of the framework with no agent (yet)
	// lastReconcile: when the last implicit RECONCILE went out (at each
	// subscription, then every ReconcileInterval): every live task of the
	// framework reports after it, so tasks without a node are found, and
	// nodes whose task never reports are known to have none.
	lastReconcile time.Time
	lastProbe     time.Time      // the last explicit reconciliation of unreachable tasks
	health        []health       // per template: creation and launch failures
	unmet         map[int]string // per template: why the last offers did not fit

	pending     Ready
	lastWaiting []Wait
	lastTmpl    []TemplateStatus
	// jenkinsQuieting: the last queue listing had an item held because
	// Jenkins quiets down ("Prepare for Shutdown"); no queued build is
	// demand then.
	jenkinsQuieting bool
}

// New returns a core for cfg, starting from the persisted state (nil for
// a first start).
func New(cfg Config, restored *proto.State, rnd Rand) *Core {
	cfg = cfg.WithDefaults()
	// Templates derived for images are appended to the core's own copy.
	cfg.Templates = slices.Clip(cfg.Templates)
	c := &Core{cfg: cfg, rnd: rnd, agents: map[string]*agent{}, exprs: map[string]*labelExpr{}, badExprs: map[string]string{},
		orphans: map[string]orphan{}, health: make([]health, len(cfg.Templates)), unmet: map[int]string{}}
	if restored != nil {
		c.state.FrameworkId = restored.GetFrameworkId()
		c.state.FrameworkName = restored.GetFrameworkName()
	}
	c.state.SchemaVersion = 1
	for i := range cfg.Templates {
		c.needs = append(c.needs, cfg.Templates[i].need())
	}
	return c
}

// FrameworkID is the ID to subscribe with ("" for a new framework).
func (c *Core) FrameworkID() string { return c.state.FrameworkId }

// Step applies one event.
func (c *Core) Step(ev Event) error {
	switch e := ev.(type) {
	case Tick:
		if e.Now.After(c.now) {
			c.now = e.Now
		}
	case Subscribed:
		c.onSubscribed(e)
	case Disconnected:
		c.subscribed = false
		c.held = nil    // offers die with the subscription
		c.inverse = nil // and so do inverse offers
		c.note("disconnected", "event stream ended; re-subscribing", nil)
	case Offers:
		c.onOffers(e.Offers)
	case Rescind:
		// Only offers waiting for a node creation are ever held.
		for i := range c.held {
			if c.held[i].ID.Value == e.OfferID {
				c.held = append(c.held[:i], c.held[i+1:]...)
				break
			}
		}
	case InverseOffers:
		c.onInverseOffers(e.Offers)
	case RescindInverseOffer:
		delete(c.inverse, e.ID)
	case Update:
		c.onUpdate(e.Status)
	case QueueObserved:
		c.queue = append(c.queue[:0], e.Items...)
		c.queueStale = false
		// One item held by a shutdown means Jenkins quiets down: it holds
		// them all, those still in their quiet period too (their why says
		// only that until the period ends).
		c.jenkinsQuieting = slices.ContainsFunc(c.queue, func(it QueueItem) bool { return it.ShuttingDown })
	case NodesObserved:
		c.nodesAt = c.now
		c.onNodes(e.Nodes)
		c.queueStale = true
	case NodeDone:
		c.onNodeDone(e)
	case AgentOutput:
		c.onAgentOutput(e)
	case CallFailed:
		c.onCallFailed(e)
	case Reconfigured:
		c.onReconfigured(e.Config)
	default:
		return fmt.Errorf("scheduler: unknown event %T", ev)
	}
	c.dirty = true
	return nil
}

// settle derives what follows from the events stepped since the last
// Ready: agents to create or withdraw, SUPPRESS/REVIVE, the reasons. It
// runs once per batch of events, not once per event (a poll of 10,000
// builds or 10,000 node creations in one batch cost one pass).
func (c *Core) settle() {
	if !c.dirty {
		return
	}
	c.dirty = false
	// Every deadline at or before now is acted on before the Ready goes
	// out, whatever the event was (a fresh node listing, a subscription):
	// the Wake it carries is then always in the future.
	c.onTick()
	c.answerInverse()
	if len(c.held) > 0 && (!c.anyAgent(stCreating) || !c.now.Before(c.heldUntil)) {
		held := c.held
		c.held = nil
		c.match(held)
	}
	c.reconcileDemand()
	c.refreshOffers()
	c.explain()
}

// HasReady tells whether Ready has something to hand out.
func (c *Core) HasReady() bool {
	c.settle()
	return !c.pending.empty() || c.persist
}

// Ready returns the batch of actions; the caller handles it in the order
// Ready documents, then calls Advance.
func (c *Core) Ready() Ready {
	c.settle()
	rd := c.pending
	if c.persist {
		st := &proto.State{SchemaVersion: c.state.SchemaVersion, FrameworkId: c.state.FrameworkId, FrameworkName: c.state.FrameworkName}
		rd.Persist = st
	}
	rd.Wake = c.wake()
	return rd
}

// Advance records that rd was handled.
func (c *Core) Advance(rd Ready) {
	if rd.Persist != nil {
		c.persist = false
	}
	c.pending = Ready{}
}

func (c *Core) call(k *scheduler.Call) { c.pending.Calls = append(c.pending.Calls, k) }
func (c *Core) jenkins(op NodeOp)      { c.pending.Jenkins = append(c.pending.Jenkins, op) }

func (c *Core) note(kind, text string, fields map[string]string) {
	c.pending.Notes = append(c.pending.Notes, Note{Kind: kind, Text: text, Fields: fields})
}

func (c *Core) sortedAgents() []*agent {
	if c.byName == nil {
		out := make([]*agent, 0, len(c.agents))
		for _, a := range c.agents {
			out = append(out, a)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
		c.byName = out
	}
	return c.byName
}

// putAgent adds an agent to the set.
func (c *Core) putAgent(a *agent) {
	c.agents[a.name] = a
	c.byName = nil
}

// dropAgent removes an agent from the set.
func (c *Core) dropAgent(name string) {
	delete(c.agents, name)
	c.byName = nil
}

// agentsWhere returns the agents for which keep is true, in name order
// (a new slice: the caller may change the set while it walks it).
func (c *Core) agentsWhere(keep func(*agent) bool) []*agent {
	var out []*agent
	for _, a := range c.sortedAgents() {
		if keep(a) {
			out = append(out, a)
		}
	}
	return out
}

// Status is a read-only summary, for /status and metrics.
type Status struct {
	Subscribed  bool
	Suppressed  bool
	FrameworkID string
	Agents      map[string]int // by state
	Waiting     []Wait
	Templates   []TemplateStatus
}

// Status summarises the core.
func (c *Core) Status() Status {
	st := Status{Subscribed: c.subscribed, Suppressed: c.suppressed, FrameworkID: c.state.FrameworkId, Agents: map[string]int{},
		Waiting: append([]Wait(nil), c.lastWaiting...), Templates: append([]TemplateStatus(nil), c.lastTmpl...)}
	for _, a := range c.agents {
		st.Agents[a.state.String()]++
	}
	return st
}

// anyAgent tells whether some agent is in one of the states.
func (c *Core) anyAgent(states ...agentState) bool {
	for _, a := range c.agents {
		for _, s := range states {
			if a.state == s {
				return true
			}
		}
	}
	return false
}

func isTerminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TASK_FINISHED, mesos.TASK_FAILED, mesos.TASK_KILLED, mesos.TASK_ERROR, mesos.TASK_LOST,
		mesos.TASK_DROPPED, mesos.TASK_GONE, mesos.TASK_GONE_BY_OPERATOR, mesos.TASK_UNKNOWN:
		return true
	}
	return false
}

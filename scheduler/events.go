package scheduler

import (
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// Event is one observation fed to Step.
type Event interface{ isEvent() }

type (
	// Tick carries the time: every deadline at or before Now fires.
	Tick struct{ Now time.Time }
	// Subscribed: the master accepted the subscription.
	Subscribed struct {
		FrameworkID string
		Heartbeat   time.Duration
	}
	// Disconnected: the event stream ended; offers are void.
	Disconnected struct{}
	// Offers is one OFFERS event.
	Offers struct{ Offers []mesos.Offer }
	// Rescind withdraws an offer.
	Rescind struct{ OfferID string }
	// InverseOffers is one INVERSE_OFFERS event: Mesos asks for agents
	// scheduled for maintenance back.
	InverseOffers struct{ Offers []mesos.InverseOffer }
	// RescindInverseOffer withdraws an inverse offer.
	RescindInverseOffer struct{ ID string }
	// Update is a task status update.
	Update struct{ Status mesos.TaskStatus }
	// QueueObserved is one poll of the Jenkins queue.
	QueueObserved struct{ Items []QueueItem }
	// NodesObserved is one listing of the framework's own Jenkins nodes.
	NodesObserved struct{ Nodes []Node }
	// CallFailed: a Ready.Calls entry could not be sent.
	CallFailed struct {
		Call *scheduler.Call
		Err  string
	}
	// Reconfigured carries a reloaded configuration (SIGHUP): templates,
	// limits, timings. FrameworkName and JenkinsURL are kept from the
	// first configuration; changing them needs a restart.
	Reconfigured struct{ Config Config }
	// AgentOutput is the end of what a failed agent's container wrote
	// (the last line of its sandbox's stderr, else stdout), read by the
	// driver for a Ready.Outputs entry; secrets already masked.
	AgentOutput struct {
		Task string
		Last string
	}
	// NodeDone is the outcome of a Ready.Jenkins entry.
	NodeDone struct {
		Op     NodeOp
		Secret string // for NodeCreate: the inbound agent secret
		Err    string // "" on success
	}
)

func (Tick) isEvent()                {}
func (Subscribed) isEvent()          {}
func (Disconnected) isEvent()        {}
func (Offers) isEvent()              {}
func (Rescind) isEvent()             {}
func (InverseOffers) isEvent()       {}
func (RescindInverseOffer) isEvent() {}
func (Update) isEvent()              {}
func (QueueObserved) isEvent()       {}
func (NodesObserved) isEvent()       {}
func (NodeDone) isEvent()            {}
func (AgentOutput) isEvent()         {}
func (CallFailed) isEvent()          {}
func (Reconfigured) isEvent()        {}

// QueueItem is a build waiting in the Jenkins queue, as the adapter read it.
type QueueItem struct {
	ID   int64
	Name string // the job (or Pipeline block) it builds, for messages
	// Label is the item's label expression; "" when it has none.
	Label string
	// LabelNode: Jenkins named a node instead of the label (it does when
	// exactly one node carries the label). When it is one of the core's
	// agents, the build is that agent's template's; otherwise Label holds.
	LabelNode string
	// Quiet: still in its quiet period (a WaitingItem).
	Quiet bool
	// Blocked: waiting for something other than an executor (another
	// build of the job, say); not demand.
	Blocked bool
	// ShuttingDown: Jenkins is quieting down ("Prepare for Shutdown") and
	// will not start it, whatever agents there are; not demand.
	ShuttingDown bool
	Why          string
}

// Node is one of the framework's Jenkins nodes as Jenkins reports it.
type Node struct {
	Name      string
	Online    bool // connected
	Busy      int  // executors running a build
	Executors int
	// TemporarilyOffline: marked offline (retiring) by someone.
	TemporarilyOffline bool
	// Labels are its label atoms; they tell, after a restart, what a
	// build chose for the agent (image=, cpus=, mem=).
	Labels []string
	// Builds are the URLs of the builds it runs now, as far as Jenkins
	// shows them; for the accounting note when the agent is gone.
	Builds []string
}

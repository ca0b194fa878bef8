package scheduler

import (
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/proto"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// NodeOpKind is what to do to a Jenkins node.
type NodeOpKind int

const (
	// NodeCreate creates an inbound agent node and reads its secret.
	NodeCreate NodeOpKind = iota + 1
	// NodeRetire marks the node temporarily offline with Message, so no
	// new build lands on it; the running one finishes.
	NodeRetire
	// NodeDelete deletes the node. The core never asks while it is busy.
	NodeDelete
)

func (k NodeOpKind) String() string {
	switch k {
	case NodeCreate:
		return "CREATE"
	case NodeRetire:
		return "RETIRE"
	case NodeDelete:
		return "DELETE"
	}
	return "UNKNOWN"
}

// NodeOp is one Jenkins change.
type NodeOp struct {
	Kind        NodeOpKind
	Name        string
	Template    string
	Labels      string // space-separated label set
	Executors   int
	RemoteFS    string
	WebSocket   bool
	Description string
	Message     string // NodeRetire: the offline message
}

// Wait explains one waiting build.
type Wait struct {
	Build    int64
	Name     string
	Template string // the template that serves it; "" when none does
	Quiet    bool   // still in its quiet period (Jenkins would not start it yet)
	Code     string // stable, for metrics: no_template, pending, creating, ...
	Reason   string // a sentence for people
}

// TemplateStatus explains one template.
type TemplateStatus struct {
	Template string
	Waiting  int // builds waiting for it
	Agents   int // agents it has, in any state
	Code     string
	Reason   string
}

// Note is something the driver logs (the core never logs). Fields are
// the log fields: node, task_id, agent_id, offer_id, build, host.
type Note struct {
	Kind   string
	Text   string
	Fields map[string]string
}

// Ready is a batch of actions. Handle the fields in this order:
//  1. Persist, when not nil, is saved durably BEFORE anything below is
//     acted on (it holds what an acknowledgement implies).
//  2. Jenkins operations start; their outcomes come back as NodeDone.
//  3. Calls go to the master (ACCEPT, DECLINE, KILL, SUPPRESS, REVIVE,
//     ACKNOWLEDGE, RECONCILE), in order.
//
// Waiting and Templates are set when the explanation changed; Notes are
// for the log; Wake is the earliest deadline the core holds (zero: none).
type Ready struct {
	Persist   *proto.State
	Jenkins   []NodeOp
	Calls     []*scheduler.Call
	Waiting   []Wait
	Templates []TemplateStatus
	Notes     []Note
	// Outputs are agent tasks that failed or ended by themselves: the
	// driver reads the end of their containers' output (the Mesos
	// sandbox) and answers with an AgentOutput.
	Outputs []OutputRead
	Wake    time.Time
}

// OutputRead asks for the end of a task's container output (the task's
// ID is its node's name).
type OutputRead struct {
	Task, Agent string
}

func (rd *Ready) empty() bool {
	return rd.Persist == nil && len(rd.Jenkins) == 0 && len(rd.Calls) == 0 && rd.Waiting == nil && rd.Templates == nil && len(rd.Notes) == 0 && len(rd.Outputs) == 0
}

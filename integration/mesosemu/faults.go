package mesosemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// AgentInfo describes a simulated agent for tests and the admin endpoint.
type AgentInfo struct {
	ID          string `json:"id"`
	Hostname    string `json:"hostname"`
	Removed     bool   `json:"removed"`
	Partitioned bool   `json:"partitioned"`
	Tasks       int    `json:"tasks"`
	// Endpoint is the agent's own HTTP endpoint (its sandbox files).
	Endpoint string `json:"endpoint"`
}

// Agents lists the simulated agents in registration order.
func (c *Cluster) Agents() []AgentInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]AgentInfo, 0, len(c.agents))
	for _, a := range c.agents {
		out = append(out, AgentInfo{ID: a.id, Hostname: a.hostname, Removed: a.removed, Partitioned: a.partitioned, Tasks: len(a.tasks),
			Endpoint: "http://" + a.addr()})
	}
	return out
}

// TaskState returns the agent-side state of a framework's task and whether
// a process for it is alive; ok is false for an unknown task.
func (c *Cluster) TaskState(frameworkID, taskID string) (state mesos.TaskState, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.taskIndex[taskKey(frameworkID, taskID)]
	if t == nil {
		return 0, false
	}
	return t.state, true
}

// TaskSandbox returns the sandbox directory of a started task.
func (c *Cluster) TaskSandbox(frameworkID, taskID string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.taskIndex[taskKey(frameworkID, taskID)]; t != nil {
		return t.sandbox
	}
	return ""
}

// withAgent runs f on the agent named by ID or hostname, under the lock.
func (c *Cluster) withAgent(idOrHost string, f func(a *Agent) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, err := c.findAgentLocked(idOrHost)
	if err != nil {
		return err
	}
	return f(a)
}

func (c *Cluster) findAgentLocked(idOrHost string) (*Agent, error) {
	if a := c.agentByID[idOrHost]; a != nil {
		return a, nil
	}
	for _, a := range c.agents {
		if a.hostname == idOrHost {
			return a, nil
		}
	}
	return nil, fmt.Errorf("mesosemu: no agent %q", idOrHost)
}

// RemoveAgent takes an agent away for good: its tasks die, frameworks get
// TASK_GONE (TASK_LOST if not partition aware) and a FAILURE event, and its
// offers are rescinded.
func (c *Cluster) RemoveAgent(idOrHost string) error {
	return c.withAgent(idOrHost, c.removeAgentLocked)
}

func (c *Cluster) removeAgentLocked(a *Agent) error {
	if a.removed {
		return nil
	}
	a.removed = true
	m := c.leader
	if m != nil {
		m.rescindAgentOffersLocked(a)
	}
	for _, t := range a.tasks {
		live := !isTerminal(t.masterState)
		a.destroyTaskLocked(t)
		if m != nil && live {
			if fw := m.frameworks[t.fw]; fw != nil {
				m.masterUpdateLocked(fw, t.info.TaskID, a.id, mesos.TASK_GONE, mesos.REASON_AGENT_REMOVED, "Agent "+a.hostname+" removed: agent is gone")
			}
		}
	}
	if m != nil {
		m.failureLocked(a)
	}
	return nil
}

// PartitionAgent makes an agent unreachable: the master marks its tasks
// TASK_UNREACHABLE (TASK_LOST if not partition aware), sends FAILURE and
// rescinds its offers. The tasks keep running; their updates are held.
func (c *Cluster) PartitionAgent(idOrHost string) error {
	return c.withAgent(idOrHost, c.partitionAgentLocked)
}

func (c *Cluster) partitionAgentLocked(a *Agent) error {
	if a.removed || a.partitioned {
		return nil
	}
	a.partitioned = true
	a.unreachableTime = c.clock.Now()
	m := c.leader
	if m == nil {
		return nil
	}
	m.rescindAgentOffersLocked(a)
	for _, t := range a.tasks {
		if isTerminal(t.masterState) {
			continue
		}
		t.masterState = mesos.TASK_UNREACHABLE
		if !t.freed {
			t.freed = true
			a.used = resMinus(a.used, t.resources...)
		}
		if fw := m.frameworks[t.fw]; fw != nil {
			m.masterUpdateAtLocked(fw, t.info.TaskID, a.id, mesos.TASK_UNREACHABLE, mesos.REASON_AGENT_REMOVED,
				"Agent "+a.hostname+" is unreachable: health check timed out", &mesos.TimeInfo{Nanoseconds: a.unreachableTime.UnixNano()})
		}
	}
	m.failureLocked(a)
	return nil
}

// RestoreAgent ends a partition: the agent re-registers with its tasks,
// which are not killed (Mesos 1.5+), and its held updates go out.
func (c *Cluster) RestoreAgent(idOrHost string) error {
	return c.withAgent(idOrHost, c.restoreAgentLocked)
}

func (c *Cluster) restoreAgentLocked(a *Agent) error {
	if a.removed {
		return fmt.Errorf("mesosemu: agent %s was removed and cannot come back", a.id)
	}
	if !a.partitioned {
		return nil
	}
	a.partitioned = false
	if m := c.leader; m != nil && m.elected {
		a.reregisteredLocked(m)
	} else {
		a.recovering = true
	}
	c.allocateSoonLocked()
	return nil
}

// AddAgent registers a new agent; empty specs use the cluster defaults.
func (c *Cluster) AddAgent(resourceSpec, attributeSpec string) (string, error) {
	if resourceSpec == "" {
		resourceSpec = c.cfg.AgentResources
	}
	if attributeSpec == "" {
		attributeSpec = c.cfg.AgentAttributes
	}
	res, err := ParseResources(resourceSpec)
	if err != nil {
		return "", err
	}
	attrs, err := ParseAttributes(attributeSpec)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.addAgentLocked(res, attrs)
	c.allocateSoonLocked()
	return a.id, nil
}

// DropFrameworkStream closes a framework's event stream as a broken
// connection would: no ERROR; the master sees the disconnect.
func (c *Cluster) DropFrameworkStream(frameworkID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	fw, err := c.subscribedLocked(frameworkID)
	if err != nil {
		return err
	}
	fw.sub.close("")
	return nil
}

// subscribedLocked finds a framework subscribed to the leading master.
func (c *Cluster) subscribedLocked(frameworkID string) (*Framework, error) {
	m := c.leader
	if m == nil {
		return nil, fmt.Errorf("mesosemu: no leading master")
	}
	fw := m.frameworks[frameworkID]
	if fw == nil || fw.sub == nil {
		return nil, fmt.Errorf("mesosemu: framework %q is not subscribed", frameworkID)
	}
	return fw, nil
}

// StallFrameworkStream keeps a framework's event stream open but sends
// nothing more on it, heartbeats included: a network that silently stops
// delivering, which only a scheduler's heartbeat watchdog notices.
func (c *Cluster) StallFrameworkStream(frameworkID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	fw, err := c.subscribedLocked(frameworkID)
	if err != nil {
		return err
	}
	fw.sub.mu.Lock()
	fw.sub.stalled = true
	fw.sub.mu.Unlock()
	return nil
}

// FailImage makes the next count launches of image fail like a failed
// pull; count < 0 fails every launch until ClearImageFaults.
func (c *Cluster) FailImage(image string, count int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.imageFaults[image] = count
}

// ClearImageFaults ends all injected image failures.
func (c *Cluster) ClearImageFaults() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.imageFaults = map[string]int{}
}

func (m *Master) rescindAgentOffersLocked(a *Agent) {
	var ids []string
	for id, o := range m.offers {
		if o.agent == a {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		m.rescindOfferLocked(id)
	}
}

func (m *Master) failureLocked(a *Agent) {
	for _, id := range m.frameworkIDs() {
		m.frameworks[id].send(&scheduler.Event{Type: scheduler.Event_FAILURE, Failure: &scheduler.Event_Failure{AgentID: &mesos.AgentID{Value: a.id}}})
	}
}

// registerAdminRoutes exposes fault injection over HTTP under /emulator/,
// a prefix no real Mesos endpoint uses.
func (m *Master) registerAdminRoutes(mux *http.ServeMux) {
	c := m.c
	reply := func(w http.ResponseWriter, err error) {
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
	mux.HandleFunc("GET /emulator/agents", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.Agents())
	})
	mux.HandleFunc("POST /emulator/agents", func(w http.ResponseWriter, r *http.Request) {
		id, err := c.AddAgent(r.URL.Query().Get("resources"), r.URL.Query().Get("attributes"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
	})
	mux.HandleFunc("POST /emulator/agents/{agent}/{action}", func(w http.ResponseWriter, r *http.Request) {
		agent := r.PathValue("agent")
		switch r.PathValue("action") {
		case "remove":
			reply(w, c.RemoveAgent(agent))
		case "partition":
			reply(w, c.PartitionAgent(agent))
		case "restore":
			reply(w, c.RestoreAgent(agent))
		default:
			writeError(w, http.StatusNotFound, "unknown agent action "+strconv.Quote(r.PathValue("action"))+"; expected remove, partition or restore")
		}
	})
	mux.HandleFunc("POST /emulator/frameworks/{framework}/drop", func(w http.ResponseWriter, r *http.Request) {
		reply(w, c.DropFrameworkStream(r.PathValue("framework")))
	})
	mux.HandleFunc("POST /emulator/frameworks/{framework}/stall", func(w http.ResponseWriter, r *http.Request) {
		reply(w, c.StallFrameworkStream(r.PathValue("framework")))
	})
	mux.HandleFunc("POST /emulator/failover", func(w http.ResponseWriter, r *http.Request) {
		reply(w, c.FailoverMaster())
	})
	mux.HandleFunc("POST /emulator/images/fail", func(w http.ResponseWriter, r *http.Request) {
		image := r.URL.Query().Get("image")
		if image == "" {
			writeError(w, http.StatusBadRequest, "query parameter 'image' is required")
			return
		}
		count := -1
		if s := r.URL.Query().Get("count"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				writeError(w, http.StatusBadRequest, "query parameter 'count' must be an integer, got "+strconv.Quote(s))
				return
			}
			count = n
		}
		c.FailImage(image, count)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /emulator/images/clear", func(w http.ResponseWriter, r *http.Request) {
		c.ClearImageFaults()
		w.WriteHeader(http.StatusNoContent)
	})
}

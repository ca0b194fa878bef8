package mesosemu

import (
	"encoding/json"
	"net/http"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// runningTask launches a long task and acknowledges it up to TASK_RUNNING.
func runningTask(t *testing.T, s *stream, url, id string) mesos.Offer {
	t.Helper()
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, f64(0), commandTask(id, o, 0.5, 64, "sleep 1000")))
	ackUntil(s, url, id, mesos.TASK_RUNNING)
	return o
}

func TestReconcileImplicitAndExplicit(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 2})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("pa", mesos.FrameworkInfo_Capability_PARTITION_AWARE))
	o := runningTask(t, s, url, "r1")

	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{}})
	st := s.update("r1")
	if st.GetState() != mesos.TASK_RUNNING || st.GetReason() != mesos.REASON_RECONCILIATION || st.GetSource() != mesos.SOURCE_MASTER ||
		len(st.UUID) != 0 || st.GetMessage() != "Reconciliation: Latest task state" {
		t.Fatalf("implicit: got %s", describe(st))
	}
	other := c.Agents()[0].ID
	if other == o.AgentID.Value {
		other = c.Agents()[1].ID
	}
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{Tasks: []scheduler.Call_Reconcile_Task{
		{TaskID: mesos.TaskID{Value: "r1"}},
		{TaskID: mesos.TaskID{Value: "gone"}, AgentID: &mesos.AgentID{Value: other}},
		{TaskID: mesos.TaskID{Value: "unknown-agent"}, AgentID: &mesos.AgentID{Value: "nobody"}},
		{TaskID: mesos.TaskID{Value: "no-agent"}},
	}}})
	want := map[string]mesos.TaskState{"r1": mesos.TASK_RUNNING, "gone": mesos.TASK_GONE, "unknown-agent": mesos.TASK_UNKNOWN, "no-agent": mesos.TASK_UNKNOWN}
	for id, state := range want {
		if st := s.update(id); st.GetState() != state || st.GetReason() != mesos.REASON_RECONCILIATION || len(st.UUID) != 0 {
			t.Fatalf("explicit %s: got %s, want %v", id, describe(st), state)
		}
	}
	// Partition the other agent: unknown tasks there are UNREACHABLE.
	if err := c.PartitionAgent(other); err != nil {
		t.Fatal(err)
	}
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{Tasks: []scheduler.Call_Reconcile_Task{
		{TaskID: mesos.TaskID{Value: "x"}, AgentID: &mesos.AgentID{Value: other}}}}})
	if st := s.update("x"); st.GetState() != mesos.TASK_UNREACHABLE || st.UnreachableTime == nil {
		t.Fatalf("unknown task on a partitioned agent: got %s, want TASK_UNREACHABLE with unreachable_time", describe(st))
	}
	// A removed agent: GONE_BY_OPERATOR.
	if err := c.RemoveAgent(other); err != nil {
		t.Fatal(err)
	}
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{Tasks: []scheduler.Call_Reconcile_Task{
		{TaskID: mesos.TaskID{Value: "y"}, AgentID: &mesos.AgentID{Value: other}}}}})
	if st := s.update("y"); st.GetState() != mesos.TASK_GONE_BY_OPERATOR {
		t.Fatalf("unknown task on a removed agent: got %s, want TASK_GONE_BY_OPERATOR", describe(st))
	}
}

func TestPartitionAndRestoreAgent(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	pa := subscribeRaw(t, url, frameworkInfo("pa", mesos.FrameworkInfo_Capability_PARTITION_AWARE))
	// The rest of the agent is refused by pa for an hour, so it can only
	// go to the second framework, whenever that one subscribes.
	o := pa.next(scheduler.Event_OFFERS).Offers.Offers[0]
	pa.mustCall(url, launch([]mesos.OfferID{o.ID}, f64(3600), commandTask("p1", o, 0.5, 64, "sleep 1000")))
	ackUntil(pa, url, "p1", mesos.TASK_RUNNING)
	plain := subscribeRaw(t, url, frameworkInfo("plain"))
	po := plain.next(scheduler.Event_OFFERS).Offers.Offers[0]
	plain.mustCall(url, launch([]mesos.OfferID{po.ID}, f64(0), commandTask("q1", po, 0.5, 64, "sleep 1000")))
	ackUntil(plain, url, "q1", mesos.TASK_RUNNING)

	if err := c.PartitionAgent(o.AgentID.Value); err != nil {
		t.Fatal(err)
	}
	st := pa.update("p1")
	if st.GetState() != mesos.TASK_UNREACHABLE || st.UnreachableTime == nil || len(st.UUID) != 0 || st.GetSource() != mesos.SOURCE_MASTER {
		t.Fatalf("partition aware: got %s, want TASK_UNREACHABLE from the master", describe(st))
	}
	if st := plain.update("q1"); st.GetState() != mesos.TASK_LOST {
		t.Fatalf("not partition aware: got %s, want TASK_LOST", describe(st))
	}
	if ev := pa.next(scheduler.Event_FAILURE); ev.Failure.AgentID.GetValue() != o.AgentID.Value {
		t.Fatalf("FAILURE for %v, want %s", ev.Failure.AgentID, o.AgentID.Value)
	}
	// A kill of an unreachable task is not carried out (Master::kill does
	// not find it among the framework's tasks): the master answers with a
	// reconciliation, and the process keeps running.
	pa.mustCall(url, &scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "p1"}}})
	if st := pa.update("p1"); st.GetState() != mesos.TASK_UNREACHABLE || st.GetReason() != mesos.REASON_RECONCILIATION || len(st.UUID) != 0 {
		t.Fatalf("KILL of an unreachable task: %s, want a reconciliation answer TASK_UNREACHABLE", describe(st))
	}
	if state, ok := c.TaskState(pa.fwID, "p1"); !ok || state != mesos.TASK_RUNNING {
		t.Fatalf("task on a partitioned agent: %v %v, want still running", state, ok)
	}
	if err := c.RestoreAgent(o.AgentID.Value); err != nil {
		t.Fatal(err)
	}
	// Re-registration: the master tells each framework its task's state
	// (Master::__reregisterSlave, "Unreachable agent re-reregistered",
	// REASON_AGENT_REREGISTERED, no uuid). The earlier kill is forgotten:
	// the task runs until it is killed again.
	if st := pa.update("p1"); st.GetState() != mesos.TASK_RUNNING || st.GetSource() != mesos.SOURCE_MASTER || st.GetReason() != mesos.REASON_AGENT_REREGISTERED ||
		len(st.UUID) != 0 || st.GetMessage() != "Unreachable agent re-reregistered" {
		t.Fatalf("the re-registration update: %s", describe(st))
	}
	pa.mustCall(url, &scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "p1"}}})
	if seen := runToEnd(pa, url, "p1"); states(seen) != "TASK_KILLED" {
		t.Fatalf("killed after restore: %s, want TASK_KILLED", states(seen))
	}
	if st := plain.update("q1"); st.GetState() != mesos.TASK_RUNNING || st.GetReason() != mesos.REASON_AGENT_REREGISTERED {
		t.Fatalf("after restore the task survived (Mesos 1.5+) and its framework is told: got %s, want TASK_RUNNING", describe(st))
	}
	plain.mustCall(url, &scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{}})
	if st := plain.update("q1"); st.GetState() != mesos.TASK_RUNNING {
		t.Fatalf("reconciled after restore: got %s, want TASK_RUNNING", describe(st))
	}
}

func TestRemoveAgentLosesTasksAndRescindsOffers(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 2})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw", mesos.FrameworkInfo_Capability_PARTITION_AWARE))
	offers := s.next(scheduler.Event_OFFERS).Offers.Offers
	o := offers[0]
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, f64(3600), commandTask("doomed", o, 0.5, 64, "sleep 1000")))
	ackUntil(s, url, "doomed", mesos.TASK_RUNNING)
	if err := c.RemoveAgent(offers[1].AgentID.Value); err != nil {
		t.Fatal(err)
	}
	if ev := s.next(scheduler.Event_RESCIND); ev.Rescind.OfferID.Value != offers[1].ID.Value {
		t.Fatalf("rescinded %s, want %s", ev.Rescind.OfferID.Value, offers[1].ID.Value)
	}
	if err := c.RemoveAgent(o.AgentID.Value); err != nil {
		t.Fatal(err)
	}
	st := s.update("doomed")
	if st.GetState() != mesos.TASK_GONE || st.GetReason() != mesos.REASON_AGENT_REMOVED || len(st.UUID) != 0 {
		t.Fatalf("got %s, want TASK_GONE / REASON_AGENT_REMOVED", describe(st))
	}
	s.next(scheduler.Event_FAILURE)
	if err := c.RestoreAgent(o.AgentID.Value); err == nil {
		t.Fatalf("a removed agent must not come back")
	}
}

func TestDropFrameworkStreamDisconnects(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	fi := frameworkInfo("fw")
	fi.FailoverTimeout = f64(3600)
	s := subscribeRaw(t, url, fi)
	s.next(scheduler.Event_SUBSCRIBED)
	if err := c.DropFrameworkStream(s.fwID); err != nil {
		t.Fatal(err)
	}
	s.waitClosed()
	fi.ID = &mesos.FrameworkID{Value: s.fwID}
	s2 := subscribeRaw(t, url, fi)
	s2.next(scheduler.Event_SUBSCRIBED)
	s2.next(scheduler.Event_OFFERS)
}

func TestAdminEndpointInjectsFaults(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 2})
	url := c.Leader()
	r := doRequest(t, http.MethodGet, url+"/emulator/agents", nil, nil)
	var agents []AgentInfo
	if err := json.Unmarshal([]byte(r.body), &agents); err != nil || len(agents) != 2 {
		t.Fatalf("GET /emulator/agents: %d %q", r.code, r.body)
	}
	if r := doRequest(t, http.MethodPost, url+"/emulator/agents/"+agents[0].Hostname+"/partition", nil, nil); r.code != 204 {
		t.Fatalf("partition: %d %q", r.code, r.body)
	}
	if r := doRequest(t, http.MethodPost, url+"/emulator/agents/nobody/remove", nil, nil); r.code != 400 {
		t.Fatalf("remove unknown agent: %d %q, want 400", r.code, r.body)
	}
	if r := doRequest(t, http.MethodPost, url+"/emulator/agents/"+agents[0].ID+"/explode", nil, nil); r.code != 404 {
		t.Fatalf("unknown action: %d %q, want 404", r.code, r.body)
	}
	if r := doRequest(t, http.MethodPost, url+"/emulator/images/fail?image=x&count=two", nil, nil); r.code != 400 {
		t.Fatalf("bad count: %d %q, want 400", r.code, r.body)
	}
	if r := doRequest(t, http.MethodPost, url+"/emulator/agents?resources=cpus:1;mem:512", nil, nil); r.code != 200 {
		t.Fatalf("add agent: %d %q", r.code, r.body)
	}
	got := c.Agents()
	if len(got) != 3 || !got[0].Partitioned {
		t.Fatalf("agents after admin calls: %+v", got)
	}
}

func TestOperatorStateEndpoint(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 2, AgentAttributes: "rack:r1"})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	runningTask(t, s, url, "st1")
	r := doRequest(t, http.MethodGet, url+"/master/state", nil, nil)
	var state struct {
		ID        string `json:"id"`
		Leader    string `json:"leader"`
		Activated int    `json:"activated_slaves"`
		Slaves    []struct {
			ID         string             `json:"id"`
			Hostname   string             `json:"hostname"`
			Resources  map[string]any     `json:"resources"`
			Used       map[string]float64 `json:"-"`
			Attributes map[string]any     `json:"attributes"`
		} `json:"slaves"`
		Frameworks []struct {
			ID    string         `json:"id"`
			Name  string         `json:"name"`
			Used  map[string]any `json:"used_resources"`
			Tasks []struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"tasks"`
		} `json:"frameworks"`
	}
	if err := json.Unmarshal([]byte(r.body), &state); err != nil {
		t.Fatalf("/master/state: %v in %s", err, r.body)
	}
	if state.Activated != 2 || len(state.Slaves) != 2 || state.Slaves[0].Resources["ports"] != "[31000-32000]" || state.Slaves[0].Attributes["rack"] != "r1" {
		t.Fatalf("slaves in /master/state: %+v", state.Slaves)
	}
	if len(state.Frameworks) != 1 || state.Frameworks[0].Name != "fw" || len(state.Frameworks[0].Tasks) != 1 ||
		state.Frameworks[0].Tasks[0].State != "TASK_RUNNING" || state.Frameworks[0].Used["cpus"] != 0.5 {
		t.Fatalf("frameworks in /master/state: %+v", state.Frameworks)
	}
	if r := doRequest(t, http.MethodGet, url+"/health", nil, nil); r.code != 200 {
		t.Fatalf("/health: %d", r.code)
	}
	r = doRequest(t, http.MethodGet, url+"/master/redirect", nil, nil)
	if r.code != 307 || r.header.Get("Location") != "//"+url[len("http://"):] {
		t.Fatalf("/master/redirect: %d Location %q", r.code, r.header.Get("Location"))
	}
}

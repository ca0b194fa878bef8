package mesosemu

import (
	"fmt"
	"math"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// nameMax is NAME_MAX, the limit on task IDs.
const nameMax = 255

// masterUpdateLocked sends a master-generated update: no uuid (it must not
// be acknowledged), source MASTER. States a framework is not partition
// aware of are mapped to TASK_LOST.
func (m *Master) masterUpdateLocked(fw *Framework, taskID mesos.TaskID, agentID string, state mesos.TaskState, reason mesos.TaskStatus_Reason, msg string) {
	m.masterUpdateAtLocked(fw, taskID, agentID, state, reason, msg, nil)
}

// masterUpdateAtLocked is masterUpdateLocked with the time an agent became
// unreachable (TASK_UNREACHABLE carries it).
func (m *Master) masterUpdateAtLocked(fw *Framework, taskID mesos.TaskID, agentID string, state mesos.TaskState, reason mesos.TaskStatus_Reason, msg string, unreachable *mesos.TimeInfo) {
	if !fw.partitionAware() {
		state = nonPartitionAware(state)
	}
	st := mesos.TaskStatus{
		TaskID:          taskID,
		State:           state.Enum(),
		Source:          mesos.SOURCE_MASTER.Enum(),
		Reason:          reason.Enum(),
		Message:         &msg,
		Timestamp:       nowSeconds(m.c),
		UnreachableTime: unreachable,
	}
	if agentID != "" {
		st.AgentID = &mesos.AgentID{Value: agentID}
	}
	fw.send(&scheduler.Event{Type: scheduler.Event_UPDATE, Update: &scheduler.Event_Update{Status: st}})
}

func nonPartitionAware(s mesos.TaskState) mesos.TaskState {
	switch s {
	case mesos.TASK_DROPPED, mesos.TASK_UNREACHABLE, mesos.TASK_GONE, mesos.TASK_GONE_BY_OPERATOR, mesos.TASK_UNKNOWN:
		return mesos.TASK_LOST
	}
	return s
}

// validateOffersLocked checks an ACCEPT's offer list as the master does.
func (m *Master) validateOffersLocked(fw *Framework, ids []mesos.OfferID) string {
	if len(ids) == 0 {
		return "No offers specified"
	}
	seen := map[string]bool{}
	var agent *Agent
	role := ""
	for _, id := range ids {
		if seen[id.Value] {
			return fmt.Sprintf("Duplicate offer %s in offer list", id.Value)
		}
		seen[id.Value] = true
		o := m.offers[id.Value]
		if o == nil {
			return fmt.Sprintf("Offer %s is no longer valid", id.Value)
		}
		if o.fw != fw {
			return fmt.Sprintf("Offer %s has invalid framework %s while framework %s is expected", id.Value, o.fw.id, fw.id)
		}
		if agent != nil && o.agent != agent {
			return "Aggregated offers must belong to one single agent"
		}
		if agent != nil && o.role != role {
			return "Aggregated offers must be allocated to the same role"
		}
		agent, role = o.agent, o.role
	}
	return ""
}

func (m *Master) acceptLocked(fw *Framework, acc *scheduler.Call_Accept) {
	launches := func(fn func(mesos.TaskInfo)) {
		for _, op := range acc.Operations {
			switch op.GetType() {
			case mesos.Offer_Operation_LAUNCH:
				if op.Launch != nil {
					for _, t := range op.Launch.TaskInfos {
						fn(t)
					}
				}
			case mesos.Offer_Operation_LAUNCH_GROUP:
				if op.LaunchGroup != nil {
					for _, t := range op.LaunchGroup.TaskGroup.Tasks {
						fn(t)
					}
				}
			}
		}
	}
	if err := m.validateOffersLocked(fw, acc.OfferIDs); err != "" {
		state := mesos.TASK_LOST
		if fw.partitionAware() {
			state = mesos.TASK_DROPPED
		}
		launches(func(t mesos.TaskInfo) {
			m.masterUpdateLocked(fw, t.TaskID, t.AgentID.Value, state, mesos.REASON_INVALID_OFFERS, "Task launched with invalid offers: "+err)
		})
		for _, op := range acc.Operations {
			if op.GetType() != mesos.Offer_Operation_LAUNCH && op.GetType() != mesos.Offer_Operation_LAUNCH_GROUP {
				m.operationErrorLocked(fw, op, "Operation attempted with invalid offers: "+err)
			}
		}
		// Offers in the list that are still valid go back with no filter.
		for _, id := range acc.OfferIDs {
			if o := m.offers[id.Value]; o != nil && o.fw == fw {
				m.removeOfferLocked(id.Value, false)
			}
		}
		return
	}
	first := m.offers[acc.OfferIDs[0].Value]
	agent, role := first.agent, first.role
	var offered mesos.Resources
	for _, id := range acc.OfferIDs {
		o := m.offers[id.Value]
		offered = resPlus(offered, o.resources...)
		m.removeOfferLocked(id.Value, false)
	}
	remaining := offered

	if !agent.reachable() {
		state, reason := mesos.TASK_LOST, mesos.REASON_AGENT_DISCONNECTED
		if agent.removed {
			reason = mesos.REASON_AGENT_REMOVED
		}
		if fw.partitionAware() {
			state = mesos.TASK_DROPPED
		}
		launches(func(t mesos.TaskInfo) {
			m.masterUpdateLocked(fw, t.TaskID, agent.id, state, reason, "Agent "+agent.id+" is not available")
		})
		return
	}

	for _, op := range acc.Operations {
		switch op.GetType() {
		case mesos.Offer_Operation_LAUNCH:
			if op.Launch == nil {
				continue
			}
			for _, ti := range op.Launch.TaskInfos {
				res, msg := m.validateTaskLocked(fw, agent, role, ti, remaining)
				if msg != "" {
					m.masterUpdateLocked(fw, ti.TaskID, agent.id, mesos.TASK_ERROR, mesos.REASON_TASK_INVALID, msg)
					continue
				}
				remaining = resMinus(remaining, res...)
				t := agent.newTaskLocked(fw.id, ti, res)
				t.role = role
				agent.startLater(t)
			}
		case mesos.Offer_Operation_LAUNCH_GROUP:
			if op.LaunchGroup == nil {
				continue
			}
			m.launchGroupLocked(fw, agent, role, op.LaunchGroup, &remaining)
		default:
			m.operationErrorLocked(fw, op, fmt.Sprintf("Operation %s is not supported by the emulated master", op.GetType()))
		}
	}
	// The unused part is declined implicitly with accept.filters.
	m.refuseLocked(fw, role, agent, remaining, acc.Filters)
}

func (m *Master) launchGroupLocked(fw *Framework, agent *Agent, role string, lg *mesos.Offer_Operation_LaunchGroup, remaining *mesos.Resources) {
	fail := func(reason mesos.TaskStatus_Reason, msg string) {
		for _, ti := range lg.TaskGroup.Tasks {
			m.masterUpdateLocked(fw, ti.TaskID, agent.id, mesos.TASK_ERROR, reason, msg)
		}
	}
	ex := lg.Executor
	if ex.GetType() != mesos.ExecutorInfo_DEFAULT {
		fail(mesos.REASON_TASK_GROUP_INVALID, "'ExecutorInfo.type' must be 'DEFAULT'")
		return
	}
	if ex.Container != nil && ex.Container.GetType() == mesos.ContainerInfo_DOCKER {
		fail(mesos.REASON_TASK_GROUP_INVALID, "Docker ContainerInfo is not supported on the executor")
		return
	}
	avail := *remaining
	var all mesos.Resources
	var resList []mesos.Resources
	for _, ti := range lg.TaskGroup.Tasks {
		if ti.Container != nil && ti.Container.GetType() == mesos.ContainerInfo_DOCKER {
			fail(mesos.REASON_TASK_GROUP_INVALID, "Docker ContainerInfo is not supported on the task")
			return
		}
		if ti.Executor != nil {
			fail(mesos.REASON_TASK_GROUP_INVALID, "'TaskInfo.executor' must not be set")
			return
		}
		res, msg := m.validateTaskLocked(fw, agent, role, ti, avail)
		if msg != "" {
			fail(mesos.REASON_TASK_GROUP_INVALID, msg)
			return
		}
		avail = resMinus(avail, res...)
		all = resPlus(all, res...)
		resList = append(resList, res)
	}
	exRes := canonical(ex.Resources)
	if !resContains(avail, exRes) {
		fail(mesos.REASON_TASK_GROUP_INVALID, fmt.Sprintf("Total resources %s required by task group and its executor is more than available %s", resPlus(all, exRes...), *remaining))
		return
	}
	*remaining = resMinus(resMinus(*remaining, all...), exRes...)
	var group []*Task
	for i, ti := range lg.TaskGroup.Tasks {
		ti := ti
		if ti.Command == nil {
			ti.Command = &mesos.CommandInfo{}
		}
		t := agent.newTaskLocked(fw.id, ti, resList[i])
		t.executorID = ex.ExecutorID.Value
		t.role = role
		group = append(group, t)
	}
	for _, t := range group {
		t.group = group
		agent.startLater(t)
	}
}

func (m *Master) operationErrorLocked(fw *Framework, op mesos.Offer_Operation, msg string) {
	if op.ID == nil {
		m.c.log.WithField("framework_id", fw.id).Warn(msg)
		return
	}
	fw.send(&scheduler.Event{Type: scheduler.Event_UPDATE_OPERATION_STATUS, UpdateOperationStatus: &scheduler.Event_UpdateOperationStatus{
		Status: mesos.OperationStatus{OperationID: op.ID, State: mesos.OPERATION_ERROR, Message: &msg},
	}})
}

// validateTaskLocked runs the master's task validators in order; the first
// failure is the TASK_ERROR message. It returns the task's resources (task
// plus executor) in canonical form.
func (m *Master) validateTaskLocked(fw *Framework, agent *Agent, role string, ti mesos.TaskInfo, remaining mesos.Resources) (mesos.Resources, string) {
	id := ti.TaskID.Value
	if msg := validateID(id); msg != "" {
		return nil, msg // validateTaskID returns common validateID's error as it is
	}
	if t := m.c.taskIndex[taskKey(fw.id, id)]; t != nil {
		if t.masterState == mesos.TASK_UNREACHABLE {
			return nil, "Task reuses the ID of an unreachable task"
		}
		if !isTerminal(t.state) {
			return nil, "Task has duplicate ID: " + id
		}
	}
	if ti.AgentID.Value != agent.id {
		return nil, fmt.Sprintf("Task uses invalid agent %s while agent %s is expected", ti.AgentID.Value, agent.id)
	}
	if p := ti.KillPolicy; p != nil && p.GracePeriod != nil && p.GracePeriod.Nanoseconds < 0 {
		return nil, "Task's 'kill_policy.grace_period' must be non-negative"
	}
	if len(ti.Resources) == 0 {
		return nil, "Task uses no resources"
	}
	for _, r := range ti.Resources {
		if err := r.Validate(); err != nil {
			return nil, "Task uses invalid resources: " + err.Error()
		}
	}
	if (ti.Command == nil) == (ti.Executor == nil) {
		return nil, "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
	}
	if ex := ti.Executor; ex != nil {
		if t := ex.GetType(); t != mesos.ExecutorInfo_CUSTOM && t != mesos.ExecutorInfo_UNKNOWN {
			return nil, "'ExecutorInfo.type' must be 'CUSTOM'"
		}
		if ex.Command == nil {
			return nil, "'ExecutorInfo.command' must be set for 'CUSTOM' executor"
		}
	}
	if ti.Command != nil {
		if msg := validateEnvironment(ti.Command.Environment); msg != "" {
			return nil, "Task's `CommandInfo` is invalid: " + msg
		}
	}
	if msg := validateContainer(ti.Container); msg != "" {
		return nil, "Task's `ContainerInfo` is invalid: " + msg
	}
	if msg := validateResourceLimits(ti); msg != "" {
		return nil, msg
	}
	res := canonical(ti.Resources)
	if ti.Executor != nil {
		res = resPlus(res, canonical(ti.Executor.Resources)...)
	}
	// Resources must be offered to the same role the offer was made to.
	for _, r := range ti.Resources {
		if r.AllocationInfo != nil && r.AllocationInfo.GetRole() != role {
			return nil, fmt.Sprintf("Task resources are allocated to role '%s' but the offer is allocated to role '%s'", r.AllocationInfo.GetRole(), role)
		}
	}
	if !resContains(remaining, res) {
		return nil, fmt.Sprintf("Total resources %s required by task and its executor is more than available %s", res, remaining)
	}
	return res, ""
}

// validateID is common/validation.cpp validateID.
func validateID(id string) string {
	switch {
	case id == "":
		return "ID must not be empty"
	case len(id) > nameMax:
		return fmt.Sprintf("ID must not be greater than %d characters", nameMax)
	case id == "." || id == "..":
		return "'" + id + "' is disallowed"
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c == 0x7f || c == '/' || c == '\\' {
			return "'" + id + "' contains invalid characters"
		}
	}
	return ""
}

func validateContainer(ci *mesos.ContainerInfo) string {
	if ci == nil {
		return ""
	}
	if ci.GetType() == mesos.ContainerInfo_DOCKER {
		if ci.Docker == nil {
			return "DockerInfo 'docker' is not set for DOCKER typed ContainerInfo"
		}
		for _, p := range ci.Docker.Parameters {
			if p.Key == "name" {
				return "Parameter in DockerInfo must not be 'name'"
			}
		}
	}
	for _, v := range ci.Volumes {
		n := 0
		for _, set := range []bool{v.HostPath != nil, v.Image != nil, v.Source != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return "Invalid volume: Only one of them should be set: 'host_path', 'image' and 'source'"
		}
	}
	return ""
}

// validateResourceLimits is master/validation.cpp validateResourceLimits
// (Mesos 1.10; every emulated agent has TASK_RESOURCE_LIMITS): only cpus
// and mem, each at least its request (an infinite memory limit always is).
func validateResourceLimits(ti mesos.TaskInfo) string {
	if len(ti.Limits) == 0 {
		return ""
	}
	for name := range ti.Limits {
		if name != "cpus" && name != "mem" {
			return "Only cpus and mem may be included in a task's resource limits"
		}
	}
	request := func(name string) (float64, bool) {
		v, found := 0.0, false
		for _, r := range ti.Resources {
			if r.Name == name && r.Scalar != nil {
				v, found = v+r.Scalar.Value, true
			}
		}
		return v, found
	}
	if l, ok := ti.Limits["cpus"]; ok {
		cpus, found := request("cpus")
		if !found {
			return "When a CPU limit is specified, a CPU request must also be specified"
		}
		if l.Value < cpus {
			return "The cpu limit must be greater than or equal to the cpu request"
		}
	}
	if l, ok := ti.Limits["mem"]; ok {
		mem, found := request("mem")
		if !found {
			return "When a memory limit is specified, a memory request must also be specified"
		}
		// Bytes(limit, MEGABYTES) < Resources::mem(): both are truncated
		// to whole megabytes first.
		if !math.IsInf(l.Value, 1) && math.Floor(l.Value) < math.Floor(mem) {
			return "The memory limit must be greater than or equal to the memory request"
		}
	}
	return ""
}

// validateEnvironment is common/validation.cpp validateEnvironment.
func validateEnvironment(env *mesos.Environment) string {
	if env == nil {
		return ""
	}
	for _, v := range env.Variables {
		switch v.GetType() {
		case mesos.Environment_Variable_VALUE:
			if v.Value == nil {
				return "Environment variable '" + v.Name + "' of type 'VALUE' must have a value set"
			}
			if v.Secret != nil {
				return "Environment variable '" + v.Name + "' of type 'VALUE' must not have a secret set"
			}
		case mesos.Environment_Variable_SECRET:
			if v.Secret == nil {
				return "Environment variable '" + v.Name + "' of type 'SECRET' must have a secret set"
			}
			if v.Value != nil {
				return "Environment variable '" + v.Name + "' of type 'SECRET' must not have a value set"
			}
		default:
			return "Environment variable of type 'UNKNOWN' is not allowed"
		}
	}
	return ""
}

// killLocked handles KILL: a known task is killed on its agent; an unknown
// one gets an explicit reconciliation answer.
func (m *Master) killLocked(fw *Framework, k *scheduler.Call_Kill) {
	t := m.c.taskIndex[taskKey(fw.id, k.TaskID.Value)]
	// A task the master does not hold as running — unknown, on an agent
	// not yet re-registered, or on an agent marked unreachable (Mesos
	// keeps those in Framework::unreachableTasks, which Master::kill does
	// not look in) — is not killed: the master answers with a
	// reconciliation instead, and the task runs on if its agent returns.
	if t == nil || t.a.recovering || t.a.partitioned {
		var agentID *mesos.AgentID
		if k.AgentID != nil {
			agentID = k.AgentID
		}
		m.reconcileLocked(fw, []scheduler.Call_Reconcile_Task{{TaskID: k.TaskID, AgentID: agentID}})
		return
	}
	t.a.killTaskLocked(t, k.KillPolicy, fw.has(mesos.FrameworkInfo_Capability_TASK_KILLING_STATE))
}

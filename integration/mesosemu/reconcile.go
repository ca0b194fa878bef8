package mesosemu

import (
	"sort"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

const reconcileLatest = "Reconciliation: Latest task state"

// reconcileLocked answers RECONCILE (and KILL of an unknown task). Answers
// carry no uuid, source MASTER and REASON_RECONCILIATION.
func (m *Master) reconcileLocked(fw *Framework, tasks []scheduler.Call_Reconcile_Task) {
	if len(tasks) == 0 {
		// Implicit: every task the master knows for the framework.
		var known []*Task
		for _, a := range m.c.agents {
			if a.removed || a.recovering {
				continue
			}
			known = append(known, a.tasksOf(fw.id)...)
		}
		sort.Slice(known, func(i, j int) bool { return known[i].info.TaskID.Value < known[j].info.TaskID.Value })
		for _, t := range known {
			m.sendLatestLocked(fw, t)
		}
		return
	}
	for _, rt := range tasks {
		t := m.c.taskIndex[taskKey(fw.id, rt.TaskID.Value)]
		if t != nil && !t.a.recovering && (rt.AgentID == nil || rt.AgentID.Value == t.a.id) {
			m.sendLatestLocked(fw, t)
			continue
		}
		if rt.AgentID == nil {
			if m.anyRecoveringLocked() {
				continue // no reply while agents may still re-register
			}
			m.reconcileAnswerLocked(fw, rt.TaskID, "", mesos.TASK_UNKNOWN, "Reconciliation: Task is unknown", nil)
			continue
		}
		a := m.c.agentByID[rt.AgentID.Value]
		switch {
		case a == nil:
			m.reconcileAnswerLocked(fw, rt.TaskID, rt.AgentID.Value, mesos.TASK_UNKNOWN, "Reconciliation: Task is unknown", nil)
		case a.recovering:
			// The agent has not re-registered yet: no answer, retry later.
		case a.removed:
			m.reconcileAnswerLocked(fw, rt.TaskID, a.id, mesos.TASK_GONE_BY_OPERATOR, "Reconciliation: Task is gone", nil)
		case a.partitioned:
			ut := &mesos.TimeInfo{Nanoseconds: a.unreachableTime.UnixNano()}
			m.reconcileAnswerLocked(fw, rt.TaskID, a.id, mesos.TASK_UNREACHABLE, "Reconciliation: Task is unreachable", ut)
		default:
			m.reconcileAnswerLocked(fw, rt.TaskID, a.id, mesos.TASK_GONE, "Reconciliation: Task is unknown to the agent", nil)
		}
	}
}

func (m *Master) anyRecoveringLocked() bool {
	for _, a := range m.c.agents {
		if a.recovering {
			return true
		}
	}
	return false
}

// sendLatestLocked reports the latest state the master has for a task,
// keeping healthy/check/container status but not labels or data.
func (m *Master) sendLatestLocked(fw *Framework, t *Task) {
	state := t.masterState
	if t.a.partitioned {
		state = mesos.TASK_UNREACHABLE
	}
	if !fw.partitionAware() {
		state = nonPartitionAware(state)
	}
	msg := reconcileLatest
	st := mesos.TaskStatus{
		TaskID:     t.info.TaskID,
		State:      state.Enum(),
		Source:     mesos.SOURCE_MASTER.Enum(),
		Reason:     mesos.REASON_RECONCILIATION.Enum(),
		Message:    &msg,
		AgentID:    &mesos.AgentID{Value: t.a.id},
		ExecutorID: &mesos.ExecutorID{Value: t.executorID},
		Timestamp:  nowSeconds(m.c),
	}
	if ls := t.lastStatus; ls != nil {
		st.Healthy = ls.Healthy
		st.CheckStatus = ls.CheckStatus
		st.ContainerStatus = ls.ContainerStatus
	}
	if t.a.partitioned {
		st.UnreachableTime = &mesos.TimeInfo{Nanoseconds: t.a.unreachableTime.UnixNano()}
	}
	fw.send(&scheduler.Event{Type: scheduler.Event_UPDATE, Update: &scheduler.Event_Update{Status: st}})
}

func (m *Master) reconcileAnswerLocked(fw *Framework, id mesos.TaskID, agentID string, state mesos.TaskState, msg string, unreachable *mesos.TimeInfo) {
	m.masterUpdateAtLocked(fw, id, agentID, state, mesos.REASON_RECONCILIATION, msg, unreachable)
}

// reconcileOperationsLocked: the emulator tracks no operations with IDs, so
// every operation asked about is unknown.
func (m *Master) reconcileOperationsLocked(fw *Framework, ro *scheduler.Call_ReconcileOperations) {
	for _, op := range ro.Operations {
		msg := "Reconciliation: Operation is unknown"
		fw.send(&scheduler.Event{Type: scheduler.Event_UPDATE_OPERATION_STATUS, UpdateOperationStatus: &scheduler.Event_UpdateOperationStatus{
			Status: mesos.OperationStatus{OperationID: &op.OperationID, State: mesos.OPERATION_UNKNOWN, Message: &msg, AgentID: op.AgentID},
		}})
	}
}

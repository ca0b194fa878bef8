package mesosemu

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// Status update retry bounds of the agent's task status update manager.
const (
	statusRetryMin = 10 * time.Second
	statusRetryMax = 10 * time.Minute
	// defaultKillGrace is the executors' grace period between SIGTERM and
	// SIGKILL when no kill policy says otherwise.
	defaultKillGrace = 3 * time.Second
)

// Agent is a simulated Mesos agent. Its tasks run as real local processes.
type Agent struct {
	c          *Cluster
	id         string
	hostname   string
	total      mesos.Resources
	used       mesos.Resources
	offered    mesos.Resources
	attributes []mesos.Attribute
	tasks      map[string]*Task // framework ID + "\x00" + task ID

	registeredTime  time.Time
	removed         bool
	port            int               // its HTTP endpoint's, on 127.0.0.1 (agenthttp.go)
	srv             *http.Server      // nil when it could not listen
	latestRun       map[string]string // runsKey → the sandbox of the executor's latest run
	partitioned     bool
	recovering      bool // waiting to re-register with a new leader
	unreachableTime time.Time
}

// Task is a task on an agent, with its status update stream.
type Task struct {
	a          *Agent
	fw         string
	info       mesos.TaskInfo
	resources  mesos.Resources
	executorID string
	role       string  // the role of the offer it was launched from
	group      []*Task // LAUNCH_GROUP siblings (including itself)

	state       mesos.TaskState // latest state on the agent
	masterState mesos.TaskState // latest state the master has seen
	lastStatus  *mesos.TaskStatus
	history     []mesos.TaskStatus
	freed       bool

	pending  []*mesos.TaskStatus // the stream; the head is outstanding
	retryGen int
	backoff  time.Duration

	cmd         *exec.Cmd
	killing     bool
	killTimer   *time.Timer
	destroyed   bool
	sandbox     string
	containerID string // the run's directory under runs/, mesos-<ID> its Docker container
}

func taskKey(fwID, taskID string) string { return fwID + "\x00" + taskID }

func (c *Cluster) addAgentLocked(total mesos.Resources, attrs []mesos.Attribute) *Agent {
	c.nextAgent++
	prefix := "emulated"
	if len(c.masters) > 0 {
		prefix = c.masters[0].info.ID
	}
	a := &Agent{
		c:              c,
		id:             fmt.Sprintf("%s-S%d", prefix, c.nextAgent-1),
		hostname:       c.cfg.AgentHostnamePrefix + strconv.Itoa(c.nextAgent),
		total:          total,
		attributes:     attrs,
		tasks:          map[string]*Task{},
		registeredTime: c.clock.Now(),
		latestRun:      map[string]string{},
	}
	if err := a.serveHTTP(); err != nil {
		c.log.WithError(err).Warn("agent endpoint not started: its sandbox files cannot be read")
	}
	c.agents = append(c.agents, a)
	c.agentByID[a.id] = a
	return a
}

// reachable: registered with the leader and talking to it; only then are
// its resources offered and its status updates delivered.
func (a *Agent) reachable() bool { return !a.removed && !a.partitioned && !a.recovering }
func (a *Agent) available() mesos.Resources {
	return resMinus(resMinus(a.total, a.used...), a.offered...)
}

func (a *Agent) hasGPUs() bool {
	for _, r := range a.total {
		if r.Name == "gpus" && r.GetScalar().GetValue() > 0 {
			return true
		}
	}
	return false
}

// url is the agent's address as offers carry it: its hostname, and the
// IP and port it listens on.
func (a *Agent) url() *mesos.URL {
	return &mesos.URL{Scheme: "http", Address: mesos.Address{Hostname: &a.hostname, IP: proto2str("127.0.0.1"), Port: int32(a.port)}, Path: proto2str("/slave(1)")}
}

// addr is where the agent's endpoint listens.
func (a *Agent) addr() string { return "127.0.0.1:" + strconv.Itoa(a.port) }

// pid is the agent's libprocess PID, as the master's state names it.
func (a *Agent) pid() string { return "slave(1)@" + a.addr() }

func proto2str(s string) *string { return &s }

func (a *Agent) tasksOf(fwID string) []*Task {
	var out []*Task
	for _, t := range a.tasks {
		if t.fw == fwID {
			out = append(out, t)
		}
	}
	return out
}

func isTerminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TASK_FINISHED, mesos.TASK_FAILED, mesos.TASK_KILLED, mesos.TASK_ERROR,
		mesos.TASK_DROPPED, mesos.TASK_GONE, mesos.TASK_GONE_BY_OPERATOR, mesos.TASK_LOST:
		return true
	}
	return false
}

func nowSeconds(c *Cluster) *float64 {
	f := float64(c.clock.Now().UnixNano()) / 1e9
	return &f
}

// newTaskLocked puts a validated task on the agent in TASK_STAGING and
// starts its executor after the emulated start delay.
func (a *Agent) newTaskLocked(fwID string, info mesos.TaskInfo, res mesos.Resources) *Task {
	t := &Task{
		a: a, fw: fwID, info: info, resources: res,
		state: mesos.TASK_STAGING, masterState: mesos.TASK_STAGING,
		executorID: info.TaskID.Value,
		backoff:    statusRetryMin,
	}
	if info.Executor != nil {
		t.executorID = info.Executor.ExecutorID.Value
	}
	a.tasks[taskKey(fwID, info.TaskID.Value)] = t
	a.c.taskIndex[taskKey(fwID, info.TaskID.Value)] = t
	a.used = resPlus(a.used, res...)
	return t
}

func (a *Agent) startLater(t *Task) {
	a.c.clock.AfterFunc(a.c.cfg.ExecutorStartDelay, func() { a.c.startTask(t) })
}

// updateLocked appends an agent- or executor-generated update (with a fresh
// uuid) to the task's stream; only the head is forwarded until acknowledged.
func (a *Agent) updateLocked(t *Task, state mesos.TaskState, source mesos.TaskStatus_Source, reason *mesos.TaskStatus_Reason, msg string) {
	if t.destroyed {
		return
	}
	t.state = state
	agentID := mesos.AgentID{Value: a.id}
	st := &mesos.TaskStatus{
		TaskID:     t.info.TaskID,
		State:      state.Enum(),
		Source:     source.Enum(),
		Reason:     reason,
		AgentID:    &agentID,
		ExecutorID: &mesos.ExecutorID{Value: t.executorID},
		Timestamp:  nowSeconds(a.c),
		UUID:       newUUID(),
	}
	if msg != "" {
		st.Message = &msg
	}
	if state == mesos.TASK_RUNNING {
		ip := "127.0.0.1"
		st.ContainerStatus = &mesos.ContainerStatus{NetworkInfos: []mesos.NetworkInfo{{IPAddresses: []mesos.NetworkInfo_IPAddress{{IPAddress: &ip}}}}}
	}
	t.pending = append(t.pending, st)
	if len(t.pending) == 1 {
		a.forwardHeadLocked(t)
	}
}

// forwardHeadLocked sends the head of the stream to the leading master (if
// the agent can reach one) and arms the retry, 10 s doubling to 10 min.
func (a *Agent) forwardHeadLocked(t *Task) {
	if len(t.pending) == 0 || t.destroyed {
		return
	}
	if m := a.c.leader; m != nil && m.elected && a.reachable() {
		m.statusUpdateLocked(t, t.pending[0])
	}
	t.retryGen++
	gen := t.retryGen
	wait := t.backoff
	a.c.clock.AfterFunc(wait, func() {
		a.c.mu.Lock()
		defer a.c.mu.Unlock()
		if t.retryGen != gen || a.c.closed {
			return
		}
		t.backoff *= 2
		if t.backoff > statusRetryMax {
			t.backoff = statusRetryMax
		}
		a.forwardHeadLocked(t)
	})
}

// statusUpdateLocked is the master receiving a reliable update from an
// agent: record it, recover resources on terminal/unreachable, forward.
func (m *Master) statusUpdateLocked(t *Task, st *mesos.TaskStatus) {
	t.masterState = st.GetState()
	t.lastStatus = st
	t.history = append(t.history, *st)
	if (isTerminal(st.GetState()) || st.GetState() == mesos.TASK_UNREACHABLE) && !t.freed {
		t.freed = true
		t.a.used = resMinus(t.a.used, t.resources...)
	}
	if fw := m.frameworks[t.fw]; fw != nil {
		fw.send(&scheduler.Event{Type: scheduler.Event_UPDATE, Update: &scheduler.Event_Update{Status: *st}})
	}
}

// acknowledgeLocked handles ACKNOWLEDGE: the head update with that uuid is
// done; the next one goes out; a terminal ACK forgets the task.
func (m *Master) acknowledgeLocked(fw *Framework, ack *scheduler.Call_Acknowledge) {
	a := m.c.agentByID[ack.AgentID.Value]
	if a == nil || !a.reachable() {
		return
	}
	t := a.tasks[taskKey(fw.id, ack.TaskID.Value)]
	if t == nil || len(t.pending) == 0 || !bytes.Equal(t.pending[0].UUID, ack.UUID) {
		return
	}
	head := t.pending[0]
	t.pending = t.pending[1:]
	t.retryGen++
	t.backoff = statusRetryMin
	if isTerminal(head.GetState()) {
		a.forgetLocked(t)
		fw.completedTasks = append(fw.completedTasks, t)
		if n := len(fw.completedTasks) - 1000; n > 0 {
			fw.completedTasks = fw.completedTasks[n:]
		}
		return
	}
	if len(t.pending) > 0 {
		a.forwardHeadLocked(t)
	}
}

func (a *Agent) forgetLocked(t *Task) {
	key := taskKey(t.fw, t.info.TaskID.Value)
	if a.tasks[key] == t {
		delete(a.tasks, key)
	}
	if a.c.taskIndex[key] == t {
		delete(a.c.taskIndex, key)
	}
}

// killTaskLocked runs the executor's kill: TASK_KILLING (if the framework
// asked for that state), SIGTERM, then SIGKILL after the grace period.
func (a *Agent) killTaskLocked(t *Task, policy *mesos.KillPolicy, killingState bool) {
	if isTerminal(t.state) || t.killing || t.destroyed {
		return
	}
	// The kill runs on the agent even when the master cannot reach it (a
	// task group's executor kills the rest of its group by itself); its
	// updates wait for the agent to be reachable, like any other. The
	// master never sends a kill for an unreachable task (killLocked).
	if t.cmd == nil {
		// Not started yet: the launch is cancelled.
		t.killing = true
		a.updateLocked(t, mesos.TASK_KILLED, mesos.SOURCE_AGENT, mesos.REASON_TASK_KILLED_DURING_LAUNCH.Enum(), "Task killed before it was launched")
		return
	}
	t.killing = true
	if killingState {
		a.updateLocked(t, mesos.TASK_KILLING, mesos.SOURCE_EXECUTOR, nil, "")
	}
	grace := defaultKillGrace
	if p := t.info.KillPolicy; p != nil && p.GracePeriod != nil {
		grace = time.Duration(p.GracePeriod.Nanoseconds)
	}
	if policy != nil && policy.GracePeriod != nil {
		grace = time.Duration(policy.GracePeriod.Nanoseconds)
	}
	signalGroup(t.cmd, syscall.SIGTERM)
	cmd := t.cmd
	t.killTimer = a.c.clock.AfterFunc(grace, func() { signalGroup(cmd, syscall.SIGKILL) })
}

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}

// destroyTaskLocked removes a task with no further updates (framework
// removed, agent gone): its process is killed at once.
func (a *Agent) destroyTaskLocked(t *Task) {
	t.destroyed = true
	t.retryGen++
	signalGroup(t.cmd, syscall.SIGKILL)
	if !t.freed {
		t.freed = true
		a.used = resMinus(a.used, t.resources...)
	}
	a.forgetLocked(t)
}

func (a *Agent) shutdownLocked() {
	for _, t := range a.tasks {
		t.destroyed = true
		signalGroup(t.cmd, syscall.SIGKILL)
	}
}

// reregisteredLocked is the agent re-registering with a (new) leader after a
// failover or a partition: its tasks are known to the master again and the
// held updates go out.
func (a *Agent) reregisteredLocked(m *Master) {
	a.recovering = false
	for _, t := range a.tasks {
		if t.masterState == mesos.TASK_UNREACHABLE || t.masterState == mesos.TASK_LOST {
			t.masterState = t.state
			if !isTerminal(t.state) && t.freed {
				t.freed = false
				a.used = resPlus(a.used, t.resources...)
			}
			// Master::__reregisterSlave: for an agent the master had marked
			// unreachable, each task's current state goes to its framework
			// from the master ("Unreachable agent re-reregistered", sic,
			// REASON_AGENT_REREGISTERED in v1, no uuid); dropped when the
			// framework is not connected.
			if fw := m.frameworks[t.fw]; fw != nil && fw.sub != nil && !isTerminal(t.state) {
				m.masterUpdateLocked(fw, t.info.TaskID, a.id, t.state, mesos.REASON_AGENT_REREGISTERED, "Unreachable agent re-reregistered")
			}
		}
		if len(t.pending) > 0 {
			t.backoff = statusRetryMin
			a.forwardHeadLocked(t)
		}
	}
}

// startTask launches the task's process (after the executor start delay).
func (c *Cluster) startTask(t *Task) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := t.a
	gone := func() bool { return c.closed || t.destroyed || isTerminal(t.state) || t.killing }
	if gone() {
		return
	}
	// The containerizer: the sandbox (runs/<container ID>), the fetcher,
	// the image pull, then the executor.
	t.containerID = uuidString(newUUID())
	sandbox := filepath.Join(c.sandboxRoot, "agents", a.id, "frameworks", t.fw, "executors", t.executorID, "runs", t.containerID)
	if err := os.MkdirAll(sandbox, 0o755); err != nil {
		a.updateLocked(t, mesos.TASK_FAILED, mesos.SOURCE_AGENT, mesos.REASON_CONTAINER_LAUNCH_FAILED.Enum(), "Failed to create sandbox: "+err.Error())
		return
	}
	t.sandbox = sandbox
	a.latestRun[runsKey(t.fw, t.executorID)] = sandbox
	if uris := taskCommand(&t.info).URIs; len(uris) > 0 {
		if err := validateURIs(uris); err != nil {
			a.updateLocked(t, mesos.TASK_FAILED, mesos.SOURCE_AGENT, mesos.REASON_CONTAINER_LAUNCH_FAILED.Enum(), "Failed to launch container: Could not fetch: "+err.Error())
			a.groupFailedLocked(t)
			return
		}
		// Downloads run without the lock; a kill meanwhile cancels the
		// launch (the task is not started, see killTaskLocked).
		c.mu.Unlock()
		err := c.fetchInto(sandbox, uris)
		c.mu.Lock()
		if gone() {
			return
		}
		if err != nil {
			a.updateLocked(t, mesos.TASK_FAILED, mesos.SOURCE_AGENT, mesos.REASON_CONTAINER_LAUNCH_FAILED.Enum(),
				fmt.Sprintf("Failed to launch container: Failed to fetch all URIs for container '%s': exited with status 1", t.containerID))
			a.groupFailedLocked(t)
			return
		}
	}
	spec, fail := c.processSpecLocked(t)
	if fail != nil && fail.executor {
		// The executor started and reports the failure itself: STARTING,
		// then FAILED from SOURCE_EXECUTOR with no reason.
		a.updateLocked(t, mesos.TASK_STARTING, mesos.SOURCE_EXECUTOR, nil, "")
		a.updateLocked(t, mesos.TASK_FAILED, mesos.SOURCE_EXECUTOR, nil, fail.message)
		a.groupFailedLocked(t)
		return
	}
	if fail != nil {
		a.updateLocked(t, mesos.TASK_FAILED, mesos.SOURCE_AGENT, fail.reason.Enum(), fail.message)
		a.groupFailedLocked(t)
		return
	}
	a.updateLocked(t, mesos.TASK_STARTING, mesos.SOURCE_EXECUTOR, nil, "")
	cmd := exec.Command(spec.path, spec.args[1:]...)
	cmd.Args = spec.args
	cmd.Dir = sandbox
	cmd.Env = append(spec.env, "MESOS_SANDBOX="+sandbox, "MESOS_TASK_ID="+t.info.TaskID.Value,
		"MESOS_AGENT_ID="+a.id, "MESOS_FRAMEWORK_ID="+t.fw, "MESOS_EXECUTOR_ID="+t.executorID)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err1 := os.OpenFile(filepath.Join(sandbox, "stdout"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	stderr, err2 := os.OpenFile(filepath.Join(sandbox, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err := errors.Join(err1, err2); err != nil {
		closeAll(stdout, stderr)
		a.updateLocked(t, mesos.TASK_FAILED, mesos.SOURCE_EXECUTOR, nil, "Failed to create the sandbox's stdout/stderr: "+err.Error())
		a.groupFailedLocked(t)
		return
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		closeAll(stdout, stderr)
		a.updateLocked(t, mesos.TASK_FAILED, mesos.SOURCE_EXECUTOR, nil, "Failed to launch command: "+err.Error())
		a.groupFailedLocked(t)
		return
	}
	t.cmd = cmd
	a.updateLocked(t, mesos.TASK_RUNNING, mesos.SOURCE_EXECUTOR, nil, "")
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		err := cmd.Wait()
		closeAll(stdout, stderr)
		c.mu.Lock()
		defer c.mu.Unlock()
		if t.killTimer != nil {
			t.killTimer.Stop()
		}
		if c.closed || t.destroyed {
			return
		}
		state, reason, msg := exitStatus(err, t.killing, spec.docker)
		a.updateLocked(t, state, mesos.SOURCE_EXECUTOR, reason, msg)
		if state == mesos.TASK_FAILED {
			a.groupFailedLocked(t)
		}
	}()
}

// fetchInto runs the fetcher for a sandbox; its log goes to the sandbox's
// stderr (the container's output is appended after it), as on an agent.
func (c *Cluster) fetchInto(sandbox string, uris []mesos.CommandInfo_URI) error {
	log, err := os.OpenFile(filepath.Join(sandbox, "stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	return fetchAll(sandbox, uris, log)
}

// groupFailedLocked: the default executor kills a task group when one of
// its tasks fails.
func (a *Agent) groupFailedLocked(t *Task) {
	for _, s := range t.group {
		if s != t {
			a.killTaskLocked(s, nil, false)
		}
	}
}

func closeAll(fs ...*os.File) {
	for _, f := range fs {
		if f != nil {
			_ = f.Close()
		}
	}
}

// exitStatus maps a process exit to the executor's terminal update.
func exitStatus(err error, killed, docker bool) (mesos.TaskState, *mesos.TaskStatus_Reason, string) {
	what := "Command"
	if docker {
		what = "Container"
	}
	code := 0
	sig := ""
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				sig = ws.Signal().String()
				code = 128 + int(ws.Signal())
			} else {
				code = ee.ExitCode()
			}
		} else {
			code = -1
		}
	}
	if killed {
		if sig != "" && !docker {
			return mesos.TASK_KILLED, nil, "Command terminated with signal " + capitalize(sig)
		}
		return mesos.TASK_KILLED, nil, fmt.Sprintf("%s exited with status %d", what, code)
	}
	// The command and Docker executors set no reason on an exit or a
	// signal (launcher/executor.cpp, docker/executor.cpp: only
	// REASON_MAX_COMPLETION_TIME_REACHED is ever set there).
	if sig != "" && !docker {
		return mesos.TASK_FAILED, nil, "Command terminated with signal " + capitalize(sig)
	}
	if code == 0 {
		return mesos.TASK_FINISHED, nil, what + " exited with status 0"
	}
	return mesos.TASK_FAILED, nil, fmt.Sprintf("%s exited with status %d", what, code)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	b := []byte(s)
	if b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b)
}

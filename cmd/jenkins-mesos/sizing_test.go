package main

import (
	"strings"
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/scheduler"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/driver"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// TestSizingFollowsWhatAgentsUse: samples keep each task's peak memory
// and CPU time; a finished task joins its template's record; /status's
// sizing sums the record with the running tasks and advises.
func TestSizingFollowsWhatAgentsUse(t *testing.T) {
	now := time.Unix(1000, 0)
	u := newUsageMeter(func() time.Time { return now }, func() []scheduler.Template {
		return []scheduler.Template{{Name: "mesos", CPUs: 0.2, Mem: 30}}
	})
	mb := int64(1 << 20)
	u.running["mesos-1"] = usageTask{template: "mesos", cpus: 0.2, mem: 30, since: now}
	u.running["mesos-2"] = usageTask{template: "mesos", cpus: 0.2, mem: 30, since: now}
	u.running["mesos-3"] = usageTask{template: "mesos", cpus: 0.2, mem: 30, since: now} // never sampled
	now = now.Add(10 * time.Second)
	u.sample([]driver.TaskUsage{
		{Task: "mesos-1", CPUSeconds: 1, RSSBytes: 40 * mb, MemLimitBytes: 62 * mb},
		{Task: "mesos-2", CPUSeconds: 0.5, RSSBytes: 20 * mb, MemLimitBytes: 62 * mb},
		{Task: "stranger", CPUSeconds: 9, RSSBytes: 900 * mb},
	})
	now = now.Add(10 * time.Second)
	u.sample([]driver.TaskUsage{
		{Task: "mesos-1", CPUSeconds: 3, RSSBytes: 58 * mb, MemLimitBytes: 62 * mb}, // the peak
		{Task: "mesos-2", CPUSeconds: 1, RSSBytes: 10 * mb, MemLimitBytes: 62 * mb},
	})
	now = now.Add(10 * time.Second)
	u.sample([]driver.TaskUsage{{Task: "mesos-1", CPUSeconds: 4, RSSBytes: 30 * mb, MemLimitBytes: 62 * mb}})
	end := func(id string) {
		u.event(scheduler.Update{Status: mesos.TaskStatus{TaskID: mesos.TaskID{Value: id}, State: mesos.TASK_FINISHED.Enum()}})
	}
	end("mesos-1") // lived 30 s, used 4 CPU seconds, peaked at 58 MB
	end("mesos-3")
	// Another template's agent killed for its memory before any sample.
	u.running["big-1"] = usageTask{template: "big", cpus: 1, mem: 512, since: now}
	u.event(scheduler.Update{Status: mesos.TaskStatus{TaskID: mesos.TaskID{Value: "big-1"}, State: mesos.TASK_FAILED.Enum(),
		Reason: mesos.REASON_CONTAINER_LIMITATION_MEMORY.Enum()}})

	// Under the Docker containerizer an OOM kill is only a container that
	// died of SIGKILL: TASK_FAILED, "Container exited with status 137".
	// One the framework killed ends TASK_KILLED; another exit is no kill.
	for id, st := range map[string]struct {
		state mesos.TaskState
		msg   string
	}{
		"docker-1": {mesos.TASK_FAILED, "Container exited with status 137"},
		"docker-2": {mesos.TASK_KILLED, "Container exited with status 137"},
		"docker-3": {mesos.TASK_FAILED, "Container exited with status 1"},
		"docker-4": {mesos.TASK_FAILED, "Command terminated with signal Killed"},
	} {
		u.running[id] = usageTask{template: "docker", cpus: 0.2, mem: 30, since: now}
		u.event(scheduler.Update{Status: mesos.TaskStatus{TaskID: mesos.TaskID{Value: id}, State: st.state.Enum(), Message: &st.msg}})
	}

	z := u.sizing()
	require.Len(t, z, 3)
	require.Equal(t, templateSizing{Template: "big", CPUs: 1, Mem: 512, OOMKilled: 1,
		Advice: "raise mem to 768: 1 agent(s) were killed for exceeding their memory limit (REASON_CONTAINER_LIMITATION_MEMORY)"}, z[0])
	require.Equal(t, templateSizing{Template: "docker", CPUs: 0.2, Mem: 30, SIGKilled: 2,
		Advice: "raise mem to 64: 2 agent(s) died of SIGKILL (exit 137), which under the Docker containerizer is most often the OOM killer at the container's memory limit (Mesos does not report it)"}, z[1])
	z = z[2:]
	require.Equal(t, templateSizing{Template: "mesos", CPUs: 0.2, Mem: 30, Agents: 2, PeakMemMB: 58, MedianMB: 58, LimitMemMB: 62,
		CPUsUsed: 0.083, // (4 + 1) CPU seconds over 30 + 30 s
		Advice:   "raise mem to 96: agents peaked at 58 MB of a 62 MB limit (the container may be killed)"}, z[0])

	require.Equal(t, 1, testutil.CollectAndCount(u, "jenkins_mesos_agent_memory_peak_bytes"))
	require.NoError(t, testutil.CollectAndCompare(u, strings.NewReader(`
# HELP jenkins_mesos_agent_oom_kills_total Agents of the template Mesos killed for exceeding their memory limit (REASON_CONTAINER_LIMITATION_MEMORY).
# TYPE jenkins_mesos_agent_oom_kills_total counter
jenkins_mesos_agent_oom_kills_total{template="big"} 1
`), "jenkins_mesos_agent_oom_kills_total"))
	require.NoError(t, testutil.CollectAndCompare(u, strings.NewReader(`
# HELP jenkins_mesos_agent_sigkills_total Agents of the template whose container died of SIGKILL (exit 137) unasked: under the Docker containerizer most often the kernel's OOM killer, which Mesos does not report.
# TYPE jenkins_mesos_agent_sigkills_total counter
jenkins_mesos_agent_sigkills_total{template="docker"} 2
`), "jenkins_mesos_agent_sigkills_total"))
	require.NoError(t, testutil.CollectAndCompare(u, strings.NewReader(`
# HELP jenkins_mesos_agent_used_cpu_seconds_total CPU seconds (user and system) the template's agents used, as their Mesos agents reported it (sampled every mesos.usage_interval).
# TYPE jenkins_mesos_agent_used_cpu_seconds_total counter
jenkins_mesos_agent_used_cpu_seconds_total{template="mesos"} 5
`), "jenkins_mesos_agent_used_cpu_seconds_total"))
}

func TestAdvice(t *testing.T) {
	for _, c := range []struct {
		s    templateSizing
		want string
	}{
		{templateSizing{CPUs: 0.2, Mem: 30, Agents: 1, PeakMemMB: 20, LimitMemMB: 62, CPUsUsed: 0.1}, ""},
		{templateSizing{CPUs: 0.2, Mem: 30, Agents: 1, PeakMemMB: 60, LimitMemMB: 62, CPUsUsed: 0.1}, "raise mem to 96: agents peaked at 60 MB of a 62 MB limit (the container may be killed)"},
		{templateSizing{CPUs: 0.2, Mem: 30, Agents: 1, PeakMemMB: 28, CPUsUsed: 0.1}, "raise mem to 64: agents peaked at 28 MB of a 30 MB limit (the container may be killed)"},
		{templateSizing{CPUs: 1, Mem: 2048, Agents: 5, PeakMemMB: 300, LimitMemMB: 2080, CPUsUsed: 0.5}, "mem could be 384: agents peaked at 300 MB of 2048 MB"},
		{templateSizing{CPUs: 1, Mem: 2048, Agents: 4, PeakMemMB: 300, LimitMemMB: 2080, CPUsUsed: 0.5}, ""}, // too few agents to shrink
		{templateSizing{CPUs: 0.2, Mem: 512, Agents: 2, PeakMemMB: 300, LimitMemMB: 544, CPUsUsed: 0.7}, "raise cpus: agents used 0.7 on average, above the 0.2 reserved"},
		{templateSizing{CPUs: 0.2, Mem: 30, OOMKilled: 2, LimitMemMB: 62}, "raise mem to 96: 2 agent(s) were killed for exceeding their memory limit (REASON_CONTAINER_LIMITATION_MEMORY)"},
		{templateSizing{CPUs: 0.2, Mem: 30, Agents: 1, PeakMemMB: 20, SIGKilled: 1, LimitMemMB: 62}, "raise mem to 96: 1 agent(s) died of SIGKILL (exit 137), which under the Docker containerizer is most often the OOM killer at the container's memory limit (Mesos does not report it)"},
	} {
		require.Equal(t, c.want, advise(c.s), "%+v", c.s)
	}
}

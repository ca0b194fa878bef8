package main

import (
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/executor"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	msched "github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func launchOf(ids map[string]string, cpus, mem float64) *msched.Call {
	var tis []mesos.TaskInfo
	for id, tmpl := range ids {
		tis = append(tis, mesos.TaskInfo{TaskID: mesos.TaskID{Value: id},
			Labels: &mesos.Labels{Labels: []mesos.Label{{Key: executor.LabelTemplate, Value: ptr(tmpl)}}},
			Resources: []mesos.Resource{
				{Name: "cpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: cpus}},
				{Name: "mem", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: mem}},
			}})
	}
	return &msched.Call{Type: msched.Call_ACCEPT, Accept: &msched.Call_Accept{Operations: []mesos.Offer_Operation{
		{Type: mesos.Offer_Operation_LAUNCH, Launch: &mesos.Offer_Operation_Launch{TaskInfos: tis}}}}}
}

func update(id string, s mesos.TaskState) scheduler.Update {
	return scheduler.Update{Status: mesos.TaskStatus{TaskID: mesos.TaskID{Value: id}, State: s.Enum()}}
}

func TestUsageCountsReservedTimePerTemplate(t *testing.T) {
	now := time.Unix(1000, 0)
	u := newUsageMeter(func() time.Time { return now }, func() []scheduler.Template {
		return []scheduler.Template{{Name: "mesos", CPUs: 0.2, Mem: 30}}
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(u)
	value := func(name, tmpl string) float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == tmpl {
					return m.GetCounter().GetValue()
				}
			}
		}
		return -1
	}
	u.ready(scheduler.Ready{Calls: []*msched.Call{launchOf(map[string]string{"a-1": "mesos", "a-2": "mesos"}, 0.5, 256), launchOf(map[string]string{"b-1": "big"}, 2, 1024)}})
	now = now.Add(10 * time.Second)
	u.event(update("a-1", mesos.TASK_RUNNING))
	u.event(update("a-1", mesos.TASK_FINISHED))
	now = now.Add(5 * time.Second)
	require.InDelta(t, 25, value("jenkins_mesos_agent_seconds_total", "mesos"), 1e-9, "10 s + 15 s so far")
	require.InDelta(t, 12.5, value("jenkins_mesos_agent_reserved_cpu_seconds_total", "mesos"), 1e-9)
	require.InDelta(t, 25*256*1024*1024, value("jenkins_mesos_agent_reserved_memory_byte_seconds_total", "mesos"), 1)
	require.InDelta(t, 30, value("jenkins_mesos_agent_reserved_cpu_seconds_total", "big"), 1e-9, "2 CPUs for 15 s")
	// A later terminal update for a finished task counts nothing more.
	u.event(update("a-1", mesos.TASK_KILLED))
	require.InDelta(t, 25, value("jenkins_mesos_agent_seconds_total", "mesos"), 1e-9)

	// An ACCEPT that failed launched nothing.
	failed := launchOf(map[string]string{"c-1": "big"}, 1, 64)
	u.ready(scheduler.Ready{Calls: []*msched.Call{failed}})
	u.event(scheduler.CallFailed{Call: failed, Err: "refused"})
	// A task seen first in an update (adopted after a restart) counts
	// from then with its template's slice.
	u.event(update("mesos-deadbeef", mesos.TASK_RUNNING))
	now = now.Add(10 * time.Second)
	require.InDelta(t, 25+10+10, value("jenkins_mesos_agent_seconds_total", "mesos"), 1e-9, "a-2 10 s more, the adopted one 10 s")
	require.InDelta(t, 12.5+0.5*10+0.2*10, value("jenkins_mesos_agent_reserved_cpu_seconds_total", "mesos"), 1e-9)
	require.InDelta(t, 25, value("jenkins_mesos_agent_seconds_total", "big"), 1e-9, "b-1 only: 25 s; c-1 never ran")

	// Adopted tasks of a template a build's label derived (no file names
	// it): the core's note says what they hold. One reports after the
	// note, one had reported before its node was seen (the note carries
	// its agent), one never reports.
	adopted := func(id, agent string) scheduler.Note {
		return scheduler.Note{Kind: "adopted", Fields: map[string]string{"node": id, "task_id": id, "agent_id": agent,
			"template": "mesos-0123abcd", "cpus": "1.5", "mem": "2048"}}
	}
	u.event(update("mesos-0123abcd-00000001", mesos.TASK_RUNNING)) // before its node: unknown yet
	u.ready(scheduler.Ready{Notes: []scheduler.Note{adopted("mesos-0123abcd-00000001", "agent-1"),
		adopted("mesos-0123abcd-00000002", ""), adopted("mesos-0123abcd-00000003", "")}})
	now = now.Add(4 * time.Second)
	u.event(update("mesos-0123abcd-00000002", mesos.TASK_RUNNING))
	now = now.Add(6 * time.Second)
	require.InDelta(t, 10+6, value("jenkins_mesos_agent_seconds_total", "mesos-0123abcd"), 1e-9, "10 s and 6 s; the silent one nothing")
	require.InDelta(t, 1.5*16, value("jenkins_mesos_agent_reserved_cpu_seconds_total", "mesos-0123abcd"), 1e-9)
	require.InDelta(t, 16*2048*1024*1024, value("jenkins_mesos_agent_reserved_memory_byte_seconds_total", "mesos-0123abcd"), 1)
	u.event(update("mesos-0123abcd-00000001", mesos.TASK_FINISHED))
	u.event(update("mesos-0123abcd-00000003", mesos.TASK_LOST))
	now = now.Add(10 * time.Second)
	require.InDelta(t, 10+16, value("jenkins_mesos_agent_seconds_total", "mesos-0123abcd"), 1e-9, "the finished one stopped; the lost one never counted")

	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
}

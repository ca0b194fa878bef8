package main

import (
	"testing"

	"github.com/jenkins-mesos/jenkins-mesos/executor"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	msched "github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestMetricsCountWhatAReadyDoes(t *testing.T) {
	m := newMetrics(&instance{})
	task := func(tmpl string) mesos.TaskInfo {
		return mesos.TaskInfo{Labels: &mesos.Labels{Labels: []mesos.Label{{Key: executor.LabelNode, Value: ptr("n")}, {Key: executor.LabelTemplate, Value: ptr(tmpl)}}}}
	}
	accept := &msched.Call{Type: msched.Call_ACCEPT, Accept: &msched.Call_Accept{
		OfferIDs: []mesos.OfferID{{Value: "o1"}, {Value: "o2"}},
		Operations: []mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH, Launch: &mesos.Offer_Operation_Launch{
			TaskInfos: []mesos.TaskInfo{task("mesos"), task("mesos"), task("big")}}}}}}
	decline := &msched.Call{Type: msched.Call_DECLINE, Decline: &msched.Call_Decline{OfferIDs: []mesos.OfferID{{Value: "o3"}, {Value: "o4"}, {Value: "o5"}}}}
	m.ready(scheduler.Ready{Calls: []*msched.Call{accept, decline},
		Jenkins: []scheduler.NodeOp{{Kind: scheduler.NodeCreate}, {Kind: scheduler.NodeDelete}, {Kind: scheduler.NodeCreate}},
		Notes:   []scheduler.Note{{Kind: "launch"}, {Kind: "launch"}, {Kind: "launch"}, {Kind: "breaker_open"}}})
	m.event(scheduler.Offers{Offers: make([]mesos.Offer, 5)})
	m.event(scheduler.Update{Status: mesos.TaskStatus{State: mesos.TASK_FAILED.Enum()}})
	m.event(scheduler.CallFailed{Call: accept, Err: "refused"})

	require.Equal(t, 2.0, testutil.ToFloat64(m.launches.WithLabelValues("mesos")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.launches.WithLabelValues("big")))
	require.Equal(t, 2.0, testutil.ToFloat64(m.offersUsed))
	require.Equal(t, 3.0, testutil.ToFloat64(m.offersDeclined))
	require.Equal(t, 5.0, testutil.ToFloat64(m.offersReceived))
	require.Equal(t, 1.0, testutil.ToFloat64(m.calls.WithLabelValues("ACCEPT")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.callFailures.WithLabelValues("ACCEPT")))
	require.Equal(t, 2.0, testutil.ToFloat64(m.nodeOps.WithLabelValues("create")))
	require.Equal(t, 3.0, testutil.ToFloat64(m.events.WithLabelValues("launch")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.events.WithLabelValues("breaker_open")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.taskUpdates.WithLabelValues("TASK_FAILED")))

	// Not leading: the gauges say so and nothing else is read.
	n, err := testutil.GatherAndCount(m.reg, "jenkins_mesos_leader", "jenkins_mesos_subscribed", "jenkins_mesos_agents")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	problems, err := testutil.GatherAndLint(m.reg)
	require.NoError(t, err)
	require.Empty(t, problems, "the metrics follow Prometheus' naming rules")
}

func ptr(s string) *string { return &s }

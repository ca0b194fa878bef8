package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/jenkins"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestBuildWaitsAreMeasuredPerTemplate(t *testing.T) {
	now := time.Unix(5000, 0)
	m := newWaitMeter(func() time.Time { return now })
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	waiting := func(ws ...scheduler.Wait) { m.ready(scheduler.Ready{Waiting: append([]scheduler.Wait{}, ws...)}) }
	a := scheduler.Wait{Build: 1, Template: "mesos", Code: "pending"}
	quiet := scheduler.Wait{Build: 2, Template: "mesos", Quiet: true, Code: "pending"}
	big := scheduler.Wait{Build: 3, Template: "big", Code: "no_fit"}
	nobody := scheduler.Wait{Build: 4, Code: "no_template"}

	waiting(a, quiet, big, nobody)
	now = now.Add(3 * time.Second)
	m.ready(scheduler.Ready{}) // no new explanation: nothing changes
	quiet.Quiet = false        // its quiet period ends: its wait starts now
	waiting(a, quiet, big, nobody)
	now = now.Add(4 * time.Second)
	for id, want := range map[int64]time.Duration{1: 7 * time.Second, 2: 4 * time.Second, 3: 7 * time.Second} {
		got, ok := m.waited(id)
		require.True(t, ok, "build %d", id)
		require.Equal(t, want, got, "build %d", id)
	}
	_, ok := m.waited(4)
	require.False(t, ok, "a build no template serves waits on nobody")
	require.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(`
# HELP jenkins_mesos_oldest_build_wait_seconds How long the build that has waited longest for an agent of the template has waited so far.
# TYPE jenkins_mesos_oldest_build_wait_seconds gauge
jenkins_mesos_oldest_build_wait_seconds{template="big"} 7
jenkins_mesos_oldest_build_wait_seconds{template="mesos"} 7
`), "jenkins_mesos_oldest_build_wait_seconds"))

	waiting(quiet, big, nobody) // build 1 started after 7 s
	now = now.Add(5 * time.Second)
	waiting(nobody) // build 2 after 9 s, build 3 after 12 s
	require.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(`
# HELP jenkins_mesos_build_wait_seconds How long builds waited for an agent of the template, from the first poll that saw them ready to start (past the quiet period) to the first that saw them gone from the queue; builds cancelled meanwhile are not counted.
# TYPE jenkins_mesos_build_wait_seconds histogram
jenkins_mesos_build_wait_seconds_bucket{template="big",le="0.5"} 0
jenkins_mesos_build_wait_seconds_bucket{template="big",le="1"} 0
jenkins_mesos_build_wait_seconds_bucket{template="big",le="2"} 0
jenkins_mesos_build_wait_seconds_bucket{template="big",le="5"} 0
jenkins_mesos_build_wait_seconds_bucket{template="big",le="10"} 0
jenkins_mesos_build_wait_seconds_bucket{template="big",le="20"} 1
jenkins_mesos_build_wait_seconds_bucket{template="big",le="30"} 1
jenkins_mesos_build_wait_seconds_bucket{template="big",le="60"} 1
jenkins_mesos_build_wait_seconds_bucket{template="big",le="120"} 1
jenkins_mesos_build_wait_seconds_bucket{template="big",le="300"} 1
jenkins_mesos_build_wait_seconds_bucket{template="big",le="600"} 1
jenkins_mesos_build_wait_seconds_bucket{template="big",le="1800"} 1
jenkins_mesos_build_wait_seconds_bucket{template="big",le="3600"} 1
jenkins_mesos_build_wait_seconds_bucket{template="big",le="+Inf"} 1
jenkins_mesos_build_wait_seconds_sum{template="big"} 12
jenkins_mesos_build_wait_seconds_count{template="big"} 1
jenkins_mesos_build_wait_seconds_bucket{template="mesos",le="0.5"} 0
jenkins_mesos_build_wait_seconds_bucket{template="mesos",le="1"} 0
jenkins_mesos_build_wait_seconds_bucket{template="mesos",le="2"} 0
jenkins_mesos_build_wait_seconds_bucket{template="mesos",le="5"} 0
jenkins_mesos_build_wait_seconds_bucket{template="mesos",le="10"} 2
jenkins_mesos_build_wait_seconds_bucket{template="mesos",le="20"} 2
jenkins_mesos_build_wait_seconds_bucket{template="mesos",le="30"} 2
jenkins_mesos_build_wait_seconds_bucket{template="mesos",le="60"} 2
jenkins_mesos_build_wait_seconds_bucket{template="mesos",le="120"} 2
jenkins_mesos_build_wait_seconds_bucket{template="mesos",le="300"} 2
jenkins_mesos_build_wait_seconds_bucket{template="mesos",le="600"} 2
jenkins_mesos_build_wait_seconds_bucket{template="mesos",le="1800"} 2
jenkins_mesos_build_wait_seconds_bucket{template="mesos",le="3600"} 2
jenkins_mesos_build_wait_seconds_bucket{template="mesos",le="+Inf"} 2
jenkins_mesos_build_wait_seconds_sum{template="mesos"} 16
jenkins_mesos_build_wait_seconds_count{template="mesos"} 2
`), "jenkins_mesos_build_wait_seconds"))
	require.Zero(t, testutil.CollectAndCount(m, "jenkins_mesos_oldest_build_wait_seconds"), "nothing of ours waits")

	// A new leadership term forgets what the last one followed: a build
	// still listed is measured from the new term's first listing.
	waiting(a)
	now = now.Add(100 * time.Second)
	m.newTerm()
	waiting(a)
	now = now.Add(2 * time.Second)
	waiting()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		for _, x := range mf.GetMetric() {
			if mf.GetName() == "jenkins_mesos_build_wait_seconds" && x.GetLabel()[0].GetValue() == "mesos" {
				require.EqualValues(t, 3, x.GetHistogram().GetSampleCount())
				require.InDelta(t, 16+2, x.GetHistogram().GetSampleSum(), 1e-9, "2 s in the new term, not 102")
			}
		}
	}
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
}

// TestWaitsAreCountedByWhatBecameOfTheBuild: while follow runs, a build
// no longer listed is looked up: one that started (or whose fate Jenkins
// no longer knows, or could not say) is a wait, a cancelled one is
// counted apart, one Jenkins still holds is neither.
func TestWaitsAreCountedByWhatBecameOfTheBuild(t *testing.T) {
	now := time.Unix(5000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m := newWaitMeter(clock)
	fates := map[int64]jenkins.Fate{1: jenkins.FateStarted, 2: jenkins.FateCancelled, 3: jenkins.FateQueued, 4: jenkins.FateUnknown}
	asked := make(chan int64, 10)
	fate := func(_ context.Context, id int64) (jenkins.Fate, error) {
		asked <- id
		if id == 5 {
			return jenkins.FateUnknown, errors.New("jenkins: GET queue/item/5/api/json: 503")
		}
		return fates[id], nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.follow(ctx, fate) }()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool { m.mu.Lock(); defer m.mu.Unlock(); return m.following }, 5*time.Second, time.Millisecond)

	var all []scheduler.Wait
	for id := int64(1); id <= 5; id++ {
		all = append(all, scheduler.Wait{Build: id, Template: "mesos", Code: "pending"})
	}
	m.ready(scheduler.Ready{Waiting: all})
	mu.Lock()
	now = now.Add(8 * time.Second)
	mu.Unlock()
	m.ready(scheduler.Ready{Waiting: []scheduler.Wait{}}) // all five gone
	for range 5 {
		select {
		case <-asked:
		case <-time.After(5 * time.Second):
			t.Fatal("a gone build was not looked up")
		}
	}
	count := func() (waits, sum float64) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(m)
		got, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range got {
			if mf.GetName() == "jenkins_mesos_build_wait_seconds" {
				h := mf.GetMetric()[0].GetHistogram()
				return float64(h.GetSampleCount()), h.GetSampleSum()
			}
		}
		return 0, 0
	}
	require.Eventually(t, func() bool {
		n, _ := count()
		return n == 3 && testutil.ToFloat64(m.cancelled.WithLabelValues("mesos")) == 1
	}, 5*time.Second, time.Millisecond)
	n, sum := count()
	require.Equal(t, 3.0, n, "started, unknown and unanswered: waits")
	require.Equal(t, 24.0, sum, "three waits of 8 s")
	require.Equal(t, 1.0, testutil.ToFloat64(m.cancelled.WithLabelValues("mesos")), "the cancelled build")
}

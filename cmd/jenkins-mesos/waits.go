package main

import (
	"sync"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/scheduler"
	"github.com/prometheus/client_golang/prometheus"
)

// waitMeter measures how long builds wait for an agent, per template: from
// the first explanation that lists a build as waiting for the template
// and past its quiet period (Jenkins would start it if it had an agent),
// to the first that no longer lists it (it started, or left the queue).
// Both ends are this process's own clock, read when the core explains,
// so the figure is within a poll interval of Jenkins' and needs no clock
// agreement with it. A build waiting when leadership changes hands is
// measured by the new leader from its first listing.
type waitMeter struct {
	mu      sync.Mutex
	now     func() time.Time
	waiting map[int64]waitingBuild // by queue ID
	hist    *prometheus.HistogramVec
}

type waitingBuild struct {
	template string
	since    time.Time
}

// waitBuckets run from the time a warm agent takes a build to the time a
// cluster without room leaves it waiting.
var waitBuckets = []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600}

func newWaitMeter(now func() time.Time) *waitMeter {
	return &waitMeter{now: now, waiting: map[int64]waitingBuild{},
		hist: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "build_wait_seconds",
			Help:    "How long builds waited for an agent of the template, from the first poll that saw them ready to start (past the quiet period) to the first that saw them gone from the queue.",
			Buckets: waitBuckets}, []string{"template"})}
}

// ready follows the waiting builds in each new explanation.
func (m *waitMeter) ready(rd scheduler.Ready) {
	if rd.Waiting == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	listed := make(map[int64]bool, len(rd.Waiting))
	for _, w := range rd.Waiting {
		listed[w.Build] = true
		b, ok := m.waiting[w.Build]
		switch {
		case w.Template == "" || w.Quiet:
			// Not (yet) ours to serve: not waiting on us.
			delete(m.waiting, w.Build)
		case !ok || b.template != w.Template:
			m.waiting[w.Build] = waitingBuild{template: w.Template, since: now}
		}
	}
	for id, b := range m.waiting {
		if !listed[id] {
			m.hist.WithLabelValues(b.template).Observe(now.Sub(b.since).Seconds())
			delete(m.waiting, id)
		}
	}
}

// waited says how long the build has waited so far, if it is waiting on
// a template (past its quiet period).
func (m *waitMeter) waited(id int64) (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.waiting[id]
	if !ok {
		return 0, false
	}
	return m.now().Sub(b.since), true
}

// newTerm forgets the builds a leadership term was following: they are
// measured again by whichever instance leads next.
func (m *waitMeter) newTerm() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.waiting)
}

var descOldestWait = prometheus.NewDesc(ns+"_oldest_build_wait_seconds",
	"How long the build that has waited longest for an agent of the template has waited so far.", []string{"template"}, nil)

func (m *waitMeter) Describe(ch chan<- *prometheus.Desc) {
	m.hist.Describe(ch)
	ch <- descOldestWait
}

func (m *waitMeter) Collect(ch chan<- prometheus.Metric) {
	m.hist.Collect(ch)
	m.mu.Lock()
	now := m.now()
	oldest := map[string]time.Time{}
	for _, b := range m.waiting {
		if o, ok := oldest[b.template]; !ok || b.since.Before(o) {
			oldest[b.template] = b.since
		}
	}
	m.mu.Unlock()
	for tmpl, since := range oldest {
		ch <- prometheus.MustNewConstMetric(descOldestWait, prometheus.GaugeValue, now.Sub(since).Seconds(), tmpl)
	}
}

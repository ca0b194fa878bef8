package main

import (
	"context"
	"sync"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/jenkins"
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
//
// A build no longer listed may have started, or been cancelled, or be
// held by Jenkins (blocked): while follow runs, each is looked up in
// Jenkins (its left item) and only a build that started, or whose fate
// Jenkins no longer knows, is a wait; a cancelled one is counted apart
// and a held one is not counted.
type waitMeter struct {
	mu        sync.Mutex
	now       func() time.Time
	waiting   map[int64]waitingBuild // by queue ID
	hist      *prometheus.HistogramVec
	cancelled *prometheus.CounterVec
	following bool           // follow runs: gone builds go to it
	gone      chan goneBuild // to follow
}

// goneBuild is a build no longer listed, waiting to be looked up.
type goneBuild struct {
	id       int64
	template string
	waited   time.Duration
}

type waitingBuild struct {
	template string
	since    time.Time
}

// waitBuckets run from the time a warm agent takes a build to the time a
// cluster without room leaves it waiting.
var waitBuckets = []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600}

func newWaitMeter(now func() time.Time) *waitMeter {
	return &waitMeter{now: now, waiting: map[int64]waitingBuild{}, gone: make(chan goneBuild, 1024),
		hist: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "build_wait_seconds",
			Help:    "How long builds waited for an agent of the template, from the first poll that saw them ready to start (past the quiet period) to the first that saw them gone from the queue; builds cancelled meanwhile are not counted.",
			Buckets: waitBuckets}, []string{"template"}),
		cancelled: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "build_waits_cancelled_total",
			Help: "Builds that left the queue cancelled while they waited for an agent of the template."}, []string{"template"})}
}

// follow looks up, until ctx ends, what became of each build no longer
// listed (fate is jenkins.Client.FateOf), and counts it by its fate.
func (m *waitMeter) follow(ctx context.Context, fate func(context.Context, int64) (jenkins.Fate, error)) {
	m.mu.Lock()
	m.following = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.following = false
		m.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case g := <-m.gone:
			fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			f, err := fate(fctx, g.id)
			cancel()
			switch {
			case ctx.Err() != nil:
				return
			case err == nil && f == jenkins.FateCancelled:
				m.cancelled.WithLabelValues(g.template).Inc()
			case err == nil && f == jenkins.FateQueued:
				// Held by Jenkins, not waiting on an agent: not a wait.
			default: // started, or Jenkins cannot tell: a wait
				m.hist.WithLabelValues(g.template).Observe(g.waited.Seconds())
			}
		}
	}
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
			g := goneBuild{id: id, template: b.template, waited: now.Sub(b.since)}
			delete(m.waiting, id)
			if m.following {
				select {
				case m.gone <- g:
					continue
				default: // too many to look up: counted as waits
				}
			}
			m.hist.WithLabelValues(g.template).Observe(g.waited.Seconds())
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
	m.cancelled.Describe(ch)
	ch <- descOldestWait
}

func (m *waitMeter) Collect(ch chan<- prometheus.Metric) {
	m.hist.Collect(ch)
	m.cancelled.Collect(ch)
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

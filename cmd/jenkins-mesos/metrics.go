package main

import (
	"strings"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/executor"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	msched "github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics is GET /metrics in Prometheus' text format. Counters follow
// what the driver does (every Ready it acts on, every event it feeds the
// core) and live as long as the process, across leadership terms; gauges
// are read from the running core when scraped.
type metrics struct {
	reg            *prometheus.Registry
	events         *prometheus.CounterVec
	calls          *prometheus.CounterVec
	callFailures   *prometheus.CounterVec
	launches       *prometheus.CounterVec
	nodeOps        *prometheus.CounterVec
	taskUpdates    *prometheus.CounterVec
	offersReceived prometheus.Counter
	offersDeclined prometheus.Counter
	offersUsed     prometheus.Counter
	offersRescind  prometheus.Counter
	usage          *usageMeter
	waits          *waitMeter
}

const ns = "jenkins_mesos"

func newMetrics(in *instance) *metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
	}
	m := &metrics{
		reg:            prometheus.NewRegistry(),
		events:         counter("events_total", "Things the framework did or saw, by the event field of its log lines (launch, reclaimed, connect_timeout, task_ended, unreachable, breaker_open, ...).", "event"),
		calls:          counter("mesos_calls_total", "Calls sent to the Mesos master, by type.", "call"),
		callFailures:   counter("mesos_call_failures_total", "Calls to the Mesos master that failed, by type.", "call"),
		launches:       counter("launches_total", "Agent tasks launched, by template.", "template"),
		nodeOps:        counter("jenkins_node_operations_total", "Jenkins node operations started, by kind (create, retire, delete).", "op"),
		taskUpdates:    counter("task_updates_total", "Task status updates received from Mesos, by state.", "state"),
		offersReceived: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "offers_received_total", Help: "Offers received from Mesos."}),
		offersDeclined: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "offers_declined_total", Help: "Offers declined."}),
		offersUsed:     prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "offers_accepted_total", Help: "Offers accepted with at least one launch."}),
		offersRescind:  prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "offers_rescinded_total", Help: "Offers the master rescinded."}),
		usage:          newUsageMeter(time.Now, func() []scheduler.Template { return in.templates() }),
		waits:          newWaitMeter(time.Now),
	}
	m.reg.MustRegister(m.events, m.calls, m.callFailures, m.launches, m.nodeOps, m.taskUpdates,
		m.offersReceived, m.offersDeclined, m.offersUsed, m.offersRescind, m.usage, m.waits,
		&stateCollector{in: in}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ready counts what one Ready does; the driver calls it after acting.
func (m *metrics) ready(rd scheduler.Ready) {
	m.usage.ready(rd)
	m.waits.ready(rd)
	for _, n := range rd.Notes {
		m.events.WithLabelValues(n.Kind).Inc()
	}
	for _, op := range rd.Jenkins {
		m.nodeOps.WithLabelValues(strings.ToLower(op.Kind.String())).Inc()
	}
	for _, k := range rd.Calls {
		m.calls.WithLabelValues(k.Type.String()).Inc()
		switch k.Type {
		case msched.Call_DECLINE:
			m.offersDeclined.Add(float64(len(k.GetDecline().GetOfferIDs())))
		case msched.Call_ACCEPT:
			m.offersUsed.Add(float64(len(k.GetAccept().GetOfferIDs())))
			for _, op := range k.GetAccept().GetOperations() {
				for _, ti := range op.GetLaunch().GetTaskInfos() {
					m.launches.WithLabelValues(labelOf(ti.GetLabels().GetLabels(), executor.LabelTemplate)).Inc()
				}
			}
		}
	}
}

// event counts what the driver feeds the core.
func (m *metrics) event(ev scheduler.Event) {
	m.usage.event(ev)
	switch e := ev.(type) {
	case scheduler.Offers:
		m.offersReceived.Add(float64(len(e.Offers)))
	case scheduler.Rescind:
		m.offersRescind.Inc()
	case scheduler.Update:
		m.taskUpdates.WithLabelValues(e.Status.GetState().String()).Inc()
	case scheduler.CallFailed:
		m.callFailures.WithLabelValues(e.Call.GetType().String()).Inc()
	}
}

func labelOf(labels []mesos.Label, key string) string {
	for i := range labels {
		if labels[i].GetKey() == key {
			return labels[i].GetValue()
		}
	}
	return ""
}

// stateCollector reads the gauges from the instance at each scrape.
type stateCollector struct{ in *instance }

var (
	descLeader     = prometheus.NewDesc(ns+"_leader", "1 while this instance leads (runs the framework), 0 while it stands by.", nil, nil)
	descSubscribed = prometheus.NewDesc(ns+"_subscribed", "1 while subscribed to the Mesos master.", nil, nil)
	descSuppressed = prometheus.NewDesc(ns+"_suppressed", "1 while offers are suppressed (nothing waits).", nil, nil)
	descAgents     = prometheus.NewDesc(ns+"_agents", "Agents by state.", []string{"state"}, nil)
	descWaiting    = prometheus.NewDesc(ns+"_builds_waiting", "Builds waiting for an agent, by the reason code /status gives.", []string{"reason_code"}, nil)
	descTmplWait   = prometheus.NewDesc(ns+"_template_builds_waiting", "Builds waiting for an agent of the template.", []string{"template"}, nil)
	descTmplAgents = prometheus.NewDesc(ns+"_template_agents", "Agents of the template, in any state.", []string{"template"}, nil)
	descTmplState  = prometheus.NewDesc(ns+"_template_status", "1 for the template's current reason code (ok, pending, breaker_open, launch_backoff, ...).", []string{"template", "reason_code"}, nil)
	descInfo       = prometheus.NewDesc(ns+"_build_info", "The running version.", []string{"version"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLeader, descSubscribed, descSuppressed, descAgents, descWaiting, descTmplWait, descTmplAgents, descTmplState, descInfo} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	bit := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	gauge(descInfo, 1, version)
	d, role, _ := c.in.current()
	gauge(descLeader, bit(d != nil && role == "leader"))
	if d == nil {
		gauge(descSubscribed, 0)
		return
	}
	st := d.Status()
	gauge(descSubscribed, bit(st.Subscribed))
	gauge(descSuppressed, bit(st.Suppressed))
	for state, n := range st.Agents {
		gauge(descAgents, float64(n), state)
	}
	waiting := map[string]int{}
	for _, w := range st.Waiting {
		waiting[w.Code]++
	}
	for code, n := range waiting {
		gauge(descWaiting, float64(n), code)
	}
	for _, t := range st.Templates {
		gauge(descTmplWait, float64(t.Waiting), t.Template)
		gauge(descTmplAgents, float64(t.Agents), t.Template)
		gauge(descTmplState, 1, t.Template, t.Code)
	}
}

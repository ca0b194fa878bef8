package main

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/executor"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	msched "github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/prometheus/client_golang/prometheus"
)

// usageMeter accounts for what the agents held, per template: how long each
// agent task lived, and the CPUs and memory it reserved for that long
// (its slice, not what it used), from its launch (or, for a task this
// process did not launch — adopted after a restart or a failover — from
// the first update it sees) to its terminal update. The counters are the
// finished tasks' sums plus the running tasks' so far, so they rise while
// agents run and never fall.
type usageMeter struct {
	mu        sync.Mutex
	now       func() time.Time
	templates func() []scheduler.Template // the running configuration, for adopted tasks
	running   map[string]usageTask
	adoptedAs map[string]usageTask // what the core said an adopted task holds, until it reports
	done      map[string]usageSum  // by template

	// What the agents reported (sizing.go), by template.
	sized     map[string][]sizedAgent // the last finished agents
	cpuUsed   map[string]float64      // CPU seconds the finished agents used
	lastDone  map[string]usageTask    // the template's last finished task: its slice and last reported limit
	oomKilled map[string]int          // agents Mesos killed for their memory (REASON_CONTAINER_LIMITATION_MEMORY)
	// sigkilled: agents whose container died of SIGKILL (exit 137) that
	// nobody asked to kill: under the Docker containerizer, which reports
	// no memory limitation, that is most often the kernel's OOM killer.
	sigkilled map[string]int
	peakHist  *prometheus.HistogramVec
}

type usageTask struct {
	template  string
	cpus, mem float64 // reserved: cpus, MB
	since     time.Time
	agent     string // the Mesos agent it runs on, once known

	sampled  bool    // an agent reported its usage
	peakRSS  int64   // bytes
	cpuUsed  float64 // seconds, cumulative
	memLimit int64   // bytes, as reported
}

type usageSum struct{ seconds, cpuSeconds, memByteSeconds float64 }

func (s *usageSum) add(t usageTask, d time.Duration) {
	sec := d.Seconds()
	s.seconds += sec
	s.cpuSeconds += sec * t.cpus
	s.memByteSeconds += sec * t.mem * 1024 * 1024
}

func newUsageMeter(now func() time.Time, templates func() []scheduler.Template) *usageMeter {
	return &usageMeter{now: now, templates: templates, running: map[string]usageTask{}, adoptedAs: map[string]usageTask{}, done: map[string]usageSum{},
		sized: map[string][]sizedAgent{}, cpuUsed: map[string]float64{}, lastDone: map[string]usageTask{}, oomKilled: map[string]int{}, sigkilled: map[string]int{},
		peakHist: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "agent_memory_peak_bytes",
			Help:    "Each finished agent's peak resident memory, as its Mesos agent reported it (GET /monitor/statistics every mesos.usage_interval).",
			Buckets: memBuckets}, []string{"template"})}
}

// ready starts the tasks an ACCEPT launches, and learns from the core's
// "adopted" notes what an adopted task holds (its template may be one a
// build's label derived, which no configuration file names).
func (u *usageMeter) ready(rd scheduler.Ready) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, n := range rd.Notes {
		if n.Kind != "adopted" || n.Fields["template"] == "" {
			continue
		}
		id := n.Fields["task_id"]
		if _, ok := u.running[id]; ok {
			continue
		}
		t := usageTask{template: n.Fields["template"]}
		t.cpus, _ = strconv.ParseFloat(n.Fields["cpus"], 64)
		t.mem, _ = strconv.ParseFloat(n.Fields["mem"], 64)
		if n.Fields["agent_id"] != "" {
			// Its task already reported (before the node was seen).
			t.since = u.now()
			u.running[id] = t
			continue
		}
		u.adoptedAs[id] = t
	}
	for _, k := range rd.Calls {
		if k.Type != msched.Call_ACCEPT {
			continue
		}
		for _, op := range k.GetAccept().GetOperations() {
			for _, ti := range op.GetLaunch().GetTaskInfos() {
				t := usageTask{template: labelOf(ti.GetLabels().GetLabels(), executor.LabelTemplate), since: u.now(), agent: ti.AgentID.Value}
				for _, r := range ti.Resources {
					switch r.Name {
					case "cpus":
						t.cpus += r.GetScalar().GetValue()
					case "mem":
						t.mem += r.GetScalar().GetValue()
					}
				}
				u.running[ti.TaskID.Value] = t
			}
		}
	}
}

// event ends a task at its terminal update, forgets the launches of an
// ACCEPT that failed, and starts counting a task first seen in an update.
func (u *usageMeter) event(ev scheduler.Event) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch e := ev.(type) {
	case scheduler.CallFailed:
		if e.Call.GetType() == msched.Call_ACCEPT {
			for _, op := range e.Call.GetAccept().GetOperations() {
				for _, ti := range op.GetLaunch().GetTaskInfos() {
					delete(u.running, ti.TaskID.Value)
				}
			}
		}
	case scheduler.Update:
		id := e.Status.TaskID.Value
		t, known := u.running[id]
		if terminal(e.Status.GetState()) {
			delete(u.adoptedAs, id)
			if known {
				sum := u.done[t.template]
				sum.add(t, u.now().Sub(t.since))
				u.done[t.template] = sum
				u.finishSized(t, u.now().Sub(t.since))
				if t.memLimit == 0 { // not sampled: keep the limit last reported
					t.memLimit = u.lastDone[t.template].memLimit
				}
				u.lastDone[t.template] = t
				switch {
				case e.Status.GetReason() == mesos.REASON_CONTAINER_LIMITATION_MEMORY:
					u.oomKilled[t.template]++
				case e.Status.GetState() == mesos.TASK_FAILED && diedOfSIGKILL(e.Status.GetMessage()):
					u.sigkilled[t.template]++
				}
				delete(u.running, id)
			}
			return
		}
		if !known {
			if t, ok := u.adoptedAs[id]; ok {
				t.since = u.now()
				u.running[id] = t
				delete(u.adoptedAs, id)
			} else if t, ok := u.adopted(id); ok {
				u.running[id] = t
			}
		}
		if t, ok := u.running[id]; ok && e.Status.AgentID != nil && t.agent != e.Status.AgentID.Value {
			t.agent = e.Status.AgentID.Value
			u.running[id] = t
		}
	}
}

// diedOfSIGKILL tells whether an executor's message says the task's
// process died of SIGKILL: the Docker executor reports `docker run`'s exit
// status, "Container exited with status 137"; the command executor the
// signal, "Command terminated with signal Killed" (WSTRINGIFY in
// docker/executor.cpp and launcher/executor.cpp). A kill the framework
// asked for ends TASK_KILLED instead, so with TASK_FAILED nobody asked.
func diedOfSIGKILL(message string) bool {
	return message == "Container exited with status 137" || message == "Command terminated with signal Killed"
}

// adopted is a task this process did not launch and the core has not
// adopted (yet), by its name (the node name: template-xxxxxxxx) and the
// configured template of that name.
func (u *usageMeter) adopted(id string) (usageTask, bool) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 {
		return usageTask{}, false
	}
	for _, t := range u.templates() {
		if t.Name == id[:i] {
			return usageTask{template: t.Name, cpus: t.CPUs, mem: t.Mem, since: u.now()}, true
		}
	}
	return usageTask{}, false
}

func terminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TASK_FINISHED, mesos.TASK_FAILED, mesos.TASK_KILLED, mesos.TASK_LOST, mesos.TASK_ERROR,
		mesos.TASK_DROPPED, mesos.TASK_GONE, mesos.TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}

var (
	descAgentSeconds = prometheus.NewDesc(ns+"_agent_seconds_total", "Seconds the template's agent tasks lived, summed over tasks (from launch, or first sight after a restart, to the terminal update).", []string{"template"}, nil)
	descAgentCPU     = prometheus.NewDesc(ns+"_agent_reserved_cpu_seconds_total", "CPUs the template's agent tasks reserved, times the seconds they held them.", []string{"template"}, nil)
	descAgentMem     = prometheus.NewDesc(ns+"_agent_reserved_memory_byte_seconds_total", "Memory (bytes) the template's agent tasks reserved, times the seconds they held it.", []string{"template"}, nil)
)

var descAgentOOM = prometheus.NewDesc(ns+"_agent_oom_kills_total", "Agents of the template Mesos killed for exceeding their memory limit (REASON_CONTAINER_LIMITATION_MEMORY).", []string{"template"}, nil)

var descAgentSIGKILL = prometheus.NewDesc(ns+"_agent_sigkills_total", "Agents of the template whose container died of SIGKILL (exit 137) unasked: under the Docker containerizer most often the kernel's OOM killer, which Mesos does not report.", []string{"template"}, nil)

var descAgentCPUUsed = prometheus.NewDesc(ns+"_agent_used_cpu_seconds_total", "CPU seconds (user and system) the template's agents used, as their Mesos agents reported it (sampled every mesos.usage_interval).", []string{"template"}, nil)

func (u *usageMeter) Describe(ch chan<- *prometheus.Desc) {
	ch <- descAgentSeconds
	ch <- descAgentCPU
	ch <- descAgentMem
	ch <- descAgentCPUUsed
	ch <- descAgentOOM
	ch <- descAgentSIGKILL
	u.peakHist.Describe(ch)
}

func (u *usageMeter) Collect(ch chan<- prometheus.Metric) {
	u.mu.Lock()
	sums := make(map[string]usageSum, len(u.done))
	for k, v := range u.done {
		sums[k] = v
	}
	now := u.now()
	used := make(map[string]float64, len(u.cpuUsed))
	for k, v := range u.cpuUsed {
		used[k] = v
	}
	oom := make(map[string]int, len(u.oomKilled))
	for k, v := range u.oomKilled {
		oom[k] = v
	}
	sigkilled := make(map[string]int, len(u.sigkilled))
	for k, v := range u.sigkilled {
		sigkilled[k] = v
	}
	for _, t := range u.running {
		s := sums[t.template]
		s.add(t, now.Sub(t.since))
		sums[t.template] = s
		if t.sampled {
			used[t.template] += t.cpuUsed
		}
	}
	u.mu.Unlock()
	for tmpl, s := range sums {
		ch <- prometheus.MustNewConstMetric(descAgentSeconds, prometheus.CounterValue, s.seconds, tmpl)
		ch <- prometheus.MustNewConstMetric(descAgentCPU, prometheus.CounterValue, s.cpuSeconds, tmpl)
		ch <- prometheus.MustNewConstMetric(descAgentMem, prometheus.CounterValue, s.memByteSeconds, tmpl)
	}
	for tmpl, v := range used {
		ch <- prometheus.MustNewConstMetric(descAgentCPUUsed, prometheus.CounterValue, v, tmpl)
	}
	for tmpl, n := range sigkilled {
		ch <- prometheus.MustNewConstMetric(descAgentSIGKILL, prometheus.CounterValue, float64(n), tmpl)
	}
	for tmpl, n := range oom {
		ch <- prometheus.MustNewConstMetric(descAgentOOM, prometheus.CounterValue, float64(n), tmpl)
	}
	u.peakHist.Collect(ch)
}

package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/scheduler/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Sizing from what agents really use (the survey's §5.4: every peer sizes
// only statically). Every mesos.usage_interval the agents running the
// framework's tasks are asked for their usage (GET /monitor/statistics);
// the usage meter keeps each task's peak resident memory and its CPU
// time, and when the task ends adds them to its template's record: the
// last sizingWindow agents. From that record /status gives each template
// its observed peak and average CPU use, and advice when the slice is
// too small (memory near the limit: the kernel kills the container) or
// much too large (reserved room no build uses).

// sizingWindow is how many finished agents a template's record keeps.
const sizingWindow = 50

// sizingMinAgents: advice to shrink waits for this many sampled agents.
const sizingMinAgents = 5

// memBuckets, for the peak memory histogram: 16 MB to 16 GB.
var memBuckets = prometheus.ExponentialBuckets(16<<20, 2, 11)

type sizedAgent struct {
	peakRSS    int64
	cpuSeconds float64
	seconds    float64
}

// liveTasks is each running task whose Mesos agent is known, to ask for
// its usage: task ID → agent ID.
func (u *usageMeter) liveTasks() map[string]string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[string]string, len(u.running))
	for id, t := range u.running {
		if t.agent != "" {
			out[id] = t.agent
		}
	}
	return out
}

// sample folds a round of usage into the running tasks.
func (u *usageMeter) sample(us []driver.TaskUsage) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, s := range us {
		t, ok := u.running[s.Task]
		if !ok {
			continue
		}
		t.sampled = true
		t.peakRSS = max(t.peakRSS, s.RSSBytes)
		t.cpuUsed = max(t.cpuUsed, s.CPUSeconds) // cumulative since the container started
		if s.MemLimitBytes > 0 {
			t.memLimit = s.MemLimitBytes
		}
		u.running[s.Task] = t
	}
}

// finishSized adds a finished task's usage to its template's record.
// Called with u.mu held.
func (u *usageMeter) finishSized(t usageTask, lived time.Duration) {
	if !t.sampled {
		return
	}
	u.cpuUsed[t.template] += t.cpuUsed
	u.peakHist.WithLabelValues(t.template).Observe(float64(t.peakRSS))
	r := append(u.sized[t.template], sizedAgent{peakRSS: t.peakRSS, cpuSeconds: t.cpuUsed, seconds: lived.Seconds()})
	if len(r) > sizingWindow {
		r = r[len(r)-sizingWindow:]
	}
	u.sized[t.template] = r
}

// templateSizing is one template's line in /status.
type templateSizing struct {
	Template   string  `json:"template"`
	CPUs       float64 `json:"cpus"`
	Mem        float64 `json:"mem"`    // MB, the slice
	Agents     int     `json:"agents"` // sampled agents in the record, running ones included
	PeakMemMB  float64 `json:"peak_mem_mb"`
	MedianMB   float64 `json:"median_peak_mem_mb"`
	LimitMemMB float64 `json:"mem_limit_mb"` // the container's limit as the agent reports it
	CPUsUsed   float64 `json:"cpus_used"`    // on average, over the agents' lives
	OOMKilled  int     `json:"oom_killed"`   // agents Mesos killed for their memory, since this process started
	SIGKilled  int     `json:"sigkilled"`    // agents whose container died of SIGKILL unasked (Docker: the OOM killer, unreported)
	Advice     string  `json:"advice,omitempty"`
}

// sizing is each sampled template's record, with advice.
func (u *usageMeter) sizing() []templateSizing {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.now()
	recs := map[string][]sizedAgent{}
	limits := map[string]int64{}
	slice := map[string][2]float64{}
	for tmpl, r := range u.sized {
		recs[tmpl] = append(recs[tmpl], r...)
	}
	for _, t := range u.running {
		if !t.sampled {
			continue
		}
		recs[t.template] = append(recs[t.template], sizedAgent{peakRSS: t.peakRSS, cpuSeconds: t.cpuUsed, seconds: now.Sub(t.since).Seconds()})
		limits[t.template] = max(limits[t.template], t.memLimit)
		slice[t.template] = [2]float64{t.cpus, t.mem}
	}
	// Every template with a record has a running sampled task or a
	// finished one: the slice and limit come from them.
	for tmpl, t := range u.lastDone {
		if _, ok := slice[tmpl]; !ok {
			slice[tmpl] = [2]float64{t.cpus, t.mem}
		}
		if limits[tmpl] == 0 {
			limits[tmpl] = t.memLimit
		}
	}
	for _, killed := range []map[string]int{u.oomKilled, u.sigkilled} {
		for tmpl := range killed {
			if _, ok := recs[tmpl]; !ok {
				recs[tmpl] = nil // killed before a sample: still worth a line
			}
		}
	}
	out := []templateSizing{}
	for tmpl, r := range recs {
		peaks := make([]float64, len(r))
		var cpu, secs float64
		for i, a := range r {
			peaks[i] = float64(a.peakRSS) / (1 << 20)
			cpu += a.cpuSeconds
			secs += a.seconds
		}
		sort.Float64s(peaks)
		s := templateSizing{Template: tmpl, CPUs: slice[tmpl][0], Mem: slice[tmpl][1], Agents: len(r),
			LimitMemMB: round1(float64(limits[tmpl]) / (1 << 20)), OOMKilled: u.oomKilled[tmpl], SIGKilled: u.sigkilled[tmpl]}
		if len(peaks) > 0 {
			s.PeakMemMB, s.MedianMB = round1(peaks[len(peaks)-1]), round1(peaks[len(peaks)/2])
		}
		if secs > 0 {
			s.CPUsUsed = math.Round(cpu/secs*1000) / 1000
		}
		s.Advice = advise(s)
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Template < out[j].Template })
	return out
}

// advise says what to change in a template, if anything:
//   - memory: an agent Mesos killed for its memory says raise it (to
//     1.5× the limit at least: its real peak was not seen), and so does
//     one that died of SIGKILL unasked (the Docker containerizer's OOM
//     kills look like that, nothing else tells them); a peak above
//     90% of the container's limit (the slice's mem
//     when the agent does not say) risks the container being killed;
//     raise mem to 1.25× the peak, rounded up to 32 MB. A peak below half
//     the slice over at least sizingMinAgents agents: mem could be that;
//   - CPU: agents using more than their cpus on average (possible where
//     CPU is shared, not capped) are slowed when the host is busy.
func advise(s templateSizing) string {
	suggest := math.Ceil(s.PeakMemMB*1.25/32) * 32
	limit := s.LimitMemMB
	if limit == 0 {
		limit = s.Mem
	}
	var advice string
	switch {
	case s.OOMKilled > 0:
		// Killed above the limit: what it peaked at was not seen.
		advice = fmt.Sprintf("raise mem to %g: %d agent(s) were killed for exceeding their memory limit (REASON_CONTAINER_LIMITATION_MEMORY)", max(suggest, math.Ceil(limit*1.5/32)*32), s.OOMKilled)
	case s.SIGKilled > 0:
		advice = fmt.Sprintf("raise mem to %g: %d agent(s) died of SIGKILL (exit 137), which under the Docker containerizer is most often the OOM killer at the container's memory limit (Mesos does not report it)", max(suggest, math.Ceil(limit*1.5/32)*32), s.SIGKilled)
	case s.Agents > 0 && s.PeakMemMB > 0.9*limit:
		advice = fmt.Sprintf("raise mem to %g: agents peaked at %g MB of a %g MB limit (the container may be killed)", suggest, s.PeakMemMB, limit)
	case s.Agents >= sizingMinAgents && s.PeakMemMB < 0.5*s.Mem && suggest < s.Mem:
		advice = fmt.Sprintf("mem could be %g: agents peaked at %g MB of %g MB", suggest, s.PeakMemMB, s.Mem)
	}
	if s.CPUs > 0 && s.CPUsUsed > s.CPUs {
		if advice != "" {
			advice += "; "
		}
		advice += fmt.Sprintf("raise cpus: agents used %g on average, above the %g reserved", s.CPUsUsed, s.CPUs)
	}
	return advice
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// sampleUsage asks the agents for their usage every interval until ctx
// ends (one leadership term's driver).
func sampleUsage(ctx context.Context, every time.Duration, d *driver.Driver, u *usageMeter, log *logrus.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	warned := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		us, err := d.Usage(ctx, u.liveTasks())
		if ctx.Err() != nil {
			return
		}
		u.sample(us)
		if err != nil && !warned {
			log.WithError(err).Warn("some Mesos agents do not answer GET /monitor/statistics: their agents' usage is not sampled (said once)")
			warned = true
		}
	}
}

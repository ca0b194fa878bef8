package mesosemu

import (
	"bytes"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// GET /monitor/statistics on an agent (slave/http.cpp Http::statistics):
// one entry per running executor with its resource usage. A task here is
// a real process tree, so its figures are real, read from /proc as
// Mesos' posix isolators do (user and system CPU time, resident memory),
// on the real clock; the limits are the task's resources plus the
// command executor's own (DEFAULT_EXECUTOR_CPUS 0.1, DEFAULT_EXECUTOR_MEM
// 32 MB), as Mesos adds them to a task launched without an executor.

// clockTicks is USER_HZ, the unit of /proc's CPU times.
const clockTicks = 100

func (a *Agent) handleStatistics(w http.ResponseWriter, r *http.Request) {
	type live struct {
		fw, executor, name string
		pid                int
		cpus, mem          float64
	}
	var tasks []live
	a.c.mu.Lock()
	for _, t := range a.tasks {
		if t.cmd == nil || t.cmd.Process == nil || isTerminal(t.state) || t.destroyed {
			continue
		}
		cpus, mem := cpusMem(t.resources)
		tasks = append(tasks, live{fw: t.fw, executor: t.executorID, name: "Command Executor (Task: " + t.info.TaskID.Value + ")",
			pid: t.cmd.Process.Pid, cpus: cpus, mem: mem})
	}
	a.c.mu.Unlock()
	procs := readProcs()
	out := []map[string]any{}
	now := float64(time.Now().UnixNano()) / 1e9
	for _, t := range tasks {
		ticks, rssPages, sysTicks := int64(0), int64(0), int64(0)
		for _, p := range procs.tree(t.pid) {
			ticks += p.utime
			sysTicks += p.stime
			rssPages += p.rss
		}
		out = append(out, map[string]any{
			"framework_id": t.fw, "executor_id": t.executor, "executor_name": t.name, "source": t.executor,
			"statistics": map[string]any{
				"timestamp":             now,
				"cpus_user_time_secs":   float64(ticks) / clockTicks,
				"cpus_system_time_secs": float64(sysTicks) / clockTicks,
				"cpus_limit":            math.Round((t.cpus+0.1)*1e6) / 1e6,
				"mem_rss_bytes":         rssPages * int64(os.Getpagesize()),
				"mem_limit_bytes":       int64((t.mem + 32) * 1024 * 1024),
			},
		})
	}
	writeJSON(w, out)
}

// proc is one process's line of /proc/PID/stat.
type proc struct {
	ppid              int
	utime, stime, rss int64
}

type procTable struct {
	byPID    map[int]proc
	children map[int][]int
}

// readProcs reads every process's stat once (empty where /proc is not).
func readProcs() procTable {
	t := procTable{byPID: map[int]proc{}, children: map[int][]int{}}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... : comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 22 {
			continue
		}
		num := func(k int) int64 { n, _ := strconv.ParseInt(string(f[k]), 10, 64); return n }
		// After the comm: state(0) ppid(1) … utime(11) stime(12) … rss(21).
		p := proc{ppid: int(num(1)), utime: num(11), stime: num(12), rss: num(21)}
		t.byPID[pid] = p
		t.children[p.ppid] = append(t.children[p.ppid], pid)
	}
	return t
}

// tree is a process and its descendants.
func (t procTable) tree(root int) []proc {
	var out []proc
	seen := map[int]bool{}
	stack := []int{root}
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		if p, ok := t.byPID[pid]; ok {
			out = append(out, p)
		}
		stack = append(stack, t.children[pid]...)
	}
	return out
}

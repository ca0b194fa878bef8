package scheduler

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/executor"
)

// TestCapsAreSharedAcrossTemplates: random queues over up to four
// templates, with limits.max_agents and max_instances. Whatever the queue's
// order, the agents created fill the global cap exactly as far as demand
// and the per-template caps allow, and no template that still wants an
// agent has two fewer than another that got one it did not strictly need
// (max-min fairness by count).
func TestCapsAreSharedAcrossTemplates(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	for iter := 0; iter < 400; iter++ {
		nt := 2 + r.IntN(3)
		cfg := Config{FrameworkName: "jenkins-mesos", JenkinsURL: "http://jenkins/", MaxAgents: 1 + r.IntN(12)}
		maxInst := make([]int, nt)
		for k := 0; k < nt; k++ {
			if r.IntN(3) == 0 {
				maxInst[k] = 1 + r.IntN(6)
			}
			cfg.Templates = append(cfg.Templates, Template{Name: fmt.Sprintf("t%d", k), Labels: []string{fmt.Sprintf("l%d", k)},
				CPUs: 0.2, Mem: 30, Executors: 1, MaxInstances: maxInst[k], Container: executor.Container{Image: "jenkins/inbound-agent"}})
		}
		demand := make([]int, nt)
		var items []QueueItem
		for i := 0; i < r.IntN(30); i++ {
			k := r.IntN(nt)
			demand[k]++
			items = append(items, QueueItem{ID: int64(i + 1), Name: fmt.Sprintf("j%d", i), Label: fmt.Sprintf("l%d", k)})
		}
		c := New(cfg, nil, rand.New(rand.NewPCG(uint64(iter), 1)))
		step := stepper(t, c)
		step(Tick{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		step(Subscribed{FrameworkID: "fw-1"})
		step(NodesObserved{})
		rd := step(QueueObserved{Items: items})
		got := make([]int, nt)
		byName := map[string]int{}
		for k, tp := range cfg.Templates {
			byName[tp.Name] = k
		}
		total := 0
		for _, op := range rd.Jenkins {
			if op.Kind == NodeCreate {
				got[byName[op.Template]]++
				total++
			}
		}
		// What each template could take alone, and what all could.
		alone, possible := make([]int, nt), 0
		for k := range alone {
			alone[k] = demand[k]
			if maxInst[k] > 0 {
				alone[k] = min(alone[k], maxInst[k])
			}
			possible += alone[k]
		}
		if want := min(possible, cfg.MaxAgents); total != want {
			t.Fatalf("iter %d: created %v (total %d) for demand %v, max_instances %v, max_agents %d; want %d in all", iter, got, total, demand, maxInst, cfg.MaxAgents, want)
		}
		for a := range got {
			if got[a] >= alone[a] {
				continue // a has all it wants
			}
			for b := range got {
				if got[b] > got[a]+1 {
					t.Fatalf("iter %d: created %v for demand %v, max_instances %v, max_agents %d: template %d waits with %d while %d got %d",
						iter, got, demand, maxInst, cfg.MaxAgents, a, got[a], b, got[b])
				}
			}
		}
	}
}

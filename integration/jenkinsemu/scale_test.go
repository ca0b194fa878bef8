package jenkinsemu

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const queuePollTree = "items[id,why,buildable,blocked,stuck,inQueueSince,task[name,url,labelExpression]]"

// scaleJenkins builds a controller with `agents` connected stand-in agents
// labelled mesos, each running a long build, and `queued` more builds
// waiting in the queue.
func scaleJenkins(tb testing.TB, agents, queued int) *Jenkins {
	tb.Helper()
	j, err := New(Config{Listen: "127.0.0.1:0", TimeScale: 1, QuietPeriod: time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	tb.Cleanup(func() { cancel(); wg.Wait(); j.Close() })
	j.mu.Lock()
	for i := 0; i < agents+queued; i++ {
		name := fmt.Sprintf("job-%05d", i)
		job, err := parseJobConfig(name, freestyle("mesos", "sleep 100000"))
		if err != nil {
			tb.Fatal(err)
		}
		j.jobs[name] = job
		j.enqueueLocked(job, 0)
	}
	for i := 0; i < agents; i++ {
		if _, msg := j.addNodeLocked(NodeSpec{Name: fmt.Sprintf("mesos-%04d", i), Labels: "mesos", NumExecutors: 1, Mode: "EXCLUSIVE"}); msg != "" {
			tb.Fatal(msg)
		}
	}
	j.mu.Unlock()
	for i := 0; i < agents; i++ {
		name := fmt.Sprintf("mesos-%04d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = RunAgent(ctx, AgentOptions{URL: j.URL(), Secret: j.Secret(name), Name: name})
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		j.mu.Lock()
		busy := 0
		for _, n := range j.nodes {
			busy += len(n.slots) - n.idleCount()
		}
		waitingCount := len(j.queue)
		j.mu.Unlock()
		if busy == agents && waitingCount == queued {
			return j
		}
		if time.Now().After(deadline) {
			tb.Fatalf("scale setup: %d busy executors (want %d), %d queued (want %d)", busy, agents, waitingCount, queued)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTenThousandQueuedBuildsAndAThousandAgents(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 agent connections")
	}
	j := scaleJenkins(t, 1000, 10000)
	resp, err := http.Get(j.URL() + "queue/api/json?tree=" + queuePollTree)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(body), `"_class":"hudson.model.Queue$BuildableItem"`); n != 10000 {
		t.Fatalf("queue poll lists %d buildable items, want 10000", n)
	}
	if !strings.Contains(string(body), `"why":"Waiting for next available executor on ‘mesos’"`) {
		t.Fatalf("why with 1,000 busy mesos nodes: %.300s", body)
	}
	cs := getJSONNoAuth(t, j.URL()+"computer/api/json?tree=busyExecutors,totalExecutors")
	if cs["busyExecutors"] != 1000.0 || cs["totalExecutors"] != 1000.0 {
		t.Fatalf("computers: %v", cs)
	}
}

func getJSONNoAuth(t *testing.T, u string) map[string]any {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := jsonDecode(resp.Body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// BenchmarkQueuePoll10k is a full tree= queue poll over HTTP with 10,000
// queued builds while 1,000 agents are connected and busy.
func BenchmarkQueuePoll10k(b *testing.B) {
	j := scaleJenkins(b, 1000, 10000)
	u := j.URL() + "queue/api/json?tree=" + queuePollTree
	client := &http.Client{}
	b.ReportAllocs()
	b.ResetTimer()
	var size int
	for i := 0; i < b.N; i++ {
		resp, err := client.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		size = int(n)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/poll")
	b.ReportMetric(float64(size)/1e6, "MB/poll")
}

// BenchmarkQueueExport10k is the server's part of the poll: building the
// exported model and writing JSON, without HTTP.
func BenchmarkQueueExport10k(b *testing.B) {
	j := scaleJenkins(b, 1000, 10000)
	tree, err := parseTree(queuePollTree)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j.mu.Lock()
		e := exporter{sizeHint: 4096 + 400*len(j.queue)}
		_ = e.top(j.queueBean(), tree, 0)
		j.mu.Unlock()
	}
}

package jenkins

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkQueuePoll10k is one poll of a queue of 10,000 waiting builds
// (freestyle items with their label, Pipeline blocks with theirs in
// `why`) over loopback HTTP, parsed into items with labels.
func BenchmarkQueuePoll10k(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"_class":"hudson.model.Queue","items":[`)
	for i := 0; i < 10000; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		if i%4 == 0 {
			fmt.Fprintf(&sb, `{"_class":"hudson.model.Queue$BuildableItem","blocked":false,"buildable":true,"id":%d,"inQueueSince":1767225600000,"stuck":true,"task":{"_class":"org.jenkinsci.plugins.workflow.support.steps.ExecutorStepExecution$PlaceholderTask"},"why":"There are no nodes with the label ‘mesos&&linux’"}`, i+1)
		} else {
			fmt.Fprintf(&sb, `{"_class":"hudson.model.Queue$BuildableItem","blocked":false,"buildable":true,"id":%d,"inQueueSince":1767225600000,"stuck":false,"task":{"_class":"hudson.model.FreeStyleProject","labelExpression":"mesos","name":"job-%d","url":"http://jenkins:8080/job/job-%d/"},"why":"Waiting for next available executor on ‘mesos’"}`, i+1, i, i)
		}
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c, err := New(Config{URL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		items, err := c.Queue(context.Background())
		if err != nil || len(items) != 10000 {
			b.Fatalf("%d items, %v", len(items), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/item")
}

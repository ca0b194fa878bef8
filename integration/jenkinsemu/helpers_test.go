package jenkinsemu

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// testScale: emulated time 50× faster (the 5 s quiet period is 100 ms).
const testScale = 50

func newTestJenkins(t *testing.T, cfg Config) *Jenkins {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.TimeScale == 0 {
		cfg.TimeScale = testScale
	}
	j, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

type result struct {
	code   int
	header http.Header
	body   string
}

// call makes a request as the admin (API token), without following redirects.
func call(t *testing.T, j *Jenkins, method, path string, body io.Reader, header ...string) result {
	t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(j.URL(), "/")+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if j.cfg.Token != "" {
		req.SetBasicAuth(j.cfg.User, j.cfg.Token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, string(b)}
}

func getJSON(t *testing.T, j *Jenkins, path string) map[string]any {
	t.Helper()
	r := call(t, j, http.MethodGet, path, nil)
	if r.code != 200 {
		t.Fatalf("GET %s: %d %s", path, r.code, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, r.body)
	}
	return m
}

func freestyle(label string, commands ...string) string {
	var b strings.Builder
	b.WriteString("<?xml version='1.1' encoding='UTF-8'?>\n<project><description>test</description><keepDependencies>false</keepDependencies>")
	if label != "" {
		b.WriteString("<assignedNode>" + xmlEscape(label) + "</assignedNode><canRoam>false</canRoam>")
	} else {
		b.WriteString("<canRoam>true</canRoam>")
	}
	b.WriteString("<builders>")
	for _, c := range commands {
		b.WriteString("<hudson.tasks.Shell><command>" + c + "</command></hudson.tasks.Shell>")
	}
	b.WriteString("</builders></project>")
	return b.String()
}

func createJob(t *testing.T, j *Jenkins, name, config string) {
	t.Helper()
	r := call(t, j, http.MethodPost, "/createItem?name="+url.QueryEscape(name), strings.NewReader(config), "Content-Type", "application/xml")
	if r.code != 200 {
		t.Fatalf("createItem %s: %d %s", name, r.code, r.body)
	}
}

func createNode(t *testing.T, j *Jenkins, name, labels string) {
	t.Helper()
	form := `{"name":"` + name + `","nodeDescription":"","numExecutors":"1","remoteFS":"/home/jenkins/agent","labelString":"` + labels + `","mode":"EXCLUSIVE","retentionStrategy":{"stapler-class":"hudson.slaves.RetentionStrategy$Always"},"nodeProperties":{"stapler-class-bag":"true"},"launcher":{"stapler-class":"hudson.slaves.JNLPLauncher","webSocket":true}}`
	q := url.Values{"name": {name}, "type": {"hudson.slaves.DumbSlave"}, "json": {form}}
	r := call(t, j, http.MethodPost, "/computer/doCreateItem?"+q.Encode(), nil)
	if r.code != 302 || r.header.Get("Location") != j.URL()+"computer/" {
		t.Fatalf("doCreateItem %s: %d Location %q %s", name, r.code, r.header.Get("Location"), r.body)
	}
}

// connectedNode creates an inbound node and connects a stand-in agent to
// it for the rest of the test.
func connectedNode(t *testing.T, j *Jenkins, name, labels string) {
	t.Helper()
	createNode(t, j, name, labels)
	startAgent(t, j, name)
}

// startAgent runs the stand-in in-process until the test ends.
func startAgent(t *testing.T, j *Jenkins, name string, opts ...func(*AgentOptions)) chan error {
	t.Helper()
	o := AgentOptions{URL: j.URL(), Secret: j.Secret(name), Name: name, WorkDir: t.TempDir(), WebSocket: true}
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() { done <- RunAgent(ctx, o); close(finished) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(5 * time.Second):
			t.Errorf("agent %s did not stop", name)
		}
	})
	return done
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

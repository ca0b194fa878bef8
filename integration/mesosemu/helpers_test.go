package mesosemu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// testScale runs emulated time 20× faster: a 15 s heartbeat every 0.75 s,
// a 5 s refuse filter for 0.25 s, the 10 s status retry after 0.5 s.
const testScale = 20

func newTestCluster(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	return startCluster(t, cfg, true)
}

// startCluster starts a cluster; with waitLeader it returns once one of its
// masters leads.
func startCluster(t *testing.T, cfg Config, waitLeader bool) *Cluster {
	t.Helper()
	if cfg.TimeScale == 0 {
		cfg.TimeScale = testScale
	}
	if cfg.Agents == 0 {
		cfg.Agents = 2
	}
	cfg.SandboxRoot = t.TempDir()
	c, err := NewCluster(cfg)
	if err != nil {
		t.Fatalf("NewCluster: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if !waitLeader {
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.WaitLeader(ctx); err != nil {
		t.Fatalf("no leader: %v", err)
	}
	return c
}

// httpResult is a finished non-streaming answer.
type httpResult struct {
	code   int
	header http.Header
	body   string
}

func doRequest(t *testing.T, method, url string, header map[string]string, body []byte) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResult{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

func postJSON(t *testing.T, url string, streamID string, v any) httpResult {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]string{"Content-Type": mediaJSON}
	if streamID != "" {
		h["Mesos-Stream-Id"] = streamID
	}
	return doRequest(t, http.MethodPost, url+"/api/v1/scheduler", h, b)
}

// stream is a raw SUBSCRIBE connection, decoded record by record.
type stream struct {
	t        *testing.T
	resp     *http.Response
	streamID string
	fwID     string
	events   chan *scheduler.Event
	closed   chan struct{}
	cancel   context.CancelFunc
	media    string
	backlog  []*scheduler.Event
}

func subscribeRaw(t *testing.T, url string, fi mesos.FrameworkInfo, suppressed ...string) *stream {
	t.Helper()
	call := &scheduler.Call{Type: scheduler.Call_SUBSCRIBE, Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: &fi, SuppressedRoles: suppressed}}
	if fi.ID != nil {
		call.FrameworkID = fi.ID
	}
	return openStream(t, url, call, mediaJSON, mediaJSON)
}

func openStream(t *testing.T, url string, call *scheduler.Call, contentType, accept string) *stream {
	t.Helper()
	var body []byte
	var err error
	if contentType == mediaProtobuf {
		body, err = call.Marshal()
	} else {
		body, err = json.Marshal(call)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/v1/scheduler", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("subscribe: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("subscribe: got %d %s, want 200", resp.StatusCode, b)
	}
	s := &stream{t: t, resp: resp, streamID: resp.Header.Get("Mesos-Stream-Id"), events: make(chan *scheduler.Event, 10000),
		closed: make(chan struct{}), cancel: cancel, media: resp.Header.Get("Content-Type")}
	go s.read()
	t.Cleanup(s.close)
	return s
}

func (s *stream) read() {
	defer close(s.closed)
	defer close(s.events)
	r := bufio.NewReader(s.resp.Body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil {
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		ev := &scheduler.Event{}
		if s.media == mediaProtobuf {
			err = ev.Unmarshal(buf)
		} else {
			err = json.Unmarshal(buf, ev)
		}
		if err != nil {
			return
		}
		if ev.Type == scheduler.Event_SUBSCRIBED {
			s.fwID = ev.Subscribed.FrameworkID.Value
		}
		s.events <- ev
	}
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// take returns the first event (backlog first, then the wire) that
// matches; events that do not match are kept for later calls, so waiting
// for one kind of event never loses another.
func (s *stream) take(what string, match func(*scheduler.Event) bool) *scheduler.Event {
	s.t.Helper()
	for i, ev := range s.backlog {
		if match(ev) {
			s.backlog = append(s.backlog[:i:i], s.backlog[i+1:]...)
			return ev
		}
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				s.t.Fatalf("stream closed while waiting for %s", what)
			}
			if match(ev) {
				return ev
			}
			if ev.Type != scheduler.Event_HEARTBEAT {
				s.backlog = append(s.backlog, ev)
			}
		case <-deadline:
			s.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// next waits for the next event of one of the given types.
func (s *stream) next(types ...scheduler.Event_Type) *scheduler.Event {
	s.t.Helper()
	return s.take(fmt.Sprint(types), func(ev *scheduler.Event) bool {
		for _, ty := range types {
			if ev.Type == ty {
				return true
			}
		}
		return false
	})
}

// quietFor checks that no event of the types arrives while the leader runs
// n allocation cycles. It counts cycles, not wall-clock time, so a loaded
// machine cannot make it pass early; then an explicit reconciliation of a
// task nobody has serves as a barrier: the stream is ordered, so any event
// the cycles produced arrives before its answer.
func (s *stream) quietFor(c *Cluster, url string, n uint64, types ...scheduler.Event_Type) {
	s.t.Helper()
	start := c.AllocationCycles()
	deadline := time.Now().Add(30 * time.Second)
	check := func(ev *scheduler.Event) {
		for _, ty := range types {
			if ev.Type == ty {
				s.t.Fatalf("got unexpected %v event: %v", ev.Type, ev)
			}
		}
		if ev.Type != scheduler.Event_HEARTBEAT {
			s.backlog = append(s.backlog, ev)
		}
	}
	for c.AllocationCycles() < start+n {
		if time.Now().After(deadline) {
			s.t.Fatalf("the allocator ran %d of %d cycles in 30 s", c.AllocationCycles()-start, n)
		}
		select {
		case ev, ok := <-s.events:
			if !ok {
				return
			}
			check(ev)
		case <-time.After(5 * time.Millisecond):
		}
	}
	barrier := fmt.Sprintf("barrier-%d", start)
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{
		Tasks: []scheduler.Call_Reconcile_Task{{TaskID: mesos.TaskID{Value: barrier}}}}})
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return
			}
			if ev.Type == scheduler.Event_UPDATE && ev.Update.Status.TaskID.Value == barrier {
				return
			}
			check(ev)
		case <-time.After(30 * time.Second):
			s.t.Fatalf("no answer to the barrier reconciliation")
		}
	}
}

// waitClosed waits for the server to end the stream.
func (s *stream) waitClosed() {
	s.t.Helper()
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return
			}
		case <-time.After(10 * time.Second):
			s.t.Fatalf("stream not closed")
		}
	}
}

// update waits for the next UPDATE for a task.
func (s *stream) update(taskID string) mesos.TaskStatus {
	s.t.Helper()
	return s.take("an update of "+taskID, func(ev *scheduler.Event) bool {
		return ev.Type == scheduler.Event_UPDATE && ev.Update.Status.TaskID.Value == taskID
	}).Update.Status
}

func (s *stream) call(url string, c *scheduler.Call) httpResult {
	s.t.Helper()
	if c.FrameworkID == nil {
		c.FrameworkID = &mesos.FrameworkID{Value: s.fwID}
	}
	return postJSON(s.t, url, s.streamID, c)
}

func (s *stream) mustCall(url string, c *scheduler.Call) {
	s.t.Helper()
	if r := s.call(url, c); r.code != http.StatusAccepted {
		s.t.Fatalf("%v: got %d %q, want 202", c.Type, r.code, r.body)
	}
}

func (s *stream) ack(url string, st mesos.TaskStatus) {
	s.t.Helper()
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE, Acknowledge: &scheduler.Call_Acknowledge{AgentID: *st.AgentID, TaskID: st.TaskID, UUID: st.UUID}})
}

func frameworkInfo(name string, caps ...mesos.FrameworkInfo_Capability_Type) mesos.FrameworkInfo {
	fi := mesos.FrameworkInfo{User: "jenkins", Name: name}
	for _, c := range caps {
		fi.Capabilities = append(fi.Capabilities, mesos.FrameworkInfo_Capability{Type: c})
	}
	return fi
}

func multiRole(name string, roles []string, caps ...mesos.FrameworkInfo_Capability_Type) mesos.FrameworkInfo {
	fi := frameworkInfo(name, append(caps, mesos.FrameworkInfo_Capability_MULTI_ROLE)...)
	fi.Roles = roles
	return fi
}

func scalar(rs []mesos.Resource, name string) float64 {
	total := 0.0
	for _, r := range rs {
		if r.Name == name && r.Scalar != nil {
			total += r.Scalar.Value
		}
	}
	return total
}

// commandTask builds a shell command task on an offer's agent.
func commandTask(id string, o mesos.Offer, cpus, mem float64, shell string) mesos.TaskInfo {
	return mesos.TaskInfo{
		Name:    id,
		TaskID:  mesos.TaskID{Value: id},
		AgentID: o.AgentID,
		Resources: []mesos.Resource{
			{Name: "cpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: cpus}},
			{Name: "mem", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: mem}},
		},
		Command: &mesos.CommandInfo{Value: &shell},
	}
}

func launch(offerIDs []mesos.OfferID, refuse *float64, tasks ...mesos.TaskInfo) *scheduler.Call {
	c := &scheduler.Call{Type: scheduler.Call_ACCEPT, Accept: &scheduler.Call_Accept{
		OfferIDs:   offerIDs,
		Operations: []mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH, Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}}},
	}}
	if refuse != nil {
		c.Accept.Filters = &mesos.Filters{RefuseSeconds: refuse}
	}
	return c
}

func f64(v float64) *float64 { return &v }

func describe(st mesos.TaskStatus) string {
	return fmt.Sprintf("%v source=%v reason=%v msg=%q uuid=%d bytes", st.GetState(), st.GetSource(), st.GetReason(), st.GetMessage(), len(st.UUID))
}

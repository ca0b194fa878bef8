package mesosemu

import (
	"net/http"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

func TestSchedulerEndpointRejectsBadRequestsLikeMesos(t *testing.T) {
	c := newTestCluster(t, Config{})
	url := c.Leader()
	api := url + "/api/v1/scheduler"
	sub := `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`
	cases := []struct {
		name     string
		method   string
		header   map[string]string
		body     string
		wantCode int
		wantBody string
	}{
		{"GET is not allowed", http.MethodGet, nil, "", 405, "Expecting one of { 'POST' }, but received 'GET'"},
		{"missing content type", http.MethodPost, nil, sub, 400, "Expecting 'Content-Type' to be present"},
		{"content type is compared exactly", http.MethodPost, map[string]string{"Content-Type": "application/json; charset=utf-8"}, sub, 415, "Expecting 'Content-Type' of application/json or application/x-protobuf"},
		{"text is unsupported", http.MethodPost, map[string]string{"Content-Type": "text/plain"}, sub, 415, ""},
		{"broken JSON", http.MethodPost, map[string]string{"Content-Type": mediaJSON}, `{"type":`, 400, "Failed to parse body into JSON"},
		{"missing required fields are named", http.MethodPost, map[string]string{"Content-Type": mediaJSON}, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{}}}`, 400,
			"Failed to convert JSON into Call protobuf: Missing required fields: subscribe.framework_info.user, subscribe.framework_info.name"},
		{"broken protobuf", http.MethodPost, map[string]string{"Content-Type": mediaProtobuf}, "\xff\xff\xff", 400, "Failed to parse body into Call protobuf"},
		{"no type", http.MethodPost, map[string]string{"Content-Type": mediaJSON}, `{"framework_id":{"value":"x"}}`, 400, "Failed to validate scheduler::Call: Expecting 'type' to be present"},
		{"subscribe without subscribe", http.MethodPost, map[string]string{"Content-Type": mediaJSON}, `{"type":"SUBSCRIBE"}`, 400, "Failed to validate scheduler::Call: Expecting 'subscribe' to be present"},
		{"framework id differs", http.MethodPost, map[string]string{"Content-Type": mediaJSON},
			`{"type":"SUBSCRIBE","framework_id":{"value":"a"},"subscribe":{"framework_info":{"user":"u","name":"n","id":{"value":"b"}}}}`, 400,
			"Failed to validate scheduler::Call: 'framework_id' differs from 'subscribe.framework_info.id'"},
		{"subscribe must not carry a stream id", http.MethodPost, map[string]string{"Content-Type": mediaJSON, "Mesos-Stream-Id": "x"}, sub, 400,
			"Subscribe calls should not include the 'Mesos-Stream-Id' header"},
		{"unacceptable accept", http.MethodPost, map[string]string{"Content-Type": mediaJSON, "Accept": "text/html"}, sub, 406, ""},
		{"calls need a framework id", http.MethodPost, map[string]string{"Content-Type": mediaJSON}, `{"type":"REVIVE"}`, 400,
			"Failed to validate scheduler::Call: Expecting 'framework_id' to be present"},
		{"accept needs its body", http.MethodPost, map[string]string{"Content-Type": mediaJSON}, `{"type":"ACCEPT","framework_id":{"value":"x"}}`, 400,
			"Failed to validate scheduler::Call: Expecting 'accept' to be present"},
		{"unknown framework", http.MethodPost, map[string]string{"Content-Type": mediaJSON}, `{"type":"REVIVE","framework_id":{"value":"nope"}}`, 400, "Framework cannot be found"},
		{"unknown fields are ignored and null is unset", http.MethodPost, map[string]string{"Content-Type": mediaJSON}, `{"type":"REVIVE","framework_id":{"value":"nope"},"bogus":1,"revive":null}`, 400, "Framework cannot be found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := doRequest(t, tc.method, api, tc.header, []byte(tc.body))
			if r.code != tc.wantCode {
				t.Fatalf("got %d %q, want %d", r.code, r.body, tc.wantCode)
			}
			if tc.wantBody != "" && !strings.Contains(r.body, tc.wantBody) {
				t.Fatalf("body %q does not contain %q", r.body, tc.wantBody)
			}
			if tc.wantCode == 405 && r.header.Get("Allow") != "POST" {
				t.Fatalf("Allow = %q, want POST", r.header.Get("Allow"))
			}
			if tc.wantCode >= 400 && tc.wantCode != 501 && !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
				t.Fatalf("error Content-Type = %q, want text/plain", r.header.Get("Content-Type"))
			}
		})
	}
}

func TestSubscribeStreamsRecordIOWithSubscribedThenHeartbeats(t *testing.T) {
	c := newTestCluster(t, Config{Heartbeat: 15 * time.Second})
	s := subscribeRaw(t, c.Leader(), frameworkInfo("fw"))
	if s.media != mediaJSON {
		t.Fatalf("Content-Type = %q, want exactly %q", s.media, mediaJSON)
	}
	if s.resp.ContentLength != -1 || len(s.resp.TransferEncoding) == 0 || s.resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("want a chunked stream without Content-Length, got length %d encoding %v", s.resp.ContentLength, s.resp.TransferEncoding)
	}
	if len(s.streamID) != 36 {
		t.Fatalf("Mesos-Stream-Id = %q, want a UUID", s.streamID)
	}
	ev := <-s.events
	if ev.Type != scheduler.Event_SUBSCRIBED {
		t.Fatalf("first event %v, want SUBSCRIBED", ev.Type)
	}
	if got := ev.Subscribed.GetHeartbeatIntervalSeconds(); got != 15 {
		t.Fatalf("heartbeat_interval_seconds = %v, want 15", got)
	}
	mi := ev.Subscribed.MasterInfo
	if mi == nil || !strings.HasSuffix(s.fwID, "-0000") || !strings.HasPrefix(s.fwID, mi.ID+"-") {
		t.Fatalf("framework id %q should be <master id>-0000 (master %v)", s.fwID, mi)
	}
	if ev := <-s.events; ev.Type != scheduler.Event_HEARTBEAT {
		t.Fatalf("second event %v, want an immediate HEARTBEAT", ev.Type)
	}
	// The next heartbeats come one interval (15 s of emulated time) apart.
	s.next(scheduler.Event_HEARTBEAT)
	start := c.Clock().Now()
	s.next(scheduler.Event_HEARTBEAT)
	// The upper bound only catches a stalled timer: delivery delays count
	// twenty-fold in emulated time.
	if el := c.Clock().Now().Sub(start); el < 14*time.Second || el > 60*time.Second {
		t.Fatalf("heartbeats %v of emulated time apart, want 15 s", el)
	}
}

func TestSubscribeNegotiatesProtobuf(t *testing.T) {
	c := newTestCluster(t, Config{})
	fi := frameworkInfo("pb")
	call := &scheduler.Call{Type: scheduler.Call_SUBSCRIBE, Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: &fi}}
	s := openStream(t, c.Leader(), call, mediaProtobuf, mediaProtobuf)
	if s.media != mediaProtobuf {
		t.Fatalf("Content-Type = %q, want %q", s.media, mediaProtobuf)
	}
	s.next(scheduler.Event_SUBSCRIBED)
	s.next(scheduler.Event_OFFERS)
	// JSON wins when both are acceptable.
	fi2 := frameworkInfo("both")
	call2 := &scheduler.Call{Type: scheduler.Call_SUBSCRIBE, Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: &fi2}}
	s2 := openStream(t, c.Leader(), call2, mediaProtobuf, "application/x-protobuf, application/json")
	if s2.media != mediaJSON {
		t.Fatalf("Content-Type = %q, want JSON when both are acceptable", s2.media)
	}
}

func TestNonSubscribeCallsCheckStreamAndSubscription(t *testing.T) {
	c := newTestCluster(t, Config{})
	url := c.Leader()
	keep := frameworkInfo("fw")
	keep.FailoverTimeout = f64(3600)
	s := subscribeRaw(t, url, keep)
	s.next(scheduler.Event_SUBSCRIBED)
	fid := &mesos.FrameworkID{Value: s.fwID}

	r := postJSON(t, url, "", &scheduler.Call{Type: scheduler.Call_REVIVE, FrameworkID: fid})
	if r.code != 400 || r.body != "All non-subscribe calls should include the 'Mesos-Stream-Id' header" {
		t.Fatalf("no stream id: got %d %q", r.code, r.body)
	}
	r = postJSON(t, url, "wrong", &scheduler.Call{Type: scheduler.Call_REVIVE, FrameworkID: fid})
	if r.code != 400 || !strings.HasPrefix(r.body, "The stream ID 'wrong' included in this request didn't match") {
		t.Fatalf("wrong stream id: got %d %q", r.code, r.body)
	}
	r = s.call(url, &scheduler.Call{Type: scheduler.Call_REVIVE})
	if r.code != 202 || r.body != "" {
		t.Fatalf("REVIVE: got %d %q, want 202 with an empty body", r.code, r.body)
	}
	r = s.call(url, &scheduler.Call{Type: scheduler.Call_UNKNOWN})
	if r.code != 501 {
		t.Fatalf("UNKNOWN: got %d, want 501", r.code)
	}
	for _, call := range []*scheduler.Call{
		{Type: scheduler.Call_REQUEST, Request: &scheduler.Call_Request{}},
		{Type: scheduler.Call_MESSAGE, Message: &scheduler.Call_Message{AgentID: mesos.AgentID{Value: "a"}, ExecutorID: mesos.ExecutorID{Value: "e"}, Data: []byte("x")}},
		{Type: scheduler.Call_SHUTDOWN, Shutdown: &scheduler.Call_Shutdown{ExecutorID: mesos.ExecutorID{Value: "e"}, AgentID: mesos.AgentID{Value: "a"}}},
		{Type: scheduler.Call_DECLINE_INVERSE_OFFERS, DeclineInverseOffers: &scheduler.Call_DeclineInverseOffers{}},
		{Type: scheduler.Call_SUPPRESS},
		{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{}},
	} {
		if r := s.call(url, call); r.code != 202 {
			t.Fatalf("%v: got %d %q, want 202", call.Type, r.code, r.body)
		}
	}
	r = s.call(url, &scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE, Acknowledge: &scheduler.Call_Acknowledge{AgentID: mesos.AgentID{Value: "a"}, TaskID: mesos.TaskID{Value: "t"}, UUID: []byte("short")}})
	if r.code != 400 || !strings.HasPrefix(r.body, "Failed to validate scheduler::Call: ") {
		t.Fatalf("bad ACK uuid: got %d %q, want 400", r.code, r.body)
	}
	r = s.call(url, &scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS, AcknowledgeOperationStatus: &scheduler.Call_AcknowledgeOperationStatus{UUID: newUUID(), OperationID: mesos.OperationID{Value: "o"}}})
	if r.code != 400 || !strings.Contains(r.body, "Expecting 'agent_id' to be present") {
		t.Fatalf("ACK operation without agent: got %d %q", r.code, r.body)
	}
	// UPDATE_FRAMEWORK answers 200 with an empty body and no Content-Type.
	fi := keep
	fi.ID = fid
	r = s.call(url, &scheduler.Call{Type: scheduler.Call_UPDATE_FRAMEWORK, UpdateFramework: &scheduler.Call_UpdateFramework{FrameworkInfo: fi}})
	if r.code != 200 || r.body != "" || r.header.Get("Content-Type") != "" {
		t.Fatalf("UPDATE_FRAMEWORK: got %d %q Content-Type %q, want 200, empty, none", r.code, r.body, r.header.Get("Content-Type"))
	}
	fi.User = "root"
	r = s.call(url, &scheduler.Call{Type: scheduler.Call_UPDATE_FRAMEWORK, UpdateFramework: &scheduler.Call_UpdateFramework{FrameworkInfo: fi}})
	if r.code != 400 || !strings.Contains(r.body, "Updating 'FrameworkInfo.user' is unsupported") {
		t.Fatalf("UPDATE_FRAMEWORK changing user: got %d %q", r.code, r.body)
	}

	// After the stream is gone (failover timeout not expired), calls get 403.
	s.close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r = postJSON(t, url, s.streamID, &scheduler.Call{Type: scheduler.Call_REVIVE, FrameworkID: fid})
		if r.code == 403 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.code != 403 || r.body != "Framework is not subscribed" {
		t.Fatalf("after disconnect: got %d %q, want 403", r.code, r.body)
	}
}

func TestRefusedSubscriptionIs200WithErrorThenClose(t *testing.T) {
	c := newTestCluster(t, Config{})
	fi := frameworkInfo("bad")
	fi.Roles = []string{"jenkins"} // roles without MULTI_ROLE
	s := subscribeRaw(t, c.Leader(), fi)
	ev := <-s.events
	if ev == nil || ev.Type != scheduler.Event_ERROR || ev.Error.Message != "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable" {
		t.Fatalf("got %v, want ERROR about roles", ev)
	}
	s.waitClosed()

	ft := -1.0
	fi2 := frameworkInfo("bad2")
	fi2.FailoverTimeout = &ft
	s2 := subscribeRaw(t, c.Leader(), fi2)
	if ev := <-s2.events; ev == nil || ev.Type != scheduler.Event_ERROR || !strings.Contains(ev.Error.Message, "failover_timeout") {
		t.Fatalf("got %v, want ERROR about failover_timeout", ev)
	}
	fi3 := multiRole("bad3", []string{"a"})
	s3 := subscribeRaw(t, c.Leader(), fi3, "b")
	if ev := <-s3.events; ev == nil || ev.Type != scheduler.Event_ERROR || !strings.Contains(ev.Error.Message, "are not contained in the set of roles") {
		t.Fatalf("got %v, want ERROR about suppressed roles", ev)
	}
}

func TestSecondSubscriberTakesOverAndOldStreamGetsFailedOver(t *testing.T) {
	c := newTestCluster(t, Config{})
	url := c.Leader()
	ft := 3600.0
	fi := frameworkInfo("fw")
	fi.FailoverTimeout = &ft
	first := subscribeRaw(t, url, fi)
	first.next(scheduler.Event_SUBSCRIBED)
	offer := first.next(scheduler.Event_OFFERS).Offers.Offers[0]

	fi.ID = &mesos.FrameworkID{Value: first.fwID}
	second := subscribeRaw(t, url, fi)
	if ev := second.next(scheduler.Event_SUBSCRIBED); ev.Subscribed.FrameworkID.Value != first.fwID {
		t.Fatalf("re-subscribe got id %s, want %s", ev.Subscribed.FrameworkID.Value, first.fwID)
	}
	ev := first.next(scheduler.Event_ERROR, scheduler.Event_RESCIND)
	if ev.Type != scheduler.Event_ERROR || ev.Error.Message != "Framework failed over" {
		t.Fatalf("old stream got %v, want ERROR \"Framework failed over\" (offers are discarded, not rescinded)", ev)
	}
	first.waitClosed()
	// The old stream's ID is no longer valid; the new one is.
	r := postJSON(t, url, first.streamID, &scheduler.Call{Type: scheduler.Call_REVIVE, FrameworkID: fi.ID})
	if r.code != 400 {
		t.Fatalf("old stream id: got %d, want 400", r.code)
	}
	// The discarded offer is invalid now; fresh ones come.
	second.next(scheduler.Event_OFFERS)
	second.mustCall(url, launch([]mesos.OfferID{offer.ID}, nil, commandTask("t1", offer, 0.1, 16, "true")))
	st := second.update("t1")
	if st.GetState() != mesos.TASK_LOST || st.GetReason() != mesos.REASON_INVALID_OFFERS || len(st.UUID) != 0 {
		t.Fatalf("launch on a discarded offer: %s, want TASK_LOST/REASON_INVALID_OFFERS without uuid", describe(st))
	}
}

func TestUnknownFrameworkIDIsAcceptedAsIs(t *testing.T) {
	c := newTestCluster(t, Config{})
	fi := frameworkInfo("chosen-id")
	fi.ID = &mesos.FrameworkID{Value: "my-own-uuid"}
	s := subscribeRaw(t, c.Leader(), fi)
	if ev := s.next(scheduler.Event_SUBSCRIBED); ev.Subscribed.FrameworkID.Value != "my-own-uuid" {
		t.Fatalf("got id %s, want the scheduler-chosen my-own-uuid", ev.Subscribed.FrameworkID.Value)
	}
}

func TestFailoverTimeoutExpiryKillsTasksAndRemovesFramework(t *testing.T) {
	c := newTestCluster(t, Config{})
	url := c.Leader()
	ft := 2.0 // emulated seconds: 100 ms real
	fi := frameworkInfo("fw")
	fi.FailoverTimeout = &ft
	s := subscribeRaw(t, url, fi)
	s.next(scheduler.Event_SUBSCRIBED)
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, commandTask("sleeper", o, 0.5, 32, "sleep 1000")))
	for st := s.update("sleeper"); st.GetState() != mesos.TASK_RUNNING; st = s.update("sleeper") {
		s.ack(url, st)
	}
	fid := s.fwID
	s.close()
	waitFor(t, "framework removal to kill the task", func() bool {
		_, ok := c.TaskState(fid, "sleeper")
		return !ok
	})
	fi.ID = &mesos.FrameworkID{Value: fid}
	s2 := subscribeRaw(t, url, fi)
	ev := s2.next(scheduler.Event_ERROR)
	if ev.Error.Message != "Framework has been removed" {
		t.Fatalf("got ERROR %q, want \"Framework has been removed\"", ev.Error.Message)
	}
	s2.waitClosed()
}

func TestTeardownRemovesFramework(t *testing.T) {
	c := newTestCluster(t, Config{})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	s.next(scheduler.Event_SUBSCRIBED)
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_TEARDOWN})
	s.waitClosed()
	fi := frameworkInfo("fw")
	fi.ID = &mesos.FrameworkID{Value: s.fwID}
	s2 := subscribeRaw(t, url, fi)
	if ev := s2.next(scheduler.Event_ERROR); ev.Error.Message != "Framework has been removed" {
		t.Fatalf("got %q after TEARDOWN, want \"Framework has been removed\"", ev.Error.Message)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

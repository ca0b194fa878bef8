package mesosemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/mesos/mesos-go/api/v1/lib/allocator"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// maxCallBody bounds a request body; Mesos has no documented limit, but an
// emulator that reads without bound is a memory hazard.
const maxCallBody = 64 << 20

// writeError answers like libprocess: a plain-text body, no trailing newline.
func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

// redirect answers a request that reached a non-leading master: 307 to the
// leader with a protocol-relative Location, or 503 when there is none.
func (m *Master) redirect(w http.ResponseWriter, r *http.Request, leaderPath string) {
	m.c.mu.Lock()
	li := m.c.leaderInfo
	m.c.mu.Unlock()
	if li == nil {
		writeError(w, http.StatusServiceUnavailable, "No leader elected")
		return
	}
	host := li.GetHostname()
	if host == "" && li.Address != nil {
		host = li.Address.GetIP()
	}
	loc := "//" + host + ":" + strconv.Itoa(int(li.GetPort())) + leaderPath
	if leaderPath != "" && r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery // the redirect keeps the query (http::TemporaryRedirect of the full URL)
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusTemporaryRedirect)
}

func (m *Master) isElected() bool {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	return m.elected && m.running
}

// handleScheduler is POST /api/v1/scheduler, checked in the order
// Master::Http::scheduler checks.
func (m *Master) handleScheduler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Expecting one of { 'POST' }, but received '%s'", r.Method))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCallBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Failed to read request body: "+err.Error())
		return
	}
	cts, hasCT := r.Header["Content-Type"]
	if !hasCT || len(cts) == 0 {
		writeError(w, http.StatusBadRequest, "Expecting 'Content-Type' to be present")
		return
	}
	var call scheduler.Call
	switch cts[0] {
	case mediaProtobuf:
		if err := call.Unmarshal(body); err != nil {
			writeError(w, http.StatusBadRequest, "Failed to parse body into Call protobuf")
			return
		}
	case mediaJSON:
		if status, msg := decodeJSONCall(body, &call); status != 0 {
			writeError(w, status, msg)
			return
		}
	default:
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Expecting 'Content-Type' of %s or %s", mediaJSON, mediaProtobuf))
		return
	}
	if msg := validateCall(&call); msg != "" {
		writeError(w, http.StatusBadRequest, "Failed to validate scheduler::Call: "+msg)
		return
	}
	if call.Type == scheduler.Call_SUBSCRIBE {
		media, ok := negotiate(r.Header.Get("Accept"))
		if !ok {
			writeError(w, http.StatusNotAcceptable, notAcceptable)
			return
		}
		if _, has := r.Header["Mesos-Stream-Id"]; has {
			writeError(w, http.StatusBadRequest, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
			return
		}
		m.serveSubscribe(w, r, &call, media)
		return
	}

	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	if !m.elected {
		writeError(w, http.StatusServiceUnavailable, "No leader elected")
		return
	}
	fw := m.frameworks[call.FrameworkID.GetValue()]
	if fw == nil {
		writeError(w, http.StatusBadRequest, "Framework cannot be found")
		return
	}
	if !fw.connected() {
		writeError(w, http.StatusForbidden, "Framework is not subscribed")
		return
	}
	ids, has := r.Header["Mesos-Stream-Id"]
	if !has || len(ids) == 0 {
		writeError(w, http.StatusBadRequest, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
		return
	}
	if ids[0] != fw.sub.streamID {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("The stream ID '%s' included in this request didn't match the stream ID currently associated with framework ID %s", ids[0], fw.id))
		return
	}
	switch call.Type {
	case scheduler.Call_TEARDOWN:
		m.removeFrameworkLocked(fw)
	case scheduler.Call_ACCEPT:
		m.acceptLocked(fw, call.Accept)
	case scheduler.Call_DECLINE:
		m.declineLocked(fw, call.Decline.OfferIDs, call.Decline.Filters)
	case scheduler.Call_ACCEPT_INVERSE_OFFERS:
		m.respondInverseLocked(fw, call.AcceptInverseOffers.InverseOfferIDs, call.AcceptInverseOffers.Filters, allocator.InverseOfferStatus_ACCEPT)
	case scheduler.Call_DECLINE_INVERSE_OFFERS:
		m.respondInverseLocked(fw, call.DeclineInverseOffers.InverseOfferIDs, call.DeclineInverseOffers.Filters, allocator.InverseOfferStatus_DECLINE)
	case scheduler.Call_REVIVE:
		m.reviveLocked(fw, call.Revive.GetRoles())
	case scheduler.Call_SUPPRESS:
		m.suppressLocked(fw, call.Suppress.GetRoles())
	case scheduler.Call_KILL:
		m.killLocked(fw, call.Kill)
	case scheduler.Call_SHUTDOWN:
		// Only custom executors can be shut down; the emulator runs none.
	case scheduler.Call_ACKNOWLEDGE:
		m.acknowledgeLocked(fw, call.Acknowledge)
	case scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS:
		// No operation carries an ID in the emulator: nothing to forward.
	case scheduler.Call_RECONCILE:
		m.reconcileLocked(fw, call.Reconcile.Tasks)
	case scheduler.Call_RECONCILE_OPERATIONS:
		if _, ok := negotiate(r.Header.Get("Accept")); !ok {
			writeError(w, http.StatusNotAcceptable, notAcceptable)
			return
		}
		m.reconcileOperationsLocked(fw, call.ReconcileOperations)
	case scheduler.Call_MESSAGE, scheduler.Call_REQUEST:
		// MESSAGE is best effort to an executor (the emulator has no custom
		// executors); REQUEST is ignored by the hierarchical allocator.
	case scheduler.Call_UPDATE_FRAMEWORK:
		code, msg := m.updateFrameworkLocked(fw, call.UpdateFramework)
		if code != http.StatusOK {
			writeError(w, code, msg)
			return
		}
		// libprocess OK(): empty body and no Content-Type.
		w.Header()["Content-Type"] = nil
		w.WriteHeader(http.StatusOK)
		return
	default:
		w.WriteHeader(http.StatusNotImplemented)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// decodeJSONCall converts a JSON body the way stout does: unknown fields are
// ignored, null means unset, missing required fields are an error.
func decodeJSONCall(body []byte, call *scheduler.Call) (int, string) {
	var generic any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return http.StatusBadRequest, "Failed to parse body into JSON: " + err.Error()
	}
	if _, ok := generic.(map[string]any); !ok {
		return http.StatusBadRequest, "Failed to convert JSON into Call protobuf: Expecting a JSON object"
	}
	if missing := missingRequired(generic, reflect.TypeOf(scheduler.Call{})); len(missing) > 0 {
		return http.StatusBadRequest, "Failed to convert JSON into Call protobuf: Missing required fields: " + strings.Join(missing, ", ")
	}
	if err := json.Unmarshal(body, call); err != nil {
		return http.StatusBadRequest, "Failed to convert JSON into Call protobuf: " + err.Error()
	}
	if _, ok := generic.(map[string]any)["type"]; !ok {
		// Call.type is optional in the proto, so a missing one is only
		// caught by the validator.
		return http.StatusBadRequest, "Failed to validate scheduler::Call: Expecting 'type' to be present"
	}
	return 0, ""
}

// validateCall is validation::scheduler::call::validate.
func validateCall(call *scheduler.Call) string {
	if call.Type == scheduler.Call_SUBSCRIBE {
		if call.Subscribe == nil {
			return "Expecting 'subscribe' to be present"
		}
		if call.Subscribe.FrameworkInfo == nil {
			return "Not initialized: subscribe.framework_info"
		}
		infoID := ""
		if call.Subscribe.FrameworkInfo.ID != nil {
			infoID = call.Subscribe.FrameworkInfo.ID.Value
		}
		if infoID != call.FrameworkID.GetValue() || (call.FrameworkID == nil) != (call.Subscribe.FrameworkInfo.ID == nil) {
			return "'framework_id' differs from 'subscribe.framework_info.id'"
		}
		return ""
	}
	if call.FrameworkID == nil {
		return "Expecting 'framework_id' to be present"
	}
	need := func(present bool, name string) string {
		if !present {
			return "Expecting '" + name + "' to be present"
		}
		return ""
	}
	switch call.Type {
	case scheduler.Call_ACCEPT:
		return need(call.Accept != nil, "accept")
	case scheduler.Call_DECLINE:
		return need(call.Decline != nil, "decline")
	case scheduler.Call_ACCEPT_INVERSE_OFFERS:
		return need(call.AcceptInverseOffers != nil, "accept_inverse_offers")
	case scheduler.Call_DECLINE_INVERSE_OFFERS:
		return need(call.DeclineInverseOffers != nil, "decline_inverse_offers")
	case scheduler.Call_KILL:
		return need(call.Kill != nil, "kill")
	case scheduler.Call_SHUTDOWN:
		return need(call.Shutdown != nil, "shutdown")
	case scheduler.Call_ACKNOWLEDGE:
		if call.Acknowledge == nil {
			return "Expecting 'acknowledge' to be present"
		}
		if !validUUID(call.Acknowledge.UUID) {
			return "Not a valid UUID"
		}
	case scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS:
		a := call.AcknowledgeOperationStatus
		if a == nil {
			return "Expecting 'acknowledge_operation_status' to be present"
		}
		if !validUUID(a.UUID) {
			return "Not a valid UUID"
		}
		if a.AgentID == nil {
			return "Expecting 'agent_id' to be present"
		}
	case scheduler.Call_RECONCILE:
		return need(call.Reconcile != nil, "reconcile")
	case scheduler.Call_RECONCILE_OPERATIONS:
		return need(call.ReconcileOperations != nil, "reconcile_operations")
	case scheduler.Call_MESSAGE:
		return need(call.Message != nil, "message")
	case scheduler.Call_REQUEST:
		return need(call.Request != nil, "request")
	case scheduler.Call_UPDATE_FRAMEWORK:
		return need(call.UpdateFramework != nil, "update_framework")
	}
	return ""
}

var notAcceptable = fmt.Sprintf("Expecting 'Accept' to allow '%s' or '%s'", mediaProtobuf, mediaJSON)

// negotiate picks the response media type from an Accept header: JSON when
// acceptable (or no header), else protobuf, else nothing.
func negotiate(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON, true
	}
	accepts := func(want string) bool {
		typ, _, _ := strings.Cut(want, "/")
		for _, part := range strings.Split(accept, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f <= 0 {
					continue
				}
			}
			if mt == want || mt == "*/*" || mt == typ+"/*" {
				return true
			}
		}
		return false
	}
	if accepts(mediaJSON) {
		return mediaJSON, true
	}
	if accepts(mediaProtobuf) {
		return mediaProtobuf, true
	}
	return "", false
}

func (m *Master) serveSubscribe(w http.ResponseWriter, r *http.Request, call *scheduler.Call, media string) {
	sub := newSubscription(media)
	m.c.mu.Lock()
	if !m.elected {
		m.c.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "No leader elected")
		return
	}
	fw := m.subscribeLocked(sub, call.Subscribe)
	m.c.mu.Unlock()

	w.Header().Set("Content-Type", media)
	w.Header().Set("Mesos-Stream-Id", sub.streamID)
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	hb, _ := encodeEvent(media, &scheduler.Event{Type: scheduler.Event_HEARTBEAT})
	ticker := m.c.clock.NewTicker(m.c.cfg.Heartbeat)
	defer ticker.Stop()
	sub.pump(w, r, func() []byte { return hb }, ticker.C)
	if fw != nil {
		m.c.mu.Lock()
		m.exitedLocked(fw, sub)
		m.c.mu.Unlock()
	}
}

// validUUID is stout's UUID::fromBytes: 16 bytes whose version nibble is
// one boost knows (1 to 5); anything else is "Not a valid UUID".
func validUUID(b []byte) bool {
	if len(b) != 16 {
		return false
	}
	v := b[6] >> 4
	return v >= 1 && v <= 5
}

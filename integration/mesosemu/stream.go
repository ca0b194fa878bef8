package mesosemu

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

const (
	mediaJSON     = "application/json"
	mediaProtobuf = "application/x-protobuf"
)

// subscription is one SUBSCRIBE connection: a RecordIO stream of events
// written by the HTTP handler goroutine that owns the connection. Events are
// encoded when queued, so the stream sees them in the order the master
// decided them.
type subscription struct {
	streamID  string
	mediaType string

	mu      sync.Mutex
	frames  [][]byte
	closing bool // no more frames; finish writing and end the stream
	stalled bool // a fault: the connection stays open but nothing more arrives
	notify  chan struct{}
}

func newSubscription(mediaType string) *subscription {
	return &subscription{streamID: uuidString(newUUID()), mediaType: mediaType, notify: make(chan struct{}, 1)}
}

func encodeEvent(mediaType string, ev *scheduler.Event) ([]byte, error) {
	if mediaType == mediaProtobuf {
		return ev.Marshal()
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	return stripNulls(b), nil
}

// send queues an event. It never blocks: the master must not wait on a slow
// scheduler (real Mesos buffers in libprocess too).
func (s *subscription) send(ev *scheduler.Event) {
	b, err := encodeEvent(s.mediaType, ev)
	if err != nil {
		return
	}
	s.mu.Lock()
	if !s.closing && !s.stalled {
		s.frames = append(s.frames, b)
	}
	s.mu.Unlock()
	s.wake()
}

// close ends the stream; with a message, an ERROR event goes out first.
func (s *subscription) close(errorMessage string) {
	if errorMessage != "" {
		s.send(&scheduler.Event{Type: scheduler.Event_ERROR, Error: &scheduler.Event_Error{Message: errorMessage}})
	}
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.wake()
}

func (s *subscription) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *subscription) take() ([][]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.frames
	s.frames = nil
	return f, s.closing
}

// pump writes the stream until it is closed by the master or the client
// goes away. It returns true when the client went away (or a write failed).
func (s *subscription) pump(w http.ResponseWriter, r *http.Request, heartbeat func() []byte, heartbeatEvery <-chan time.Time) bool {
	flusher, _ := w.(http.Flusher)
	// Each record is its own HTTP chunk, as libprocess sends every write
	// to a streaming response's pipe (the master writes one RecordIO
	// record per event): some clients read one record per chunk.
	write := func(frames [][]byte) bool {
		for _, f := range frames {
			rec := make([]byte, 0, len(f)+8)
			rec = append(strconv.AppendInt(rec, int64(len(f)), 10), '\n')
			if _, err := w.Write(append(rec, f...)); err != nil {
				return false
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		return true
	}
	for {
		frames, closing := s.take()
		if len(frames) > 0 && !write(frames) {
			return true
		}
		if closing {
			return false
		}
		select {
		case <-r.Context().Done():
			return true
		case <-s.notify:
		case <-heartbeatEvery:
			s.mu.Lock()
			stalled := s.stalled
			s.mu.Unlock()
			if stalled {
				continue
			}
			if !write([][]byte{heartbeat()}) {
				return true
			}
		}
	}
}

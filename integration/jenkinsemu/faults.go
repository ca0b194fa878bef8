package jenkinsemu

import (
	"net/http"
	"strconv"
	"time"
)

// Unavailable makes the controller answer 503 for the emulated duration d,
// as Jenkins does while starting or restarting ("Jenkins is getting ready
// to work").
func (j *Jenkins) Unavailable(d time.Duration) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.unavailableUntil = time.Now().Add(j.clock.Real(d))
}

// Slow delays every answer by the emulated duration d (0 ends it).
func (j *Jenkins) Slow(d time.Duration) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.slow = d
}

// Restart emulates a Jenkins restart: agents are disconnected (they
// reconnect by themselves), running builds are aborted, the session ID
// changes; nodes, jobs, build history and the queue stay.
// While restarting (the emulated duration d) every request gets 503.
func (j *Jenkins) Restart(d time.Duration) {
	j.mu.Lock()
	j.restarting = true
	j.unavailableUntil = time.Now().Add(j.clock.Real(d))
	for _, n := range append([]*Node{j.builtin}, j.sortedNodes()...) {
		j.abortAllLocked(n, "ABORTED")
		if n.conn != nil {
			n.conn.close()
			n.conn = nil
		}
	}
	// The queue survives (Jenkins saves it on the way down and loads it
	// back, Queue.save/Queue.load): waiting, blocked and buildable items
	// keep their ids. A Pipeline block's placeholder dies with its run.
	kept := j.queue[:0]
	for _, it := range j.queue {
		if it.placeholder && it.run != nil {
			j.finishBuildLocked(it.run, "ABORTED")
			continue
		}
		kept = append(kept, it)
	}
	j.queue = kept
	for _, job := range j.jobs {
		for _, b := range job.Builds {
			if b.Building {
				j.finishBuildLocked(b, "ABORTED")
			}
		}
	}
	j.left = map[int64]*QueueItem{}
	j.sessions = map[string]string{}
	j.sessionID = randomHex(4)
	j.saveLocked()
	j.mu.Unlock()
	j.clock.AfterFunc(d, func() {
		j.mu.Lock()
		j.restarting = false
		j.kickLocked()
		j.mu.Unlock()
	})
}

// serveAdmin is the fault-injection endpoint under /emulator/ (a prefix
// real Jenkins does not use).
func (j *Jenkins) serveAdmin(w http.ResponseWriter, r *http.Request, what string) {
	if !requirePOST(w, r) {
		return
	}
	secs := func() (time.Duration, bool) {
		v, err := strconv.ParseFloat(r.URL.Query().Get("seconds"), 64)
		if err != nil || v < 0 {
			plainError(w, http.StatusBadRequest, "query parameter 'seconds' must be a non-negative number")
			return 0, false
		}
		return time.Duration(v * float64(time.Second)), true
	}
	switch what {
	case "unavailable":
		if d, ok := secs(); ok {
			j.Unavailable(d)
			w.WriteHeader(http.StatusNoContent)
		}
	case "slow":
		if d, ok := secs(); ok {
			j.Slow(d)
			w.WriteHeader(http.StatusNoContent)
		}
	case "restart":
		if d, ok := secs(); ok {
			j.Restart(d)
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		plainError(w, http.StatusNotFound, "unknown fault "+strconv.Quote(what)+"; expected unavailable, slow or restart")
	}
}

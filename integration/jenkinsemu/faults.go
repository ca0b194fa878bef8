package jenkinsemu

import (
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
// reconnect by themselves), running builds are aborted, the queue is
// dropped, the session ID changes; nodes, jobs and build history stay.
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
	for _, it := range j.queue {
		if it.placeholder && it.run != nil {
			j.finishBuildLocked(it.run, "ABORTED")
		}
	}
	for _, job := range j.jobs {
		for _, b := range job.Builds {
			if b.Building {
				j.finishBuildLocked(b, "ABORTED")
			}
		}
	}
	j.queue = nil
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

package jenkinsemu

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"
)

// agentMessage is one line of the emulator's agent protocol, spoken over
// the connection that GET /wsagents/ upgrades (the stand-in for remoting's
// WebSocket transport): the controller sends builds, the agent results.
type agentMessage struct {
	Type        string `json:"type"` // build, abort (controller to agent), result (agent to controller)
	ID          string `json:"id"`
	Job         string `json:"job,omitempty"`
	Number      int    `json:"number,omitempty"`
	SleepMillis int64  `json:"sleepMillis,omitempty"`
	Exit        int    `json:"exit,omitempty"`
	Result      string `json:"result,omitempty"`
}

// agentConn is a connected inbound agent, server side.
type agentConn struct {
	j    *Jenkins
	node *Node
	c    net.Conn
	mu   sync.Mutex
	w    *bufio.Writer
}

func (a *agentConn) send(m agentMessage) {
	b, _ := json.Marshal(m)
	a.mu.Lock()
	defer a.mu.Unlock()
	_, _ = a.w.Write(append(b, '\n'))
	_ = a.w.Flush()
}

func (a *agentConn) close() { _ = a.c.Close() }

// handleAgent is GET /wsagents/: the agent names itself and proves it
// holds the node's secret; refusals are 403 with remoting's messages.
func (j *Jenkins) handleAgent(w http.ResponseWriter, r *http.Request) {
	name := r.Header.Get("Node-Name")
	secret := r.Header.Get("Secret-Key")
	if name == "" || secret == "" {
		plainError(w, http.StatusBadRequest, "Missing Node-Name or Secret-Key header")
		return
	}
	j.mu.Lock()
	n := j.nodes[name]
	var refusal string
	switch {
	case n == nil:
		refusal = name + " is not a JNLP agent"
	case secret != j.secretLocked(name):
		refusal = "Authorization failure"
	case n.conn != nil:
		refusal = name + " is already connected to this controller. Rejecting this connection."
	}
	j.mu.Unlock()
	if refusal != "" {
		plainError(w, http.StatusForbidden, refusal)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		plainError(w, http.StatusInternalServerError, "connection cannot be upgraded")
		return
	}
	c, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"X-Remoting-Capability: emulated\r\nX-Emulator-Time-Scale: " + strconv.FormatFloat(j.clock.Scale(), 'g', -1, 64) + "\r\n\r\n")
	_ = rw.Flush()
	a := &agentConn{j: j, c: c, w: bufio.NewWriter(c)}
	j.mu.Lock()
	n = j.nodes[name]
	if n == nil || n.conn != nil {
		j.mu.Unlock()
		c.Close()
		return
	}
	a.node = n
	n.conn = a
	j.log.WithField("node", name).Info("agent connected")
	j.kickLocked()
	j.mu.Unlock()
	j.wg.Add(1)
	go a.readLoop(rw.Reader)
}

func (a *agentConn) readLoop(r *bufio.Reader) {
	defer a.j.wg.Done()
	j := a.j
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			break
		}
		var m agentMessage
		if json.Unmarshal(line, &m) != nil || m.Type != "result" {
			continue
		}
		j.mu.Lock()
		for _, s := range a.node.slots {
			if s != nil && s.taskID == m.ID {
				j.completeLocked(a.node, s, m.Result)
				break
			}
		}
		j.mu.Unlock()
	}
	a.c.Close()
	j.mu.Lock()
	if a.node.conn == a && !j.closed {
		a.node.conn = nil
		// The channel is gone: builds on it fail, the node is offline.
		j.channelLostLocked(a.node, false)
		j.log.WithField("node", a.node.Name).Info("agent disconnected")
		j.kickLocked()
	}
	j.mu.Unlock()
}

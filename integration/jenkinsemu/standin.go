package jenkinsemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AgentOptions are the inbound agent's options (remoting's -url, -secret,
// -name, -workDir, -webSocket, -noReconnect).
type AgentOptions struct {
	URL         string
	Secret      string
	Name        string
	WorkDir     string
	WebSocket   bool
	NoReconnect bool
	Log         io.Writer
}

// ErrRefused is returned when the controller refuses the agent (unknown
// node, wrong secret, already connected) on its first connection.
var ErrRefused = errors.New("jenkinsemu: the controller refused the connection")

// ErrUnreachable: with NoReconnect, the controller could not be reached.
var ErrUnreachable = errors.New("jenkinsemu: the controller cannot be reached")

// reconnectDelay is remoting's pause between reconnection attempts.
const reconnectDelay = 10 * time.Second

// RunAgent is the inbound-agent stand-in: it connects to the controller,
// keeps its node online, runs the builds it is given (their `sleep` takes
// that long, in the controller's emulated time) and reports their results.
// Like the real agent it reconnects forever unless NoReconnect.
func RunAgent(ctx context.Context, o AgentOptions) error {
	if o.Log == nil {
		o.Log = io.Discard
	}
	switch {
	case o.URL == "":
		return errors.New("jenkinsemu agent: -url is required (or JENKINS_URL)")
	case o.Secret == "":
		return errors.New("jenkinsemu agent: -secret is required (or JENKINS_SECRET)")
	case o.Name == "":
		return errors.New("jenkinsemu agent: -name is required (or JENKINS_AGENT_NAME)")
	}
	base, err := url.Parse(strings.TrimSuffix(o.URL, "/") + "/")
	if err != nil || base.Host == "" {
		return fmt.Errorf("jenkinsemu agent: -url %q is not a URL", o.URL)
	}
	if o.WorkDir != "" {
		if err := os.MkdirAll(filepath.Join(o.WorkDir, "remoting"), 0o755); err != nil {
			return fmt.Errorf("jenkinsemu agent: -workDir: %w", err)
		}
	}
	connectedBefore := false
	scale := 1.0
	for {
		s, err := agentSession(ctx, base, o)
		if s > 0 {
			scale = s
			connectedBefore = true
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrRefused) && !connectedBefore {
			return err
		}
		if o.NoReconnect {
			fmt.Fprintln(o.Log, "INFO: Terminated (-noReconnect)")
			if errors.Is(err, ErrRefused) || errors.Is(err, ErrUnreachable) {
				return err
			}
			return nil
		}
		fmt.Fprintf(o.Log, "INFO: %v; reconnecting in %s\n", err, reconnectDelay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Duration(float64(reconnectDelay) / scale)):
		}
	}
}

// agentSession makes one connection and serves it until it ends. It
// returns the controller's time scale once connected.
func agentSession(ctx context.Context, base *url.URL, o AgentOptions) (float64, error) {
	// Like the WebSocket agent: wait for the controller to answer /login.
	login := base.ResolveReference(&url.URL{Path: "login"}).String()
	for said := false; ; said = true {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, login, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			err = fmt.Errorf("%s answered %d", login, resp.StatusCode)
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if o.NoReconnect {
			return 0, fmt.Errorf("%w: failed to connect to %s: %v (-noReconnect: not retrying)", ErrUnreachable, base, err)
		}
		if !said {
			fmt.Fprintf(o.Log, "INFO: Failed to connect to %s: %v; waiting for it to come up\n", base, err)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", base.Host)
	if err != nil {
		return 0, fmt.Errorf("connect %s: %w", base.Host, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	path := base.ResolveReference(&url.URL{Path: "wsagents/"}).RequestURI()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nNode-Name: %s\r\nSecret-Key: %s\r\nX-Remoting-Capability: emulated\r\n\r\n", path, base.Host, o.Name, o.Secret)
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return 0, fmt.Errorf("handshake: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		fmt.Fprintf(o.Log, "SEVERE: The server rejected the connection: %s\n", strings.TrimSpace(string(body)))
		return 0, fmt.Errorf("%w: %d %s", ErrRefused, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	scale, _ := strconv.ParseFloat(resp.Header.Get("X-Emulator-Time-Scale"), 64)
	if scale <= 0 {
		scale = 1
	}
	fmt.Fprintln(o.Log, "INFO: Connected")
	var wmu sync.Mutex
	write := func(m agentMessage) {
		b, _ := json.Marshal(m)
		wmu.Lock()
		defer wmu.Unlock()
		_, _ = c.Write(append(b, '\n'))
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel() // runs before wg.Wait: builds in flight end with the session
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return scale, errors.New("connection closed by the controller")
		}
		var m agentMessage
		if json.Unmarshal(line, &m) != nil || m.Type != "build" {
			continue
		}
		wg.Add(1)
		go func(m agentMessage) {
			defer wg.Done()
			select {
			case <-sctx.Done():
				return
			case <-time.After(time.Duration(m.SleepMillis) * time.Millisecond):
			}
			write(agentMessage{Type: "result", ID: m.ID, Result: resultOf(m.Exit)})
		}(m)
	}
}

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

	"github.com/jenkins-mesos/jenkins-mesos/integration/emutime"
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

// retryBackoff is remoting's ExponentialRetry (Engine.java, since 3283):
// the first try at once, then 1 s, 3 s, 7 s and 10 s from then on, for the
// controller's /login and for the WebSocket handshake alike.
func retryBackoff(prev time.Duration) time.Duration {
	return min(10*time.Second, 2*prev+time.Second)
}

// RunAgent is the inbound-agent stand-in: it connects to the controller,
// keeps its node online, runs the builds it is given (their `sleep` takes
// that long, in the controller's emulated time) and reports their results.
// Like the WebSocket agent of remoting 3283 and later, it retries the
// controller's /login and a failed or refused handshake with a backoff and
// reconnects at once when a connection ends, forever unless NoReconnect.
// With NoReconnect it also gives up at once when the first connection
// cannot be made (remoting would retry that one).
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
	s := &agentState{o: o, base: base, clock: emutime.NewClock(1)}
	for {
		err := s.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if o.NoReconnect {
			fmt.Fprintln(o.Log, "INFO: Terminated (-noReconnect)")
			if errors.Is(err, ErrRefused) || errors.Is(err, ErrUnreachable) {
				return err
			}
			return nil
		}
		fmt.Fprintf(o.Log, "INFO: %v; reconnecting\n", err)
	}
}

// agentState is what the stand-in keeps across its connections.
type agentState struct {
	o     AgentOptions
	base  *url.URL
	clock *emutime.Clock // at the controller's time scale, once it has said it
}

// retry runs try until it succeeds, pausing remoting's backoff (in the
// controller's time) between tries. It gives up at once, with try's error,
// when giveUp says so.
func (s *agentState) retry(ctx context.Context, try func() error, giveUp func(error) bool) error {
	var delay time.Duration
	for {
		err := try()
		if err == nil || ctx.Err() != nil || giveUp(err) {
			return err
		}
		fmt.Fprintf(s.o.Log, "INFO: Failed to connect: %v\n", err)
		delay = retryBackoff(delay)
		fmt.Fprintf(s.o.Log, "INFO: Waiting %s before retry\n", delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.clock.Real(delay)):
		}
	}
}

// readScale notes the emulator's time scale from a response.
func (s *agentState) readScale(h http.Header) {
	if f, err := strconv.ParseFloat(h.Get("X-Emulator-Time-Scale"), 64); err == nil && f > 0 {
		s.clock = emutime.NewClock(f)
	}
}

// session makes one connection and serves it until it ends.
func (s *agentState) session(ctx context.Context) error {
	o, base := s.o, s.base
	// Like the WebSocket agent: wait for the controller to answer /login.
	login := base.ResolveReference(&url.URL{Path: "login"}).String()
	err := s.retry(ctx, func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, login, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		s.readScale(resp.Header)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s is not ready: %d", login, resp.StatusCode)
		}
		return nil
	}, func(error) bool { return o.NoReconnect })
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: failed to connect to %s: %v (-noReconnect: not retrying)", ErrUnreachable, base, err)
	}
	var c net.Conn
	var r *bufio.Reader
	err = s.retry(ctx, func() (err error) {
		c, r, err = s.handshake(ctx)
		return err
	}, func(err error) bool { return o.NoReconnect && errors.Is(err, ErrRefused) })
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
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
	// running: the builds in flight, to stop one the controller aborts.
	var rmu sync.Mutex
	running := map[string]context.CancelFunc{}
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return errors.New("connection closed by the controller")
		}
		var m agentMessage
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		switch m.Type {
		case "abort":
			// The executor was interrupted: the step stops, and the
			// controller has already recorded the result.
			rmu.Lock()
			if stop, ok := running[m.ID]; ok {
				stop()
				delete(running, m.ID)
				fmt.Fprintln(o.Log, "INFO: Interrupted "+m.ID)
			}
			rmu.Unlock()
		case "build":
			bctx, stop := context.WithCancel(sctx)
			rmu.Lock()
			running[m.ID] = stop
			rmu.Unlock()
			wg.Add(1)
			go func(m agentMessage) {
				defer wg.Done()
				defer func() {
					rmu.Lock()
					delete(running, m.ID)
					rmu.Unlock()
					stop()
				}()
				select {
				case <-bctx.Done():
					return
				case <-time.After(time.Duration(m.SleepMillis) * time.Millisecond):
				}
				write(agentMessage{Type: "result", ID: m.ID, Result: resultOf(m.Exit)})
			}(m)
		}
	}
}

// handshake opens the upgraded /wsagents/ connection as the node. A
// refusal (unknown node, wrong secret, already connected) is ErrRefused
// with remoting's message.
func (s *agentState) handshake(ctx context.Context) (net.Conn, *bufio.Reader, error) {
	base := s.base
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", base.Host)
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", base.Host, err)
	}
	path := base.ResolveReference(&url.URL{Path: "wsagents/"}).RequestURI()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nNode-Name: %s\r\nSecret-Key: %s\r\nX-Remoting-Capability: emulated\r\n\r\n", path, base.Host, s.o.Name, s.o.Secret)
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("handshake: %w", err)
	}
	s.readScale(resp.Header)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		c.Close()
		return nil, nil, fmt.Errorf("%w: %d %s", ErrRefused, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return c, r, nil
}

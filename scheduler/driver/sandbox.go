package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/sirupsen/logrus"

	"github.com/jenkins-mesos/jenkins-mesos/scheduler"
)

// An agent that fails to start or to connect often says why in its
// container's output ("java: not found", a Jenkins URL it cannot reach).
// The driver reads the end of the failed task's stderr and stdout from
// the Mesos agent's sandbox (GET /files/read on the agent's endpoint, the
// latest run of the task's executor), logs it, and gives the core its
// last line for the build's reason.

// outputTail is how much of each file is read.
const outputTail = 2048

// outputReaders bounds concurrent sandbox reads; more failures at once
// are not read.
const outputReaders = 4

// noteAgents remembers each agent's endpoint from the offers' URL: the
// URL itself (an offer event may carry thousands; the address is written
// out only when it is needed).
func (d *Driver) noteAgents(offers []mesos.Offer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range offers {
		if u := offers[i].URL; u != nil && u.Address.Port != 0 {
			d.agentURLs[offers[i].AgentID.Value] = u
		}
	}
}

// agentBase is the base URL (scheme://host:port) of an agent's endpoint.
func agentBase(u *mesos.URL) string {
	if u == nil {
		return ""
	}
	addr := &u.Address
	host := addr.GetIP()
	if host == "" {
		host = addr.GetHostname()
	}
	if host == "" {
		return ""
	}
	scheme := u.GetScheme()
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(int(addr.Port)))
}

// endpoint is the agent's base URL as an offer named it ("" if none did).
func (d *Driver) endpoint(agent string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return agentBase(d.agentURLs[agent])
}

// agentEndpoint is the agent's base URL: as an offer named it, else as
// the master lists it (an agent no offer seen by this process came from,
// such as one whose task was adopted after a restart).
func (d *Driver) agentEndpoint(ctx context.Context, master, agent string) (string, error) {
	if base := d.endpoint(agent); base != "" {
		return base, nil
	}
	if master == "" {
		return "", fmt.Errorf("agent %s: no offer named its endpoint and no master is known", agent)
	}
	return d.lookupAgent(ctx, master, agent)
}

// readOutput reads, in the background, what a failed task wrote.
func (d *Driver) readOutput(ctx context.Context, o scheduler.OutputRead) {
	task, agent := o.Task, o.Agent
	d.mu.Lock()
	fw, master := d.frameworkID, d.master
	d.mu.Unlock()
	if task == "" || agent == "" || fw == "" || (d.endpoint(agent) == "" && master == "") {
		return
	}
	select {
	case d.outputSlots <- struct{}{}:
	default:
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer func() { <-d.outputSlots }()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		base, err := d.agentEndpoint(rctx, master, agent)
		if err != nil {
			d.log.WithFields(logrus.Fields{"event": "agent_output", "task_id": task, "agent_id": agent}).Debugf("%s: its output could not be read: %v", task, err)
			return
		}
		dir := "/frameworks/" + fw + "/executors/" + task + "/runs/latest/"
		var tails [2]string
		var errs []string
		for i, f := range []string{"stderr", "stdout"} {
			t, err := d.readTail(rctx, base, dir+f)
			if err != nil {
				errs = append(errs, f+": "+err.Error())
			}
			tails[i] = d.mask(t)
		}
		if ctx.Err() != nil {
			return
		}
		fields := logrus.Fields{"event": "agent_output", "node": task, "task_id": task, "agent_id": agent}
		if tails[0] == "" && tails[1] == "" {
			if len(errs) > 0 {
				d.log.WithFields(fields).Debugf("%s: its output could not be read: %s", task, strings.Join(errs, "; "))
			}
			return
		}
		fields["stderr"], fields["stdout"] = tails[0], tails[1]
		last := lastLine(tails[0])
		if last == "" {
			last = lastLine(tails[1])
		}
		d.log.WithFields(fields).Warnf("%s failed; its output ends: %s", task, last)
		d.push(ctx, scheduler.AgentOutput{Task: task, Last: last})
	}()
}

// readTail reads the last outputTail bytes of a sandbox file: its size
// first (offset -1), then the tail.
func (d *Driver) readTail(ctx context.Context, base, path string) (string, error) {
	read := func(offset, length int64) (string, int64, error) {
		q := url.Values{"path": {path}, "offset": {strconv.FormatInt(offset, 10)}}
		if length >= 0 {
			q.Set("length", strconv.FormatInt(length, 10))
		}
		var r struct {
			Data   string `json:"data"`
			Offset int64  `json:"offset"`
		}
		if err := d.getJSON(ctx, base+"/files/read?"+q.Encode(), &r); err != nil {
			return "", 0, err
		}
		return r.Data, r.Offset, nil
	}
	_, size, err := read(-1, -1)
	if err != nil || size == 0 {
		return "", err
	}
	from := max(0, size-outputTail)
	data, _, err := read(from, size-from)
	if err != nil {
		return "", err
	}
	if from > 0 { // start at a whole line
		if i := strings.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return strings.TrimRight(strings.ToValidUTF8(data, "?"), "\n"), nil
}

// agentSecretPattern is an inbound agent's secret: 64 hex digits (an
// HMAC-SHA256). An image may print its command line.
var agentSecretPattern = regexp.MustCompile(`\b[0-9a-fA-F]{64}\b`)

// mask hides secrets an agent's output may hold: agent secrets and the
// framework's Mesos secret.
func (d *Driver) mask(s string) string {
	s = agentSecretPattern.ReplaceAllString(s, "********")
	if d.cfg.Secret != "" {
		s = strings.ReplaceAll(s, d.cfg.Secret, "********")
	}
	return s
}

// lastLine is the last line of s with anything in it.
func lastLine(s string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}

// lookupAgent finds an agent's endpoint from the master
// (GET /master/slaves?slave_id=ID: its pid, slave(1)@IP:PORT) and
// remembers it.
func (d *Driver) lookupAgent(ctx context.Context, master, agent string) (string, error) {
	var r struct {
		Slaves []struct {
			ID  string `json:"id"`
			PID string `json:"pid"`
		} `json:"slaves"`
	}
	if err := d.getJSON(ctx, strings.TrimSuffix(master, "/")+"/master/slaves?"+url.Values{"slave_id": {agent}}.Encode(), &r); err != nil {
		return "", err
	}
	for _, s := range r.Slaves {
		if s.ID != agent {
			continue
		}
		_, hostPort, ok := strings.Cut(s.PID, "@")
		if !ok || hostPort == "" {
			return "", fmt.Errorf("agent %s: pid %q names no address", agent, s.PID)
		}
		scheme := "http"
		if strings.HasPrefix(master, "https:") {
			scheme = "https"
		}
		host, port, err := net.SplitHostPort(hostPort)
		p, perr := strconv.Atoi(port)
		if err != nil || perr != nil {
			return "", fmt.Errorf("agent %s: pid %q names no address", agent, s.PID)
		}
		u := &mesos.URL{Scheme: scheme, Address: mesos.Address{IP: &host, Port: int32(p)}}
		d.mu.Lock()
		d.agentURLs[agent] = u
		d.mu.Unlock()
		return agentBase(u), nil
	}
	return "", fmt.Errorf("the master does not list agent %s", agent)
}

// TaskUsage is what a Mesos agent reports of one of the framework's
// running tasks (GET /monitor/statistics): cumulative CPU seconds (user
// and system), resident memory, and the container's limits.
type TaskUsage struct {
	Task          string
	CPUSeconds    float64
	RSSBytes      int64
	CPUsLimit     float64
	MemLimitBytes int64
	At            time.Time // the agent's timestamp of the sample
}

// Usage asks the agents that run the given tasks (task ID → agent ID)
// for their executors' statistics (at most outputReaders agents at once,
// 5 s each) and returns those of the tasks. Agents that cannot be
// reached are left out (err names the first).
func (d *Driver) Usage(ctx context.Context, tasks map[string]string) ([]TaskUsage, error) {
	d.mu.Lock()
	fw, master := d.frameworkID, d.master
	d.mu.Unlock()
	if fw == "" {
		return nil, nil
	}
	byAgent := map[string]map[string]bool{}
	for task, agent := range tasks {
		if byAgent[agent] == nil {
			byAgent[agent] = map[string]bool{}
		}
		byAgent[agent][task] = true
	}
	var (
		mu    sync.Mutex
		out   []TaskUsage
		first error
		wg    sync.WaitGroup
	)
	slots := make(chan struct{}, outputReaders)
	for agent, tasks := range byAgent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-slots }()
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			got, err := d.agentUsage(actx, master, agent, fw, tasks)
			mu.Lock()
			defer mu.Unlock()
			out = append(out, got...)
			if err != nil && first == nil {
				first = err
			}
		}()
	}
	wg.Wait()
	return out, first
}

func (d *Driver) agentUsage(ctx context.Context, master, agent, fw string, tasks map[string]bool) ([]TaskUsage, error) {
	base, err := d.agentEndpoint(ctx, master, agent)
	if err != nil {
		return nil, err
	}
	var entries []struct {
		Framework  string `json:"framework_id"`
		Executor   string `json:"executor_id"`
		Statistics struct {
			Timestamp float64 `json:"timestamp"`
			User      float64 `json:"cpus_user_time_secs"`
			System    float64 `json:"cpus_system_time_secs"`
			CPUsLimit float64 `json:"cpus_limit"`
			RSS       int64   `json:"mem_rss_bytes"`
			MemLimit  int64   `json:"mem_limit_bytes"`
		} `json:"statistics"`
	}
	if err := d.getJSON(ctx, base+"/monitor/statistics", &entries); err != nil {
		return nil, err
	}
	var out []TaskUsage
	for _, e := range entries {
		// A task launched without an executor runs under the command (or
		// Docker) executor whose ID is the task's.
		if e.Framework != fw || !tasks[e.Executor] {
			continue
		}
		s := e.Statistics
		sec, frac := math.Modf(s.Timestamp)
		out = append(out, TaskUsage{Task: e.Executor, CPUSeconds: s.User + s.System, RSSBytes: s.RSS, CPUsLimit: s.CPUsLimit,
			MemLimitBytes: s.MemLimit, At: time.Unix(int64(sec), int64(frac*1e9))})
	}
	return out, nil
}

// getJSON is one GET of a Mesos agent's or master's read-only endpoint,
// with the framework's credentials when set (agents and masters with
// --authenticate_http_readonly ask for them), its JSON answer into v.
func (d *Driver) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if d.cfg.Principal != "" && d.cfg.Secret != "" {
		req.SetBasicAuth(d.cfg.Principal, d.cfg.Secret)
	}
	resp, err := d.agentHTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	where := u
	if i := strings.IndexByte(where, '?'); i >= 0 {
		where = where[:i]
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", where, resp.Status)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", where, err)
	}
	return nil
}

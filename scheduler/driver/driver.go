package driver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/jenkins-mesos/jenkins-mesos/jenkins"
	"github.com/jenkins-mesos/jenkins-mesos/proto"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpsched"
	msched "github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
	"github.com/sirupsen/logrus"
)

// Jenkins is what the driver needs of the Jenkins adapter.
type Jenkins interface {
	Queue(ctx context.Context) ([]jenkins.Item, error)
	Nodes(ctx context.Context) ([]jenkins.Node, error)
	CreateNode(ctx context.Context, spec jenkins.NodeSpec) (string, error)
	RetireNode(ctx context.Context, name, message string) error
	DeleteNode(ctx context.Context, name string) error
	EnsureAnchor(ctx context.Context) error
}

// Store is what the driver needs of the state store.
type Store interface {
	Load() (*proto.State, error)
	Save(*proto.State) error
}

// Config is the driver's part of the configuration.
type Config struct {
	Core scheduler.Config
	// Masters are the masters' base URLs (http(s)://host:port); the
	// leader is found through /master/redirect.
	Masters []string
	// ZKCredentials (user:password) authenticate to the masters'
	// ZooKeeper with the digest scheme when Masters is a zk:// group.
	ZKCredentials   string
	Encoding        string // "protobuf" (default) or "json"
	User            string
	Role            string
	Hostname        string
	WebUIURL        string
	Principal       string
	Secret          string
	FailoverTimeout time.Duration
	PollInterval    time.Duration
	// Anchor keeps jenkins.AnchorNode in Jenkins (see EnsureAnchor).
	Anchor bool
	// AcceptWorkers bounds the ACCEPT calls of one Ready sent at once
	// (default 8): sequential ACCEPTs, one round trip each, would bound
	// the placement rate.
	AcceptWorkers int
	// JenkinsWorkers bounds concurrent Jenkins operations.
	JenkinsWorkers int
	Seed           uint64
	// ForgetFrameworkID, when it is the stored framework ID, is dropped at
	// the start, so the framework registers afresh (--new-framework). Any
	// other stored ID is kept: the flag acts once.
	ForgetFrameworkID string
	Log               *logrus.Logger
	// OnReady, when set, sees every Ready after it is handled (the demo
	// shows them).
	OnReady func(scheduler.Ready, time.Time)
	// OnEvent, when set, sees every event before the core does.
	OnEvent func(scheduler.Event)
}

// Driver runs the loop.
type Driver struct {
	cfg     Config
	jenkins Jenkins
	store   Store
	log     *logrus.Logger
	events  chan scheduler.Event

	mu          sync.Mutex
	caller      calls.Caller
	parallel    *httpcli.Client // ACCEPTs of one event go out concurrently on it
	streamID    string
	frameworkID string
	knownLeader string // the leader a redirected SUBSCRIBE reached, tried first next time
	status      scheduler.Status

	subscribed   atomic.Bool
	lastEvent    atomic.Int64 // unix nanos of the last event from the master
	heartbeat    atomic.Int64 // the master's heartbeat interval, nanos
	fatal        chan error
	jenkinsSlots chan struct{}
	wg           sync.WaitGroup

	master      string                // the master subscribed to last (under mu)
	agentURLs   map[string]*mesos.URL // agent ID → its endpoint, from the offers (under mu)
	agentHTTP   *http.Client          // reads agents' sandbox files (sandbox.go)
	outputSlots chan struct{}
}

// New makes a driver.
func New(cfg Config, j Jenkins, st Store) *Driver {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.JenkinsWorkers <= 0 {
		cfg.JenkinsWorkers = 8
	}
	if cfg.AcceptWorkers <= 0 {
		cfg.AcceptWorkers = 8
	}
	if cfg.Log == nil {
		cfg.Log = logrus.New()
	}
	return &Driver{cfg: cfg, jenkins: j, store: st, log: cfg.Log, events: make(chan scheduler.Event, 4096),
		fatal: make(chan error, 1), jenkinsSlots: make(chan struct{}, cfg.JenkinsWorkers),
		agentURLs: map[string]*mesos.URL{}, agentHTTP: &http.Client{Timeout: 10 * time.Second}, outputSlots: make(chan struct{}, outputReaders)}
}

// Status is the core's summary (safe to call from any goroutine).
func (d *Driver) Status() scheduler.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status
}

// Healthy tells whether the framework is subscribed with fresh
// heartbeats (the master sends one every heartbeat interval; three
// missed ones make it stale).
func (d *Driver) Healthy() (bool, string) {
	if !d.subscribed.Load() {
		return false, "not subscribed to a Mesos master"
	}
	hb := time.Duration(d.heartbeat.Load())
	if hb <= 0 {
		hb = 15 * time.Second
	}
	age := time.Since(time.Unix(0, d.lastEvent.Load()))
	if age > 3*hb {
		return false, fmt.Sprintf("no event from the master for %s (heartbeat every %s)", age.Round(time.Second), hb)
	}
	return true, "subscribed"
}

// Run loops until ctx ends (nil) or a fatal error.
func (d *Driver) Run(ctx context.Context) error {
	restored, err := d.store.Load()
	if err != nil {
		return err
	}
	if f := d.cfg.ForgetFrameworkID; f != "" {
		switch {
		case restored.GetFrameworkId() == f:
			d.log.WithField("framework_id", f).Warn("--new-framework: forgetting this framework ID; registering as a new framework")
			restored.FrameworkId = ""
		default:
			d.log.WithFields(logrus.Fields{"framework_id": restored.GetFrameworkId(), "new_framework": f}).Info("--new-framework names another ID than the stored one; ignored")
		}
	}
	seed := d.cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	d.log.WithField("seed", seed).Info("core randomness seeded (node name suffixes)")
	core := scheduler.New(d.cfg.Core, restored, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
	d.setFrameworkID(core.FrameworkID())
	if id := core.FrameworkID(); id != "" {
		d.log.WithField("framework_id", id).Info("restored framework ID; re-subscribing with it")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		d.wg.Wait()
	}()
	d.wg.Add(2)
	go func() { defer d.wg.Done(); d.subscribeLoop(ctx) }()
	go func() { defer d.wg.Done(); d.pollLoop(ctx) }()

	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	step := func(ev scheduler.Event) {
		if d.cfg.OnEvent != nil {
			d.cfg.OnEvent(ev)
		}
		if err := core.Step(ev); err != nil {
			d.log.WithError(err).Error("core refused an event")
		}
	}
	step(scheduler.Tick{Now: time.Now()})
	for {
		// At most a few Readies in a row, then back to the select: ctx and
		// new events are never starved by a core that keeps producing.
		for n := 0; n < 64 && ctx.Err() == nil && core.HasReady(); n++ {
			rd := core.Ready()
			failed, err := d.handle(ctx, rd)
			if err != nil {
				return err
			}
			core.Advance(rd)
			st := core.Status()
			d.mu.Lock()
			d.status = st
			d.mu.Unlock()
			for _, ev := range failed {
				step(ev) // straight to the core: the loop must never wait on its own channel
			}
			if !rd.Wake.IsZero() {
				wake.Reset(max(time.Until(rd.Wake), time.Millisecond))
			}
		}
		if core.HasReady() {
			// More to hand out: take a tick's worth of events first.
			select {
			case <-ctx.Done():
				return nil
			case ev := <-d.events:
				step(ev)
			default:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-d.fatal:
			return err
		case ev := <-d.events:
			step(scheduler.Tick{Now: time.Now()})
			step(ev)
			// Take whatever else is waiting as one batch: the core settles
			// once per Ready, not once per event.
			for more := true; more; {
				select {
				case ev := <-d.events:
					step(ev)
				default:
					more = false
				}
			}
		case <-ticker.C:
			step(scheduler.Tick{Now: time.Now()})
		case <-wake.C:
			step(scheduler.Tick{Now: time.Now()})
		}
	}
}

// handle carries out one Ready: persist, then Jenkins, then Mesos. It
// returns the calls that failed, as events for the core.
func (d *Driver) handle(ctx context.Context, rd scheduler.Ready) ([]scheduler.Event, error) {
	now := time.Now()
	if rd.Persist != nil {
		if err := d.store.Save(rd.Persist); err != nil {
			return nil, fmt.Errorf("driver: saving the state (nothing was sent or acknowledged): %w", err)
		}
		d.setFrameworkID(rd.Persist.GetFrameworkId())
	}
	for _, op := range rd.Jenkins {
		d.applyNodeOp(ctx, op)
	}
	var accepts, rest []*msched.Call
	for _, k := range rd.Calls {
		if d.log.IsLevelEnabled(logrus.DebugLevel) {
			d.log.WithField("call", k.Type.String()).Debug(scheduler.DescribeCall(k))
		}
		if k.Type == msched.Call_ACCEPT {
			accepts = append(accepts, k)
		} else {
			rest = append(rest, k)
		}
	}
	failed := append(d.sendAccepts(ctx, accepts), d.sendInOrder(ctx, rest)...)
	if d.log.IsLevelEnabled(logrus.InfoLevel) {
		for _, n := range rd.Notes {
			// One Fields map per line: WithField per field would copy the
			// map once per field (a launch note has five).
			fields := make(logrus.Fields, len(n.Fields)+1)
			fields["event"] = n.Kind
			for k, v := range n.Fields {
				if v != "" {
					fields[k] = v
				}
			}
			d.log.WithFields(fields).Info(n.Text)
		}
	}
	for _, o := range rd.Outputs {
		d.readOutput(ctx, o)
	}
	debug := d.log.IsLevelEnabled(logrus.DebugLevel)
	for _, t := range rd.Templates {
		level := logrus.InfoLevel
		switch t.Code {
		case "ok", "pending":
			level = logrus.DebugLevel
		case "breaker_open", "launch_backoff", "backoff", "launch_retry", "breaker_probe":
			level = logrus.WarnLevel
		}
		if d.log.IsLevelEnabled(level) {
			d.log.WithFields(logrus.Fields{"template": t.Template, "waiting": t.Waiting, "agents": t.Agents, "reason_code": t.Code}).
				Log(level, "template "+t.Template+": "+t.Reason)
		}
	}
	for _, w := range rd.Waiting {
		if !debug {
			break
		}
		d.log.WithFields(logrus.Fields{"build": w.Build, "job": w.Name, "reason_code": w.Code}).Debug(w.Reason)
	}
	if d.log.IsLevelEnabled(logrus.TraceLevel) {
		d.log.Trace(scheduler.DescribeReady(rd, now))
	}
	if d.cfg.OnReady != nil {
		d.cfg.OnReady(rd, now)
	}
	return failed, nil
}

// Reconfigure hands a reloaded core configuration (templates, limits,
// timings) to the running loop; it waits until the loop has taken it or
// ctx ends. FrameworkName and JenkinsURL stay as they were.
func (d *Driver) Reconfigure(ctx context.Context, cfg scheduler.Config) error {
	select {
	case d.events <- scheduler.Reconfigured{Config: cfg}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Driver) push(ctx context.Context, ev scheduler.Event) {
	select {
	case d.events <- ev:
	case <-ctx.Done():
	}
}

func (d *Driver) setFrameworkID(id string) {
	d.mu.Lock()
	d.frameworkID = id
	d.mu.Unlock()
}

func (d *Driver) currentCaller() (calls.Caller, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.caller, d.frameworkID
}

func (d *Driver) sendInOrder(ctx context.Context, ks []*msched.Call) []scheduler.Event {
	var failed []scheduler.Event
	for _, k := range ks {
		if err := d.send(ctx, k); err != nil {
			failed = append(failed, d.callFailed(k, err))
		}
	}
	return failed
}

// sendAccepts sends one Ready's ACCEPTs concurrently over at most
// AcceptWorkers connections, each with the subscription's stream ID.
func (d *Driver) sendAccepts(ctx context.Context, ks []*msched.Call) []scheduler.Event {
	d.mu.Lock()
	cli, stream, id := d.parallel, d.streamID, d.frameworkID
	d.mu.Unlock()
	if cli == nil || stream == "" || len(ks) < 2 {
		return d.sendInOrder(ctx, ks)
	}
	var mu sync.Mutex
	var failed []scheduler.Event
	work := make(chan *msched.Call)
	var wg sync.WaitGroup
	for w := 0; w < min(d.cfg.AcceptWorkers, len(ks)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				k.FrameworkID = &mesos.FrameworkID{Value: id}
				cctx, cancel := context.WithTimeout(ctx, callTimeout)
				resp, err := cli.Do(k, httpcli.Header("Mesos-Stream-Id", stream), httpcli.Context(cctx))
				if resp != nil {
					resp.Close()
				}
				cancel()
				if err != nil {
					ev := d.callFailed(k, err)
					mu.Lock()
					failed = append(failed, ev)
					mu.Unlock()
				}
			}
		}()
	}
	for _, k := range ks {
		work <- k
	}
	close(work)
	wg.Wait()
	return failed
}

func (d *Driver) send(ctx context.Context, k *msched.Call) error {
	caller, id := d.currentCaller()
	if caller == nil {
		return errors.New("driver: not subscribed")
	}
	k.FrameworkID = &mesos.FrameworkID{Value: id}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return calls.CallNoData(cctx, caller, k)
}

// callTimeout bounds one scheduler call to the master.
const callTimeout = 15 * time.Second

// callFailed logs a call the master did not take and makes it the event
// the core learns it from.
func (d *Driver) callFailed(k *msched.Call, err error) scheduler.Event {
	d.log.WithError(err).WithField("call", k.Type.String()).Warn("mesos call failed")
	return scheduler.CallFailed{Call: k, Err: err.Error()}
}

// applyNodeOp runs one Jenkins operation on a bounded worker; its
// outcome comes back as NodeDone.
func (d *Driver) applyNodeOp(ctx context.Context, op scheduler.NodeOp) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		select {
		case d.jenkinsSlots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-d.jenkinsSlots }()
		done := scheduler.NodeDone{Op: op}
		var err error
		switch op.Kind {
		case scheduler.NodeCreate:
			done.Secret, err = d.jenkins.CreateNode(ctx, jenkins.NodeSpec{Name: op.Name, Description: op.Description, Labels: op.Labels,
				Executors: op.Executors, RemoteFS: op.RemoteFS, WebSocket: op.WebSocket})
		case scheduler.NodeRetire:
			err = d.jenkins.RetireNode(ctx, op.Name, op.Message)
		case scheduler.NodeDelete:
			err = d.jenkins.DeleteNode(ctx, op.Name)
		}
		if err != nil {
			done.Err = err.Error()
		}
		d.push(ctx, done)
	}()
}

// pollLoop reads the queue and the framework's nodes every poll interval,
// backing off (up to 30 s) while Jenkins does not answer. Nothing is
// concluded from a failed poll: the core simply sees no new observation.
func (d *Driver) pollLoop(ctx context.Context) {
	interval := d.cfg.PollInterval
	failing := time.Duration(0)
	anchored := !d.cfg.Anchor
	for {
		start := time.Now()
		if !anchored {
			actx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if err := d.jenkins.EnsureAnchor(actx); err != nil {
				d.log.WithError(err).Warn("cannot create the anchor node yet; Pipeline builds may wait unexplained until it exists")
			} else {
				anchored = true
			}
			cancel()
		}
		// Nodes first, then the queue: a build that starts in between has
		// left the queue by the time it is read, so the queue is never
		// staler than the nodes (a stale queue against fresh busy nodes
		// would look like unmet demand).
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		nodes, nerr := d.jenkins.Nodes(qctx)
		var items []jenkins.Item
		var qerr error
		if nerr == nil {
			items, qerr = d.jenkins.Queue(qctx)
		}
		cancel()
		if err := errors.Join(qerr, nerr); err != nil {
			if ctx.Err() != nil {
				return
			}
			failing = min(max(2*failing, interval), 30*time.Second)
			d.log.WithError(err).Warnf("polling Jenkins failed; next try in %s", failing)
		} else {
			failing = 0
			d.push(ctx, scheduler.NodesObserved{Nodes: convertNodes(nodes)})
			d.push(ctx, scheduler.QueueObserved{Items: convertItems(items)})
		}
		wait := interval - time.Since(start)
		if failing > 0 {
			wait = failing
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(wait, 10*time.Millisecond)):
		}
	}
}

func convertNodes(ns []jenkins.Node) []scheduler.Node {
	out := make([]scheduler.Node, len(ns))
	for i, n := range ns {
		out[i] = scheduler.Node{Name: n.Name, Online: n.Online, Busy: n.Busy, Executors: n.Executors, TemporarilyOffline: n.TemporarilyOffline, Labels: n.Labels, Builds: n.Builds}
	}
	return out
}

func convertItems(items []jenkins.Item) []scheduler.QueueItem {
	out := make([]scheduler.QueueItem, len(items))
	for i, it := range items {
		out[i] = scheduler.QueueItem{ID: it.ID, Name: it.Name, Label: it.Label, LabelNode: it.LabelNode, Quiet: it.Quiet, Blocked: it.Blocked, ShuttingDown: it.ShuttingDown, Why: it.Why}
	}
	return out
}

// ErrFrameworkRemoved: the master removed the framework (failover timeout
// passed, or an operator tore it down). Its ID can never subscribe again.
var ErrFrameworkRemoved = errors.New("driver: the Mesos master says \"Framework has been removed\": its failover_timeout passed or it was torn down; its tasks are gone")

// errRedirected: a SUBSCRIBE reached the leader through a 307; the loop
// subscribes to that leader directly.
var errRedirected = errors.New("driver: subscription redirected")

// removedError tells the operator what to do: start once with
// --new-framework=ID, which forgets exactly that ID (so the flag left in
// place does no harm at the next restart).
func removedError(id string) error {
	return fmt.Errorf("%w. Start afresh under a new framework ID: run once with --new-framework=%s (it forgets only that ID; leaving the flag in place is harmless)", ErrFrameworkRemoved, id)
}

func (d *Driver) frameworkInfo() mesos.FrameworkInfo {
	_, id := d.currentCaller()
	checkpoint := true
	failover := d.cfg.FailoverTimeout.Seconds()
	fi := mesos.FrameworkInfo{User: d.cfg.User, Name: d.cfg.Core.FrameworkName, Checkpoint: &checkpoint, FailoverTimeout: &failover,
		Roles: []string{d.cfg.Role},
		Capabilities: []mesos.FrameworkInfo_Capability{
			{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE},
			{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE},
			{Type: mesos.FrameworkInfo_Capability_TASK_KILLING_STATE},
		}}
	if d.cfg.Hostname != "" {
		fi.Hostname = &d.cfg.Hostname
	}
	if d.cfg.WebUIURL != "" {
		fi.WebUiURL = &d.cfg.WebUIURL
	}
	if d.cfg.Principal != "" {
		fi.Principal = &d.cfg.Principal
	}
	if id != "" {
		fi.ID = &mesos.FrameworkID{Value: id}
	}
	return fi
}

// leader finds the leading master among the configured ones, asking each
// /master/redirect (a standby answers with the leader's address); mesos-go
// forgets a 307's target after the SUBSCRIBE, so the client must point at
// the leader from the start.
func (d *Driver) leader(ctx context.Context, attempt int) string {
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	n := len(d.cfg.Masters)
	for k := 0; k < n; k++ {
		base := strings.TrimSuffix(d.cfg.Masters[(attempt+k)%n], "/")
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/master/redirect", nil)
		if err != nil {
			continue
		}
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode == http.StatusTemporaryRedirect && loc != "" {
			scheme := "http:"
			if strings.HasPrefix(base, "https:") {
				scheme = "https:"
			}
			if strings.HasPrefix(loc, "//") {
				loc = scheme + loc
			}
			return strings.TrimSuffix(loc, "/")
		}
	}
	return strings.TrimSuffix(d.cfg.Masters[attempt%n], "/")
}

// subscribeLoop keeps a subscription up: find the leader, SUBSCRIBE (with
// the stored framework ID once there is one), read events until the
// stream ends, back off 1 s doubling to 15 s with jitter, again.
func (d *Driver) subscribeLoop(ctx context.Context) {
	var zkd *zkDetector
	if len(d.cfg.Masters) == 1 && strings.HasPrefix(d.cfg.Masters[0], "zk://") {
		servers, root, err := ParseZK(d.cfg.Masters[0])
		if err == nil {
			zkd, err = newZKDetector(servers, root, d.cfg.ZKCredentials)
		}
		if err != nil {
			select {
			case d.fatal <- err:
			default:
			}
			return
		}
		defer zkd.close()
	}
	backoff := time.Second
	for attempt := 0; ctx.Err() == nil; attempt++ {
		var leader string
		var err error
		sctx := ctx
		if zkd != nil {
			// Follow the leader: a change in the group ends this
			// subscription, and the loop subscribes to whoever leads now.
			var changed <-chan zk.Event
			leader, changed, err = zkd.leader(ctx)
			if err == nil {
				var cancel context.CancelFunc
				sctx, cancel = context.WithCancel(ctx)
				go func() {
					select {
					case <-changed:
						d.log.Info("the masters' ZooKeeper group changed; following the leader")
						cancel()
					case <-sctx.Done():
					}
				}()
				err = d.subscribeOnce(sctx, leader)
				cancel()
			}
		} else {
			d.mu.Lock()
			leader, d.knownLeader = d.knownLeader, ""
			d.mu.Unlock()
			if leader == "" {
				leader = d.leader(ctx, attempt)
			}
			err = d.subscribeOnce(ctx, leader)
		}
		d.subscribed.Store(false)
		d.mu.Lock()
		d.caller, d.parallel, d.streamID = nil, nil, ""
		d.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrFrameworkRemoved) {
			select {
			case d.fatal <- err:
			default:
			}
			return
		}
		if errors.Is(err, errRedirected) {
			continue // at once, to the leader it named
		}
		d.push(ctx, scheduler.Disconnected{})
		wait := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		d.log.WithError(err).WithField("master", leader).Warnf("subscription ended; re-subscribing in %s", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, 15*time.Second)
		if err == nil {
			backoff = time.Second
		}
	}
}

// wire is the codec (mesos.encoding) and the client options (HTTP basic
// authentication with the principal and secret) of calls to the master.
func (d *Driver) wire() (httpcli.Opt, []httpcli.ConfigOpt) {
	codec := codecs.ByMediaType[codecs.MediaTypeProtobuf]
	if d.cfg.Encoding == "json" {
		codec = codecs.ByMediaType[codecs.MediaTypeJSON]
	}
	opts := []httpcli.ConfigOpt{}
	if d.cfg.Principal != "" && d.cfg.Secret != "" {
		opts = append(opts, httpcli.BasicAuth(d.cfg.Principal, d.cfg.Secret))
	}
	return httpcli.Codec(codec), opts
}

func (d *Driver) subscribeOnce(ctx context.Context, leader string) error {
	codec, opts := d.wire()
	var streamID, servedBy atomic.Value
	capture := func(next httpcli.DoFunc) httpcli.DoFunc {
		return func(r *http.Request) (*http.Response, error) {
			resp, err := next(r)
			if resp != nil {
				if id := resp.Header.Get("Mesos-Stream-Id"); id != "" {
					streamID.Store(id)
					servedBy.Store(r.URL.Scheme + "://" + r.URL.Host)
				}
			}
			return resp, err
		}
	}
	cli := httpcli.New(httpcli.Endpoint(leader+"/api/v1/scheduler"), codec, httpcli.Do(httpcli.With(opts...)), httpcli.WrapDoer(capture))
	caller := httpsched.NewCaller(cli, httpsched.MaxRedirects(3))
	wide := append(append([]httpcli.ConfigOpt(nil), opts...), httpcli.Transport(func(t *http.Transport) { t.MaxIdleConnsPerHost = d.cfg.AcceptWorkers }))
	parallel := httpcli.New(httpcli.Endpoint(leader+"/api/v1/scheduler"), codec, httpcli.Do(httpcli.With(wide...)))
	fi := d.frameworkInfo()
	sub := calls.Subscribe(&fi)
	if fi.ID != nil {
		sub.FrameworkID = fi.ID
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.lastEvent.Store(time.Now().UnixNano())
	resp, err := caller.Call(sctx, sub)
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", leader, err)
	}
	defer resp.Close()
	// The heartbeat watchdog: mesos-go never times out a silent stream,
	// so a stream that delivers nothing (heartbeats included) for 5
	// heartbeat intervals is ended here, and the loop re-subscribes.
	stalled := make(chan struct{})
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
				hb := time.Duration(d.heartbeat.Load())
				if hb <= 0 {
					hb = 15 * time.Second
				}
				if time.Since(time.Unix(0, d.lastEvent.Load())) > 5*hb {
					close(stalled)
					cancel()
					return
				}
			}
		}
	}()
	for {
		var ev msched.Event
		if err := resp.Decode(&ev); err != nil {
			select {
			case <-stalled:
				return fmt.Errorf("event stream from %s: no event, not even a heartbeat, for 5 heartbeat intervals", leader)
			default:
			}
			return fmt.Errorf("event stream from %s: %w", leader, err)
		}
		d.lastEvent.Store(time.Now().UnixNano())
		switch ev.Type {
		case msched.Event_SUBSCRIBED:
			if by, _ := servedBy.Load().(string); by != "" && by != leader {
				// The SUBSCRIBE was redirected (307) by a master that no
				// longer leads. mesos-go would send the calls that follow
				// to the old address; remember the leader and subscribe to
				// it directly.
				d.mu.Lock()
				d.knownLeader = by
				d.mu.Unlock()
				d.log.WithFields(logrus.Fields{"master": leader, "leader": by}).Info("the subscription was redirected to the leader; subscribing there directly")
				return errRedirected
			}
			s := ev.GetSubscribed()
			hb := time.Duration(s.GetHeartbeatIntervalSeconds() * float64(time.Second))
			d.heartbeat.Store(int64(hb))
			d.mu.Lock()
			d.caller = caller
			d.parallel = parallel
			d.streamID, _ = streamID.Load().(string)
			d.mu.Unlock() // the framework ID is taken from the core's Persist, before any call
			d.subscribed.Store(true)
			d.mu.Lock()
			d.master = leader
			d.mu.Unlock()
			d.log.WithFields(logrus.Fields{"framework_id": s.FrameworkID.Value, "master": leader}).Info("subscribed")
			d.push(ctx, scheduler.Subscribed{FrameworkID: s.FrameworkID.Value, Heartbeat: hb})
		case msched.Event_OFFERS:
			d.noteAgents(ev.GetOffers().Offers)
			d.push(ctx, scheduler.Offers{Offers: ev.GetOffers().Offers})
		case msched.Event_RESCIND:
			d.push(ctx, scheduler.Rescind{OfferID: ev.GetRescind().OfferID.Value})
		case msched.Event_INVERSE_OFFERS:
			d.push(ctx, scheduler.InverseOffers{Offers: ev.GetInverseOffers().InverseOffers})
		case msched.Event_RESCIND_INVERSE_OFFER:
			d.push(ctx, scheduler.RescindInverseOffer{ID: ev.GetRescindInverseOffer().InverseOfferID.Value})
		case msched.Event_UPDATE:
			d.push(ctx, scheduler.Update{Status: ev.GetUpdate().Status})
		case msched.Event_ERROR:
			msg := ev.GetError().GetMessage()
			if strings.Contains(msg, "Framework has been removed") {
				_, id := d.currentCaller()
				return removedError(id)
			}
			return fmt.Errorf("master error: %s", msg)
		case msched.Event_FAILURE:
			f := ev.GetFailure()
			d.log.WithField("agent_id", f.GetAgentID().GetValue()).Warn("the master reports a failure (agent or executor lost)")
		}
	}
}

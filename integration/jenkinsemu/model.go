package jenkinsemu

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/integration/emutime"
	"github.com/sirupsen/logrus"
)

// Version is the Jenkins version the emulator reports in X-Jenkins.
const Version = "2.479.3"

// Config describes an emulated Jenkins controller.
type Config struct {
	// Listen is host:port; "127.0.0.1:0" picks a free port.
	Listen string
	// Home is JENKINS_HOME: with it, nodes, jobs and build history survive
	// a restart. Empty: state lives in memory only.
	Home string
	// User, Token and Password turn security on: Basic auth with the API
	// token (no crumb needed) or the password (crumb and session needed).
	User, Token, Password string
	// AnonymousRead lets unauthenticated users read (GET) everything.
	AnonymousRead bool
	// BuiltinExecutors is the built-in node's executor count.
	BuiltinExecutors int
	// Prefix is the context path Jenkins is served under, as Jenkins'
	// own --prefix=/jenkins (behind a reverse proxy at a sub-path): every
	// URL is under it, the rest answers 404. Empty: the root.
	Prefix string
	// QuietPeriod is the default quiet period of jobs (5 s, as Jenkins).
	QuietPeriod time.Duration
	TimeScale   float64
	Log         *logrus.Logger
}

// Jenkins is an emulated Jenkins controller.
type Jenkins struct {
	cfg   Config
	clock *emutime.Clock
	log   *logrus.Logger
	ln    net.Listener
	srv   *http.Server
	root  string // root URL with a trailing slash

	mu               sync.Mutex
	sessionID        string // X-Jenkins-Session: new on every start
	instanceKey      []byte
	jobs             map[string]*Job
	nodes            map[string]*Node
	builtin          *Node
	queue            []*QueueItem
	left             map[int64]*QueueItem
	nextQueueID      int64
	buildableSeq     int64             // order in which items joined Queue.buildables
	sessions         map[string]string // HTTP session → user
	unavailableUntil time.Time
	slow             time.Duration
	restarting       bool
	// quietDown is set while Jenkins quiets down ("Prepare for Shutdown",
	// POST /quietDown): its message, "" for none. Queue.isBlockedByShutdown:
	// no queued task starts (the emulator has no NonBlockingTask).
	quietDown *string
	closed    bool // the process is gone: nothing more is recorded

	kick   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New starts an emulated Jenkins. Close stops it.
func New(cfg Config) (*Jenkins, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	if cfg.TimeScale <= 0 {
		cfg.TimeScale = 1
	}
	if cfg.QuietPeriod == 0 {
		cfg.QuietPeriod = 5 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = logrus.New()
		cfg.Log.SetOutput(io.Discard)
	}
	if cfg.User == "" && (cfg.Token != "" || cfg.Password != "") {
		return nil, fmt.Errorf("jenkinsemu: a token or password needs --user")
	}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		if strings.ContainsAny(p, "?#") || p != path.Clean(p) {
			return nil, fmt.Errorf("jenkinsemu: prefix %q: expected a path such as /jenkins", cfg.Prefix)
		}
		cfg.Prefix = "/" + p
	} else {
		cfg.Prefix = ""
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("jenkinsemu: listen %s: %w", cfg.Listen, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	j := &Jenkins{
		cfg:      cfg,
		clock:    emutime.NewClock(cfg.TimeScale),
		log:      cfg.Log,
		ln:       ln,
		root:     "http://" + ln.Addr().String() + cfg.Prefix + "/",
		jobs:     map[string]*Job{},
		nodes:    map[string]*Node{},
		left:     map[int64]*QueueItem{},
		sessions: map[string]string{},
		kick:     make(chan struct{}, 1),
		ctx:      ctx,
		cancel:   cancel,
	}
	j.sessionID = randomHex(4)
	j.builtin = &Node{Name: "", builtin: true, NumExecutors: cfg.BuiltinExecutors, Mode: "NORMAL", labels: []string{"built-in"}}
	j.builtin.slots = make([]*slot, cfg.BuiltinExecutors)
	j.instanceKey = []byte(randomHex(32))
	if err := j.load(); err != nil {
		cancel()
		ln.Close()
		return nil, err
	}
	j.srv = &http.Server{Handler: j, ReadHeaderTimeout: 10 * time.Second}
	j.wg.Add(2)
	go func() { defer j.wg.Done(); _ = j.srv.Serve(ln) }()
	go j.maintainLoop()
	return j, nil
}

// URL is the controller's root URL, with a trailing slash.
func (j *Jenkins) URL() string { return j.root }

// Clock is the emulator's time.
func (j *Jenkins) Clock() *emutime.Clock { return j.clock }

// Close stops the controller: agents are disconnected, builds end.
func (j *Jenkins) Close() error {
	j.cancel()
	j.mu.Lock()
	j.closed = true
	for _, n := range j.nodes {
		if n.conn != nil {
			n.conn.close()
		}
	}
	j.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = j.srv.Shutdown(ctx)
	_ = j.srv.Close()
	j.wg.Wait()
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Secret is the inbound agent secret of a node name:
// hex(HMAC-SHA256(instance key, name)), a pure function of the name.
func (j *Jenkins) Secret(name string) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.secretLocked(name)
}

func (j *Jenkins) secretLocked(name string) string {
	m := hmac.New(sha256.New, j.instanceKey)
	m.Write([]byte(name))
	return hex.EncodeToString(m.Sum(nil))
}

func (j *Jenkins) nowMillis() int64 { return j.clock.Now().UnixMilli() }

// kickLocked asks the maintenance loop to run now (Queue.maintain runs on
// events as well as periodically).
func (j *Jenkins) kickLocked() {
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

func (j *Jenkins) maintainLoop() {
	defer j.wg.Done()
	t := j.clock.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-j.ctx.Done():
			return
		case <-t.C:
		case <-j.kick:
		}
		j.mu.Lock()
		j.maintainLocked()
		j.mu.Unlock()
	}
}

func (j *Jenkins) sortedJobNames() []string {
	names := make([]string, 0, len(j.jobs))
	for n := range j.jobs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (j *Jenkins) sortedNodes() []*Node {
	out := make([]*Node, 0, len(j.nodes))
	for _, n := range j.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

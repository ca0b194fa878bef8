package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/jenkins"
	"github.com/jenkins-mesos/jenkins-mesos/proto"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/driver"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/ha"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/store"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"
)

func runFramework(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := map[string]string{}
	fs, path := flagSet("jenkins-mesos run", flags)
	newFramework := fs.String("new-framework", "", "after \"Framework has been removed\": the removed framework's ID, forgotten at the start so a new framework registers (only that ID: harmless if left in place)")
	s, err := parseSettings("run", fs, path, flags, args, getenv, stderr)
	if err != nil {
		return err
	}
	s.newFramework = *newFramework
	log, err := newLogger(s.file.Log.Level, s.file.Log.Format, stderr)
	if err != nil {
		return err
	}
	for _, w := range s.envWarnings {
		log.Warn(w)
	}
	for _, t := range s.core.Templates {
		if w := memoryWarning(t); w != "" {
			log.WithField("template", t.Name).Warn(w)
		}
	}
	reload := func() (*settings, error) { return loadSettings(*path, flags, getenv) }
	return serve(ctx, s, log, nil, reload)
}

// jenkinsClient is the Jenkins adapter for the settings: it sees only
// this framework's nodes.
func (s *settings) jenkinsClient() (*jenkins.Client, error) {
	return jenkins.New(jenkins.Config{URL: s.file.Jenkins.URL, User: s.file.Jenkins.User, Token: s.jenkinsToken,
		DescriptionPrefix: scheduler.NodeDescriptionPrefix + s.file.Mesos.FrameworkName + " "})
}

// driverConfig is the driver's part of the settings, without the core's
// (the caller sets Core).
func (s *settings) driverConfig(log *logrus.Logger) driver.Config {
	return driver.Config{Masters: s.masters, Encoding: s.file.Mesos.Encoding, User: s.file.Mesos.User, Role: s.file.Mesos.Role,
		Hostname: s.file.Mesos.Hostname, WebUIURL: s.file.Mesos.WebUIURL, Principal: s.file.Mesos.Principal, Secret: s.mesosSecret, ZKCredentials: s.mesosZKCreds,
		FailoverTimeout: s.failover, PollInterval: s.pollInterval, Log: log, Anchor: s.file.Jenkins.AnchorNode == nil || *s.file.Jenkins.AnchorNode}
}

// parseSettings parses a command's flags (made by flagSet, with the
// command's own added) and loads the configuration they name, the file
// given by --config or JENKINS_MESOS_CONFIG.
func parseSettings(cmd string, fs *flag.FlagSet, path *string, flags map[string]string, args []string, getenv func(string) string, stderr io.Writer) (*settings, error) {
	if err := parseFlags(fs, args, stderr); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%s: unexpected argument %q (keys are flags: --mesos.master URL)", cmd, fs.Arg(0))
	}
	if *path == "" && getenv("JENKINS_MESOS_CONFIG") != "" {
		*path = getenv("JENKINS_MESOS_CONFIG")
	}
	s, err := loadSettings(*path, flags, getenv)
	if *path == "" && errors.Is(err, errRequired) {
		return nil, fmt.Errorf("%w (no configuration file was given: --config FILE or JENKINS_MESOS_CONFIG)", err)
	}
	if err != nil {
		return nil, err
	}
	s.envWarnings = unknownEnv(getenv)
	return s, nil
}

func newLogger(level, format string, out io.Writer) (*logrus.Logger, error) {
	lvl, err := logrus.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("config: log.level %q: expected trace, debug, info, warn or error", level)
	}
	log := logrus.New()
	log.SetOutput(out)
	log.SetLevel(lvl)
	if format == "json" || (format == "auto" && !isTerminal(out)) {
		log.SetFormatter(&logrus.JSONFormatter{})
	} else {
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	}
	return log, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// serve runs the framework until ctx ends: the HTTP endpoints and the
// driver. A SIGTERM ends it cleanly without tearing the framework down:
// its agents keep running and the next instance adopts them.
//
// With state.zk the state lives in ZooKeeper and the instances sharing it
// elect a leader: only the leader runs the driver (subscribes, touches
// Jenkins); the others stand by, healthy, and one takes over when the
// leader's session ends. A leader that loses its leadership stops its
// driver at once and stands by again.
//
// reload, when not nil, is called on SIGHUP: the templates and limits it
// returns replace the running ones (see watchReload).
func serve(ctx context.Context, s *settings, log *logrus.Logger, hooks *driver.Config, reload func() (*settings, error)) error {
	jc, err := s.jenkinsClient()
	if err != nil {
		return err
	}
	var (
		st   driver.Store
		conn *ha.Conn
	)
	if z := strings.TrimSpace(s.file.State.ZK); z != "" {
		if conn, err = ha.Dial(z, time.Duration(s.file.State.ZKSessionTimeout), s.stateZKCreds); err != nil {
			return err
		}
		defer conn.Close()
		st = conn.Store()
		if file, err := store.NewFile(s.file.State.Dir); err == nil {
			// Moving to state.zk from a single instance: the framework ID in
			// state.dir is taken over, so the running agents are adopted
			// rather than left to a framework nobody subscribes as.
			st = &takeOver{primary: st, previous: file, log: log}
		}
	} else {
		// Two instances on one state.dir would take the framework from
		// each other at every subscription ("Framework failed over").
		file, release, err := lockStateDir(s.file.State.Dir, "one instance per state.dir (several instances, one leader: state.zk)")
		if err != nil {
			return err
		}
		defer release()
		st = file
	}
	ln, err := net.Listen("tcp", s.file.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen %s: %w", s.file.HTTP.Listen, err)
	}
	inst := &instance{s: s}
	inst.metrics = newMetrics(inst)
	wctx, stopWaits := context.WithCancel(ctx)
	waitsDone := make(chan struct{})
	go func() { defer close(waitsDone); inst.metrics.waits.follow(wctx, jc.FateOf) }()
	defer func() { stopWaits(); <-waitsDone }()
	srv := &http.Server{Handler: inst.mux(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.WithFields(logrus.Fields{"version": version, "masters": s.masters, "jenkins": jc.URL(), "http": ln.Addr().String(),
		"templates": len(s.core.Templates)}).Info("jenkins-mesos starting")
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if s.file.Jenkins.User != "" && s.jenkinsToken == "" {
		log.WithField("jenkins_user", s.file.Jenkins.User).Warn("jenkins.user is set but no API token (JENKINS_MESOS_JENKINS_TOKEN or jenkins.token_file): a Jenkins with security refuses every request")
	}
	if v, err := jc.Ping(pctx); err != nil {
		if hint := s.jenkinsAuthHint(err); hint != "" {
			log.WithError(err).Error(hint + "; polling will retry")
		} else {
			log.WithError(err).Warn("Jenkins does not answer yet; polling will retry")
		}
	} else {
		log.WithField("jenkins_version", v).Info("Jenkins reachable")
	}
	cancel()
	if reload != nil {
		rctx, stopReload := context.WithCancel(ctx)
		defer stopReload()
		go watchReload(rctx, inst, reload, log)
	}
	host, _ := os.Hostname()
	advertise := host + " " + ln.Addr().String()
	for {
		var lost <-chan struct{}
		if conn != nil {
			inst.setRole("standby", nil)
			log.WithField("state_zk", s.file.State.ZK).Info("standing by: waiting to lead")
			lost, err = conn.Campaign(ctx, advertise, func(leader string) {
				if inst.setLeader(leader) {
					log.WithField("leader", leader).Info("standby; another instance leads")
				}
			})
			if err != nil {
				log.Info("stopped while standing by")
				return nil
			}
			log.Info("elected leader; starting the framework")
		}
		dcfg := s.driverConfig(log)
		dcfg.Core = inst.core()
		dcfg.ForgetFrameworkID = s.newFramework
		dcfg.OnReady = func(rd scheduler.Ready, t time.Time) { inst.metrics.ready(rd) }
		dcfg.OnEvent = inst.metrics.event
		if hooks != nil {
			dcfg.Seed = hooks.Seed
			if hooks.OnReady != nil {
				dcfg.OnReady = func(rd scheduler.Ready, t time.Time) { inst.metrics.ready(rd); hooks.OnReady(rd, t) }
			}
			if hooks.OnEvent != nil {
				dcfg.OnEvent = func(ev scheduler.Event) { inst.metrics.event(ev); hooks.OnEvent(ev) }
			}
		}
		d := driver.New(dcfg, adaptJenkins(jc), st)
		inst.metrics.waits.newTerm()
		inst.setRole("leader", d)
		dctx, stop := context.WithCancel(ctx)
		deposed := make(chan struct{})
		if lost != nil {
			go func() {
				select {
				case <-lost:
					close(deposed)
					stop()
				case <-dctx.Done():
				}
			}()
		}
		sampled := make(chan struct{})
		if every := time.Duration(s.file.Mesos.UsageInterval); every > 0 {
			go func() { defer close(sampled); sampleUsage(dctx, every, d, inst.metrics.usage, log) }()
		} else {
			close(sampled)
		}
		err = d.Run(dctx)
		stop()
		<-sampled
		inst.setRole("stopping", nil)
		if errors.Is(err, driver.ErrFrameworkRemoved) {
			log.Error(err.Error())
			return err
		}
		if ctx.Err() != nil {
			log.Info("stopped; the framework stays registered and its agents keep running until the next instance adopts them")
			return nil
		}
		if conn == nil {
			return err
		}
		select {
		case <-deposed:
			log.Warn("leadership lost (the ZooKeeper session ended); the framework stopped here and this instance stands by again")
			continue
		default:
		}
		if errors.Is(err, ha.ErrNotLeader) {
			log.WithError(err).Warn("leadership lost; standing by again")
			conn.Resign()
			continue
		}
		// Any other error: give the leadership up so a standby can lead.
		conn.Resign()
		return err
	}
}

// takeOver reads the state from primary, or, while primary has none yet,
// from previous (the state.dir of an instance that ran before state.zk);
// it writes to primary only.
type takeOver struct {
	primary, previous driver.Store
	log               *logrus.Logger
}

func (t *takeOver) Load() (*proto.State, error) {
	st, err := t.primary.Load()
	if err != nil || st != nil {
		return st, err
	}
	prev, err := t.previous.Load()
	if err != nil {
		// An unreadable old state.dir is no reason not to start: say so.
		t.log.WithError(err).Warn("state.zk has no state yet and state.dir cannot be read; starting as a new framework")
		return nil, nil
	}
	if prev == nil {
		return nil, nil
	}
	t.log.WithField("framework_id", prev.GetFrameworkId()).Info("state.zk has no state yet: taking over the framework ID found in state.dir")
	return prev, nil
}

func (t *takeOver) Save(st *proto.State) error { return t.primary.Save(st) }

// lockStateDir opens state.dir for this process alone (store.File.Lock);
// inUse says what to do when another process holds it.
func lockStateDir(dir, inUse string) (*store.File, func(), error) {
	file, err := store.NewFile(dir)
	if err != nil {
		return nil, nil, err
	}
	release, err := file.Lock()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s", err, inUse)
	}
	return file, release, nil
}

// adaptJenkins is the identity; a build with the chaos_broken tag (see
// chaos_broken.go) replaces it to make a deliberately broken framework
// for the chaos suite to catch.
var adaptJenkins = func(j driver.Jenkins) driver.Jenkins { return j }

// instance is what the HTTP endpoints and the reload see of serve: the
// running settings and the driver of the current leadership term.
type instance struct {
	mu      sync.Mutex
	s       *settings
	d       *driver.Driver
	role    string
	leader  string
	metrics *metrics
}

func (in *instance) setRole(role string, d *driver.Driver) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.role, in.d = role, d
	if role == "leader" {
		in.leader = ""
	}
}

// setLeader records the leader a standby sees; true when it changed.
func (in *instance) setLeader(l string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	changed := in.leader != l
	in.leader = l
	return changed
}

func (in *instance) current() (*driver.Driver, string, string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.d, in.role, in.leader
}

// templates is the running configuration's templates (none before one is
// loaded).
func (in *instance) templates() []scheduler.Template {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.s == nil {
		return nil
	}
	return in.s.core.Templates
}

func (in *instance) core() scheduler.Config {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.s.core
}

func (in *instance) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		d, role, leader := in.current()
		if d == nil {
			// A standby is healthy: it is ready to lead.
			if role == "standby" {
				fmt.Fprintln(w, "standby; the leader is", leader)
				return
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, role)
			return
		}
		ok, why := d.Healthy()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, why)
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		d, role, leader := in.current()
		out := map[string]any{"role": role}
		if d != nil {
			var waited func(int64) (time.Duration, bool)
			if in.metrics != nil {
				waited = in.metrics.waits.waited
			}
			out = statusJSON(d.Status(), waited)
			out["role"] = role
			if in.metrics != nil {
				out["sizing"] = in.metrics.usage.sizing()
			}
		} else if leader != "" {
			out["leader"] = leader
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	if in.metrics != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(in.metrics.reg, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"version": version})
	})
	return mux
}

// watchReload applies the configuration again on every SIGHUP: templates,
// limits and the strategy take effect at once (a fixed image closes its
// template's breaker); a file that does not validate is refused and the
// running configuration kept. Keys that need a restart (the Mesos and
// Jenkins connections, the state, the listener) are reported, not applied.
func watchReload(ctx context.Context, in *instance, reload func() (*settings, error), log *logrus.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		next, err := reload()
		if err != nil {
			log.WithError(err).Error("SIGHUP: configuration refused; the running configuration stays")
			continue
		}
		in.mu.Lock()
		running := in.s
		diff := restartOnly(running, next)
		// What the next leadership term starts with, and what the running
		// driver gets now.
		updated := *running
		updated.file.Templates, updated.file.Limits, updated.file.Strategy = next.file.Templates, next.file.Limits, next.file.Strategy
		updated.core = next.core
		updated.core.FrameworkName, updated.core.JenkinsURL = running.core.FrameworkName, running.core.JenkinsURL
		in.s = &updated
		d := in.d
		in.mu.Unlock()
		if len(diff) > 0 {
			log.WithField("keys", strings.Join(diff, ", ")).Warn("SIGHUP: these keys change only with a restart; they keep their running values")
		}
		if d != nil {
			if err := d.Reconfigure(ctx, updated.core); err != nil {
				return
			}
		}
		log.WithField("templates", len(next.core.Templates)).Info("SIGHUP: configuration reloaded")
	}
}

// restartOnly lists the keys that differ between a and b and that a
// reload cannot apply.
func restartOnly(a, b *settings) []string {
	var out []string
	if !reflect.DeepEqual(a.file.Mesos, b.file.Mesos) || a.mesosSecret != b.mesosSecret || a.mesosZKCreds != b.mesosZKCreds {
		out = append(out, "mesos.*")
	}
	if a.file.Jenkins.URL != b.file.Jenkins.URL || a.file.Jenkins.User != b.file.Jenkins.User || a.jenkinsToken != b.jenkinsToken ||
		a.file.Jenkins.PollInterval != b.file.Jenkins.PollInterval || !reflect.DeepEqual(a.file.Jenkins.AnchorNode, b.file.Jenkins.AnchorNode) {
		out = append(out, "jenkins.url/user/token/poll_interval/anchor_node")
	}
	if !reflect.DeepEqual(a.file.State, b.file.State) || a.stateZKCreds != b.stateZKCreds {
		out = append(out, "state.*")
	}
	if a.file.HTTP != b.file.HTTP {
		out = append(out, "http.listen")
	}
	if a.file.Log != b.file.Log {
		out = append(out, "log.*")
	}
	return out
}

// statusJSON is /status: what the framework is doing and why builds wait.
// waited, when not nil, says how long a build has waited for an agent
// (the wait meter's measure); such builds get "waited_seconds".
func statusJSON(st scheduler.Status, waited func(int64) (time.Duration, bool)) map[string]any {
	waiting := make([]map[string]any, 0, len(st.Waiting))
	for _, w := range st.Waiting {
		b := map[string]any{"build": w.Build, "job": w.Name, "template": w.Template, "quiet": w.Quiet, "code": w.Code, "reason": w.Reason}
		if waited != nil {
			if d, ok := waited(w.Build); ok {
				b["waited_seconds"] = math.Round(d.Seconds()*10) / 10
			}
		}
		waiting = append(waiting, b)
	}
	tmpls := make([]map[string]any, 0, len(st.Templates))
	for _, t := range st.Templates {
		tmpls = append(tmpls, map[string]any{"name": t.Template, "waiting": t.Waiting, "agents": t.Agents, "code": t.Code, "reason": t.Reason})
	}
	return map[string]any{"subscribed": st.Subscribed, "suppressed": st.Suppressed, "framework_id": st.FrameworkID,
		"agents": st.Agents, "templates": tmpls, "waiting": waiting}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/jenkins"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/driver"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/store"
	"github.com/sirupsen/logrus"
)

func runFramework(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := map[string]string{}
	fs, path := flagSet("jenkins-mesos run", flags)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("run: unexpected argument %q (keys are flags: --mesos.master URL)", fs.Arg(0))
	}
	if *path == "" && getenv("JENKINS_MESOS_CONFIG") != "" {
		*path = getenv("JENKINS_MESOS_CONFIG")
	}
	s, err := loadSettings(*path, flags, getenv)
	if err != nil {
		return err
	}
	log, err := newLogger(s.file.Log.Level, s.file.Log.Format, stderr)
	if err != nil {
		return err
	}
	reload := func() (*settings, error) { return loadSettings(*path, flags, getenv) }
	return serve(ctx, s, log, nil, reload)
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
// reload, when not nil, is called on SIGHUP: the templates and limits it
// returns replace the running ones (see watchReload).
func serve(ctx context.Context, s *settings, log *logrus.Logger, hooks *driver.Config, reload func() (*settings, error)) error {
	st, err := store.NewFile(s.file.State.Dir)
	if err != nil {
		return err
	}
	jc, err := jenkins.New(jenkins.Config{URL: s.file.Jenkins.URL, User: s.file.Jenkins.User, Token: s.jenkinsToken,
		DescriptionPrefix: scheduler.NodeDescriptionPrefix + s.file.Mesos.FrameworkName + " "})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.file.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen %s: %w", s.file.HTTP.Listen, err)
	}
	dcfg := driver.Config{Core: s.core, Masters: s.masters, Encoding: s.file.Mesos.Encoding, User: s.file.Mesos.User, Role: s.file.Mesos.Role,
		Hostname: s.file.Mesos.Hostname, WebUIURL: s.file.Mesos.WebUIURL, Principal: s.file.Mesos.Principal, Secret: s.mesosSecret,
		FailoverTimeout: s.failover, PollInterval: s.pollInterval, Log: log, Anchor: s.file.Jenkins.AnchorNode == nil || *s.file.Jenkins.AnchorNode}
	if hooks != nil {
		dcfg.OnReady, dcfg.OnEvent, dcfg.Seed = hooks.OnReady, hooks.OnEvent, hooks.Seed
	}
	d := driver.New(dcfg, jc, st)
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		ok, why := d.Healthy()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, why)
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(statusJSON(d.Status()))
	})
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"version": version})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.WithFields(logrus.Fields{"version": version, "masters": s.masters, "jenkins": jc.URL(), "http": ln.Addr().String(),
		"templates": len(s.core.Templates)}).Info("jenkins-mesos starting")
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if v, err := jc.Ping(pctx); err != nil {
		log.WithError(err).Warn("Jenkins does not answer yet; polling will retry")
	} else {
		log.WithField("jenkins_version", v).Info("Jenkins reachable")
	}
	cancel()
	if reload != nil {
		rctx, stopReload := context.WithCancel(ctx)
		defer stopReload()
		go watchReload(rctx, s, reload, d, log)
	}
	err = d.Run(ctx)
	if errors.Is(err, driver.ErrFrameworkRemoved) {
		log.Error(err.Error())
		return err
	}
	if err != nil {
		return err
	}
	log.Info("stopped; the framework stays registered and its agents keep running until the next instance adopts them")
	return nil
}

// watchReload applies the configuration again on every SIGHUP: templates,
// limits and the strategy take effect at once (a fixed image closes its
// template's breaker); a file that does not validate is refused and the
// running configuration kept. Keys that need a restart (the Mesos and
// Jenkins connections, the state, the listener) are reported, not applied.
func watchReload(ctx context.Context, running *settings, reload func() (*settings, error), d *driver.Driver, log *logrus.Logger) {
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
		if diff := restartOnly(running, next); len(diff) > 0 {
			log.WithField("keys", strings.Join(diff, ", ")).Warn("SIGHUP: these keys change only with a restart; they keep their running values")
		}
		if err := d.Reconfigure(ctx, next.core); err != nil {
			return
		}
		running.file.Templates, running.file.Limits, running.file.Strategy = next.file.Templates, next.file.Limits, next.file.Strategy
		running.core.Templates = next.core.Templates
		log.WithField("templates", len(next.core.Templates)).Info("SIGHUP: configuration reloaded")
	}
}

// restartOnly lists the keys that differ between a and b and that a
// reload cannot apply.
func restartOnly(a, b *settings) []string {
	var out []string
	if !reflect.DeepEqual(a.file.Mesos, b.file.Mesos) || a.mesosSecret != b.mesosSecret {
		out = append(out, "mesos.*")
	}
	if a.file.Jenkins.URL != b.file.Jenkins.URL || a.file.Jenkins.User != b.file.Jenkins.User || a.jenkinsToken != b.jenkinsToken ||
		a.file.Jenkins.PollInterval != b.file.Jenkins.PollInterval || !reflect.DeepEqual(a.file.Jenkins.AnchorNode, b.file.Jenkins.AnchorNode) {
		out = append(out, "jenkins.url/user/token/poll_interval/anchor_node")
	}
	if !reflect.DeepEqual(a.file.State, b.file.State) {
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
func statusJSON(st scheduler.Status) map[string]any {
	waiting := make([]map[string]any, 0, len(st.Waiting))
	for _, w := range st.Waiting {
		waiting = append(waiting, map[string]any{"build": w.Build, "job": w.Name, "code": w.Code, "reason": w.Reason})
	}
	tmpls := make([]map[string]any, 0, len(st.Templates))
	for _, t := range st.Templates {
		tmpls = append(tmpls, map[string]any{"name": t.Template, "waiting": t.Waiting, "agents": t.Agents, "code": t.Code, "reason": t.Reason})
	}
	return map[string]any{"subscribed": st.Subscribed, "suppressed": st.Suppressed, "framework_id": st.FrameworkID,
		"agents": st.Agents, "templates": tmpls, "waiting": waiting}
}

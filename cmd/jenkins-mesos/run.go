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
	return serve(ctx, s, log, nil)
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
func serve(ctx context.Context, s *settings, log *logrus.Logger, hooks *driver.Config) error {
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

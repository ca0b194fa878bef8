package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/executor"
	"github.com/jenkins-mesos/jenkins-mesos/proto"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/driver"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/ha"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/store"
)

// errCheckFailed: a probe failed (each failure is printed).
var errCheckFailed = errors.New("check failed")

// runCheck is `jenkins-mesos check`: validate the configuration exactly as
// run would load it (file, environment, flags, secrets) and print what it
// means; then, unless --offline, reach Jenkins, the leading Mesos master
// and the state store the way run will. It changes nothing in Jenkins or
// Mesos: no node is created and nothing subscribes, so it is safe beside a
// running instance (for example before a SIGHUP).
func runCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := map[string]string{}
	fs, path := flagSet("jenkins-mesos check", flags)
	offline := fs.Bool("offline", false, "only validate the configuration; do not reach Jenkins, Mesos or the state store")
	timeout := fs.Duration("timeout", 20*time.Second, "give up on a probe after this long")
	s, err := parseSettings("check", fs, path, flags, args, getenv, stderr)
	if err != nil {
		return err
	}
	describeSettings(stdout, s, *path)
	if *offline {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	failed := false
	report := func(what string, probe func() (string, error)) {
		detail, err := probe()
		if err != nil {
			failed = true
			fmt.Fprintf(stdout, "%-8s FAILED: %s\n", what+":", strings.TrimPrefix(err.Error(), what+": "))
			return
		}
		fmt.Fprintf(stdout, "%-8s ok: %s\n", what+":", detail)
	}
	report("jenkins", func() (string, error) { return checkJenkins(ctx, s) })
	report("mesos", func() (string, error) { return checkMesos(ctx, s) })
	report("state", func() (string, error) { return checkState(s) })
	if failed {
		return errCheckFailed
	}
	return nil
}

// describeSettings prints the loaded configuration, secrets as set or not.
func describeSettings(w io.Writer, s *settings, path string) {
	f := s.file
	if path == "" {
		path = "no file: environment and flags"
	}
	set := func(v string) string {
		if v == "" {
			return "not set"
		}
		return "set"
	}
	fmt.Fprintf(w, "configuration: valid (%s)\n", path)
	principal := f.Mesos.Principal
	if principal == "" {
		principal = "none"
	} else {
		principal += ", secret " + set(s.mesosSecret)
	}
	usage := "agents' usage sampled every " + time.Duration(f.Mesos.UsageInterval).String()
	if f.Mesos.UsageInterval == 0 {
		usage = "agents' usage not sampled"
	}
	fmt.Fprintf(w, "  mesos:    %s as framework %q, role %s, user %s, principal %s, failover_timeout %s, %s\n",
		driver.RedactURL(strings.Join(s.masters, ",")), f.Mesos.FrameworkName, f.Mesos.Role, f.Mesos.User, principal, s.failover, usage)
	fmt.Fprintf(w, "  jenkins:  %s as %s (token %s), polled every %s\n", f.Jenkins.URL, f.Jenkins.User, set(s.jenkinsToken), s.pollInterval)
	if z := strings.TrimSpace(f.State.ZK); z != "" {
		creds := ""
		if s.stateZKCreds != "" {
			creds = ", digest credentials set"
		}
		fmt.Fprintf(w, "  state:    %s (ZooKeeper: one leader among the instances%s)\n", driver.RedactURL(z), creds)
	} else {
		fmt.Fprintf(w, "  state:    %s (a directory: one instance)\n", f.State.Dir)
	}
	c := s.core
	limit := "no cap"
	if c.MaxAgents > 0 {
		limit = fmt.Sprint(c.MaxAgents)
	}
	fmt.Fprintf(w, "  strategy: %s; at most %s agents; breaker after %d failures for %s\n", f.Strategy, limit, c.BreakerThreshold, c.BreakerCooldown)
	fmt.Fprintf(w, "  templates (a build takes the first whose labels match):\n")
	for _, t := range c.Templates {
		fmt.Fprintf(w, "    %s\n", describeTemplate(t))
	}
	for _, t := range c.Templates {
		if warn := memoryWarning(t); warn != "" {
			fmt.Fprintf(w, "  warning: %s\n", warn)
		}
	}
	for _, warn := range s.envWarnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
}

// jvmMinMB is about the least an inbound agent's JVM runs in. It is a
// warning's threshold, not a rule: Jenkins' Mesos plugin gives agents 512
// MB by default (peers-and-pain-points, 1.3).
const jvmMinMB = 128

// memoryWarning says when a template's container is likely too small for
// the inbound agent's JVM: where memory is enforced the kernel kills it.
func memoryWarning(t scheduler.Template) string {
	limit := t.Container.MemLimit
	if math.IsInf(limit, 1) || max(limit, t.Mem) >= jvmMinMB {
		return ""
	}
	what := fmt.Sprintf("%g MB (mem, and no mem_limit)", t.Mem)
	if limit > 0 {
		what = fmt.Sprintf("%g MB (mem_limit)", limit)
	}
	return fmt.Sprintf("template %s: a container of %s is likely too little for the inbound agent's JVM (the Jenkins Mesos plugin's default is 512 MB), and where memory is enforced the agent is killed: set mem_limit (e.g. 1024, or unlimited) to keep the slice small in offers, or raise mem; status's SIZING table shows what agents really use", t.Name, what)
}

func describeTemplate(t scheduler.Template) string {
	ct := t.Container
	how := string(ct.Containerizer)
	if how == "" {
		how = string(executor.Docker)
	}
	net := string(ct.Network)
	if net == "" {
		net = string(executor.Host)
	}
	parts := []string{
		fmt.Sprintf("%s: labels %s", t.Name, strings.Join(t.Labels, " ")),
		fmt.Sprintf("%g cpus, %g MB mem, %g MB disk, %d port(s), %d executor(s)", t.CPUs, t.Mem, t.Disk, t.Ports, max(t.Executors, 1)),
		fmt.Sprintf("%s %s (%s network)", how, ct.Image, net),
	}
	if t.MaxInstances > 0 {
		parts = append(parts, fmt.Sprintf("up to %d", t.MaxInstances))
	}
	if t.MinIdle > 0 {
		parts = append(parts, fmt.Sprintf("%d kept warm", t.MinIdle))
	}
	if len(t.Images) > 0 {
		parts = append(parts, "builds may choose images "+strings.Join(t.Images, " "))
	}
	if t.MaxCPUs > 0 || t.MaxMem > 0 {
		parts = append(parts, fmt.Sprintf("builds may choose up to %g cpus, %g MB mem", max(t.MaxCPUs, t.CPUs), max(t.MaxMem, t.Mem)))
	}
	if t.Retention == scheduler.RetainIdle {
		parts = append(parts, fmt.Sprintf("kept while idle for %s", t.IdleTimeout))
	} else {
		parts = append(parts, "one build per agent")
	}
	if t.Role != "" {
		parts = append(parts, "role "+t.Role)
	}
	if len(t.Constraints) > 0 {
		parts = append(parts, fmt.Sprintf("%d constraint(s)", len(t.Constraints)))
	}
	if n := len(ct.Env); n > 0 {
		names := sortedKeys(ct.Env) // names only: values may be anything
		parts = append(parts, "env "+strings.Join(names, " "))
	}
	if n := len(ct.URIs); n > 0 {
		parts = append(parts, fmt.Sprintf("%d uri(s)", n))
	}
	return strings.Join(parts, "; ")
}

// checkJenkins reads Jenkins' version and the framework's nodes with the
// configured user and token, as a poll does.
func checkJenkins(ctx context.Context, s *settings) (string, error) {
	jc, err := s.jenkinsClient()
	if err != nil {
		return "", err
	}
	hinted := func(err error) error {
		if hint := s.jenkinsAuthHint(err); hint != "" {
			return fmt.Errorf("%w (%s)", err, hint)
		}
		return err
	}
	v, err := jc.Ping(ctx)
	if err != nil {
		return "", hinted(err)
	}
	nodes, err := jc.Nodes(ctx)
	if err != nil {
		return "", hinted(err)
	}
	busy := 0
	for _, n := range nodes {
		if n.Busy > 0 {
			busy++
		}
	}
	out := fmt.Sprintf("Jenkins %s at %s; %d node(s) of framework %q, %d busy", v, jc.URL(), len(nodes), s.file.Mesos.FrameworkName, busy)
	quieting, why, err := jc.QuietingDown(ctx)
	if err != nil {
		return "", hinted(err)
	}
	if quieting {
		out += "; quieting down (Prepare for Shutdown"
		if why != "" {
			out += ": " + why
		}
		out += "): its queued builds get no agent until that is cancelled"
	}
	return out, nil
}

// checkMesos finds the leading master and reads its version. The Mesos
// secret is checked by the master at subscription, not here.
func checkMesos(ctx context.Context, s *settings) (string, error) {
	leader, v, err := driver.Probe(ctx, s.driverConfig(nil))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("leading master %s, Mesos %s", leader, v), nil
}

// checkState reads the stored state, without taking leadership or
// creating the state directory.
func checkState(s *settings) (string, error) {
	var st *proto.State
	where := ""
	if z := strings.TrimSpace(s.file.State.ZK); z != "" {
		conn, err := ha.Dial(z, time.Duration(s.file.State.ZKSessionTimeout), s.stateZKCreds)
		if err != nil {
			return "", err
		}
		defer conn.Close()
		if st, err = conn.Store().Load(); err != nil {
			return "", err
		}
		where = driver.RedactURL(z)
	} else {
		dir := s.file.State.Dir
		where = dir
		switch fi, err := os.Stat(dir); {
		case errors.Is(err, os.ErrNotExist):
			return fmt.Sprintf("%s does not exist yet (run creates it); no framework ID stored, run registers a new framework", dir), nil
		case err != nil:
			return "", fmt.Errorf("state.dir %s: %w", dir, err)
		case !fi.IsDir():
			return "", fmt.Errorf("state.dir %s: not a directory", dir)
		}
		if err := syscall.Access(dir, 0o2|0o1); err != nil {
			return "", fmt.Errorf("state.dir %s: not writable by this user: %w", dir, err)
		}
		fs, err := store.NewFile(dir)
		if err != nil {
			return "", err
		}
		if st, err = fs.Load(); err != nil {
			return "", err
		}
		if holder, held := fs.Holder(); held {
			where += " (in use by a running instance: " + holder + ")"
		}
	}
	if id := st.GetFrameworkId(); id != "" {
		named := ""
		if n := st.GetFrameworkName(); n != "" && n != s.file.Mesos.FrameworkName {
			named = fmt.Sprintf(", registered as %q (the configured name is %q)", n, s.file.Mesos.FrameworkName)
		}
		return fmt.Sprintf("%s holds framework ID %s%s; run re-subscribes as it", where, id, named), nil
	}
	return fmt.Sprintf("%s: no framework ID stored; run registers a new framework", where), nil
}

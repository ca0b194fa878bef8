package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/scheduler/driver"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/ha"
)

// runTeardown is `jenkins-mesos teardown`: remove the framework for good,
// for decommissioning. With the instances stopped, it refuses while a
// build runs on one of the framework's agents (unless --force), then
// tears the framework down in Mesos (every task killed, the framework
// forgotten), deletes the framework's Jenkins nodes, and clears the stored
// framework ID so that a later start registers anew.
func runTeardown(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := map[string]string{}
	fs, path := flagSet("jenkins-mesos teardown", flags)
	force := fs.Bool("force", false, "tear down even while builds run on the framework's agents (they fail as Jenkins fails a build whose agent vanished), or while Jenkins does not answer (its nodes are then left)")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long (with state.zk, waiting to lead counts)")
	s, err := parseSettings("teardown", fs, path, flags, args, getenv, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	jc, err := s.jenkinsClient()
	if err != nil {
		return err
	}
	nodes, err := jc.Nodes(ctx)
	listed := err == nil
	if err != nil {
		if !*force {
			if hint := s.jenkinsAuthHint(err); hint != "" {
				return fmt.Errorf("teardown: listing the framework's Jenkins nodes: %w (%s)", err, hint)
			}
			return fmt.Errorf("teardown: listing the framework's Jenkins nodes: %w (with --force the framework is torn down in Mesos anyway and its nodes are left to delete by hand)", err)
		}
		fmt.Fprintf(stderr, "jenkins-mesos: teardown: Jenkins does not answer (%v); tearing down in Mesos only, the framework's nodes are left\n", err)
	}
	var busy []string
	for _, n := range nodes {
		if n.Busy > 0 {
			busy = append(busy, n.Name)
		}
	}
	sort.Strings(busy)
	if len(busy) > 0 && !*force {
		return fmt.Errorf("teardown: builds run on %s; wait for them, or use --force (they would fail as builds whose agent vanished)", strings.Join(busy, ", "))
	}
	var st driver.Store
	if z := strings.TrimSpace(s.file.State.ZK); z != "" {
		conn, err := ha.Dial(z, time.Duration(s.file.State.ZKSessionTimeout), s.stateZKCreds)
		if err != nil {
			return err
		}
		defer conn.Close()
		// The state is written only by a leader: waiting to lead is also
		// how a running instance is noticed.
		if _, err := conn.Campaign(ctx, "teardown", nil); err != nil {
			return fmt.Errorf("teardown: another instance leads (stop the framework's instances first, e.g. scale the Marathon app to 0): %w", err)
		}
		defer conn.Resign()
		st = conn.Store()
	} else {
		file, release, err := lockStateDir(s.file.State.Dir, "stop the framework's instance first")
		if err != nil {
			return err
		}
		defer release()
		st = file
	}
	dcfg := s.driverConfig(nil)
	dcfg.Core = s.core
	id, err := driver.Teardown(ctx, dcfg, st)
	switch {
	case errors.Is(err, driver.ErrNotRegistered):
		fmt.Fprintln(stdout, "no framework ID is stored; nothing to tear down in Mesos")
	case err != nil:
		return err
	default:
		fmt.Fprintf(stdout, "framework %s torn down in Mesos: its tasks are killed and the master forgets it\n", id)
	}
	deleted := 0
	for _, n := range nodes {
		if err := jc.DeleteNode(ctx, n.Name); err != nil {
			return fmt.Errorf("teardown: deleting node %s: %w (run teardown again to finish)", n.Name, err)
		}
		deleted++
	}
	if !listed {
		fmt.Fprintf(stdout, "the stored framework ID is cleared; the Jenkins nodes of framework %q are NOT deleted (Jenkins did not answer): run teardown again once it does\n", s.file.Mesos.FrameworkName)
		return nil
	}
	fmt.Fprintf(stdout, "%d Jenkins node(s) of framework %q deleted; the stored framework ID is cleared\n", deleted, s.file.Mesos.FrameworkName)
	return nil
}

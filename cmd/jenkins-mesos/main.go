// Command jenkins-mesos runs the framework (run), shows it working on
// emulated Mesos and Jenkins (demo), and prints its version (version).
//
//	jenkins-mesos run --config jenkins-mesos.yaml [--mesos.master URL ...]
//	jenkins-mesos demo [--jobs 5] [--agents 2] [--sleep 100s] [--time-scale 20] [--keep]
//	jenkins-mesos teardown --config jenkins-mesos.yaml [--force]
//	jenkins-mesos check --config jenkins-mesos.yaml [--offline]
//	jenkins-mesos status [--url http://host:8090 | --config jenkins-mesos.yaml]
//	jenkins-mesos version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `Usage:
  jenkins-mesos run --config FILE [--KEY VALUE ...]   run the framework (see run --help)
  jenkins-mesos demo [flags]                          emulated Mesos + Jenkins + the framework (see demo --help)
  jenkins-mesos teardown --config FILE [--force]      remove the framework for good: Mesos tasks, Jenkins nodes, stored ID
  jenkins-mesos check --config FILE [--offline]       validate the configuration, then reach Jenkins, Mesos and the state (changes nothing)
  jenkins-mesos status [--url URL | --config FILE]    a running instance's /status, for people
  jenkins-mesos version                               print the version`)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = runFramework(ctx, args[1:], getenv, stdout, stderr)
	case "demo":
		err = runDemo(ctx, args[1:], stdout, stderr)
	case "teardown":
		err = runTeardown(ctx, args[1:], getenv, stdout, stderr)
	case "status":
		err = runStatus(ctx, args[1:], getenv, stdout, stderr)
	case "check":
		err = runCheck(ctx, args[1:], getenv, stdout, stderr)
	case "agent-standin":
		err = runAgentStandin(ctx, args[1:], getenv, stdout)
	case "version", "--version":
		fmt.Fprintln(stdout, "jenkins-mesos", version)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "jenkins-mesos: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "jenkins-mesos:", err)
		return 1
	}
	return 0
}

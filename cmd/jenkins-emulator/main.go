// Command jenkins-emulator runs an emulated Jenkins controller, or (with
// the `agent` subcommand) the inbound-agent stand-in that connects to it,
// reading the same flags and JENKINS_* variables as the jenkins/inbound-agent
// image, so it can stand in for that image.
//
//	jenkins-emulator --listen 127.0.0.1:8080 [--home DIR] [--user admin --token TOKEN] \
//	   [--builtin-executors 0] [--time-scale 1]
//	jenkins-emulator agent -url http://127.0.0.1:8080/ -secret S -name N \
//	   [-workDir D] [-webSocket] [-noReconnect]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/jenkins-mesos/jenkins-mesos/integration/jenkinsemu"
	"github.com/sirupsen/logrus"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "agent" {
		err = runAgent(ctx, os.Args[2:], os.Getenv, os.Stdout)
	} else {
		err = runController(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	}
	if errors.Is(err, flag.ErrHelp) {
		return // --help printed the usage: that is success
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "jenkins-emulator:", err)
		os.Exit(1)
	}
}

func runController(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("jenkins-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "host:port to serve on")
	home := fs.String("home", "", "JENKINS_HOME: keeps nodes, jobs and build history across restarts")
	user := fs.String("user", "", "admin user name (turns security on)")
	token := fs.String("token", "", "the admin's API token (or JENKINS_EMULATOR_TOKEN)")
	password := fs.String("password", "", "the admin's password (or JENKINS_EMULATOR_PASSWORD); needs crumbs")
	anonRead := fs.Bool("anonymous-read", false, "let anonymous users read")
	executors := fs.Int("builtin-executors", 0, "executors of the built-in node")
	scale := fs.Float64("time-scale", 1, "emulated time runs this many times faster than real time")
	prefix := fs.String("prefix", "", "serve Jenkins under this context path, as Jenkins' own --prefix (e.g. /jenkins, behind a proxy at a sub-path)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: jenkins-emulator [flags]        run an emulated Jenkins controller")
		fmt.Fprintln(stderr, "       jenkins-emulator agent [flags]  run the inbound-agent stand-in (see jenkins-emulator agent --help)")
		fmt.Fprintln(stderr, "Flags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: the only subcommand is \"agent\"; the controller takes only flags (see --help)", fs.Arg(0))
	}
	if *token == "" {
		*token = getenv("JENKINS_EMULATOR_TOKEN")
	}
	if *password == "" {
		*password = getenv("JENKINS_EMULATOR_PASSWORD")
	}
	if *executors < 0 {
		return fmt.Errorf("--builtin-executors %d: must be zero or more", *executors)
	}
	if *scale <= 0 {
		return fmt.Errorf("--time-scale %g: must be positive", *scale)
	}
	if *user != "" && *token == "" && *password == "" {
		return errors.New("--user needs --token or --password (or JENKINS_EMULATOR_TOKEN / JENKINS_EMULATOR_PASSWORD)")
	}
	lvl, err := logrus.ParseLevel(*logLevel)
	if err != nil {
		return fmt.Errorf("--log-level %q: expected debug, info, warn or error", *logLevel)
	}
	log := logrus.New()
	log.SetOutput(stderr)
	log.SetLevel(lvl)
	j, err := jenkinsemu.New(jenkinsemu.Config{Listen: *listen, Prefix: *prefix, Home: *home, User: *user, Token: *token, Password: *password,
		AnonymousRead: *anonRead, BuiltinExecutors: *executors, TimeScale: *scale, Log: log})
	if err != nil {
		return err
	}
	defer j.Close()
	fmt.Fprintf(stdout, "jenkins-emulator %s at %s (time scale %g, security %v)\n", jenkinsemu.Version, j.URL(), *scale, *user != "")
	fmt.Fprintln(stdout, "  faults: POST /emulator/unavailable?seconds=N, /emulator/slow?seconds=N, /emulator/restart?seconds=N")
	<-ctx.Done()
	return nil
}

// runAgent reads the inbound-agent image's options: flags (-url, -secret,
// -name, -workDir, -webSocket, -noReconnect, or positional SECRET NAME) and
// the JENKINS_* environment variables.
func runAgent(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("jenkins-emulator agent", flag.ContinueOnError)
	fs.SetOutput(stdout)
	u := fs.String("url", getenv("JENKINS_URL"), "the controller's URL")
	secret := fs.String("secret", getenv("JENKINS_SECRET"), "the agent secret")
	name := fs.String("name", firstNonEmpty(getenv("JENKINS_NAME"), getenv("JENKINS_AGENT_NAME")), "the agent's node name")
	workDir := fs.String("workDir", getenv("JENKINS_AGENT_WORKDIR"), "work directory")
	webSocket := fs.Bool("webSocket", getenv("JENKINS_WEB_SOCKET") == "true", "connect over WebSocket")
	noReconnect := fs.Bool("noReconnect", false, "exit when the connection ends")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 2 && !strings.HasPrefix(rest[0], "-") {
		fmt.Fprintln(stdout, "WARNING: Providing the secret and agent name as positional arguments is deprecated; use \"-secret\" and \"-name\" instead.")
		*secret, *name = rest[0], rest[1]
	} else if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments %q", rest)
	}
	return jenkinsemu.RunAgent(ctx, jenkinsemu.AgentOptions{URL: *u, Secret: *secret, Name: *name, WorkDir: *workDir,
		WebSocket: *webSocket, NoReconnect: *noReconnect, Log: stdout})
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

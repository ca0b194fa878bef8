package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/integration/jenkinsemu"
)

func TestControllerFlagsAreValidated(t *testing.T) {
	env := func(string) string { return "" }
	cases := map[string][]string{
		"--builtin-executors": {"--builtin-executors", "-1"},
		"--time-scale":        {"--time-scale", "0"},
		"--user":              {"--user", "admin"},
		"--log-level":         {"--log-level", "loud"},
	}
	for flagName, args := range cases {
		var out, errOut bytes.Buffer
		err := runController(context.Background(), args, env, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), flagName) {
			t.Errorf("%v: %v, want an error naming %s", args, err, flagName)
		}
	}
}

func TestAgentReadsTheInboundAgentImageEnvironment(t *testing.T) {
	j, err := jenkinsemu.New(jenkinsemu.Config{Listen: "127.0.0.1:0", TimeScale: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	env := map[string]string{"JENKINS_URL": j.URL(), "JENKINS_SECRET": j.Secret("nobody"), "JENKINS_AGENT_NAME": "nobody", "JENKINS_WEB_SOCKET": "true"}
	var out bytes.Buffer
	// The node does not exist: the controller refuses, and the agent says
	// so with the name and secret it took from the environment, retrying
	// (remoting's WebSocket agent retries a refused handshake) until
	// stopped.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = runAgent(ctx, nil, func(k string) string { return env[k] }, &out)
	if err != nil || strings.Count(out.String(), "nobody is not a JNLP agent") < 2 || !strings.Contains(out.String(), "Waiting 1s before retry") {
		t.Fatalf("agent from env: %v (output %q), want the refusal retried", err, out.String())
	}
	// With -noReconnect it gives up on the refusal at once.
	out.Reset()
	err = runAgent(context.Background(), []string{"-noReconnect"}, func(k string) string { return env[k] }, &out)
	if err == nil || !strings.Contains(err.Error(), "nobody is not a JNLP agent") {
		t.Fatalf("agent from env with -noReconnect: %v (output %q)", err, out.String())
	}
	// Missing settings are named.
	err = runAgent(context.Background(), []string{"-url", j.URL()}, func(string) string { return "" }, &out)
	if err == nil || !strings.Contains(err.Error(), "-secret is required") {
		t.Fatalf("missing secret: %v", err)
	}
	// Positional SECRET NAME still work, with remoting's warning.
	out.Reset()
	err = runAgent(context.Background(), []string{"-url", j.URL(), "-noReconnect", j.Secret("ghost"), "ghost"}, func(string) string { return "" }, &out)
	if err == nil || !strings.Contains(out.String(), "positional arguments is deprecated") {
		t.Fatalf("positional: %v %q", err, out.String())
	}
}

func TestStrayArgumentsHelpAndUnreachableAgent(t *testing.T) {
	env := func(string) string { return "" }
	var out, errOut bytes.Buffer
	if err := runController(context.Background(), []string{"bogus-sub"}, env, &out, &errOut); err == nil || !strings.Contains(err.Error(), `"bogus-sub"`) {
		t.Fatalf("a stray argument: %v, want an error naming it", err)
	}
	errOut.Reset()
	if err := runController(context.Background(), []string{"--help"}, env, &out, &errOut); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v, want flag.ErrHelp (main exits 0 on it)", err)
	}
	if !strings.Contains(errOut.String(), "jenkins-emulator agent") {
		t.Fatalf("--help does not mention the agent subcommand:\n%s", errOut.String())
	}
	// An unreachable controller with -noReconnect is an error at once,
	// not a silent retry loop.
	done := make(chan error, 1)
	go func() {
		done <- runAgent(context.Background(), []string{"-url", "http://127.0.0.1:1/", "-secret", "s", "-name", "n", "-noReconnect"}, env, &out)
	}()
	select {
	case err := <-done:
		if !errors.Is(err, jenkinsemu.ErrUnreachable) || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Fatalf("unreachable controller with -noReconnect: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("agent -noReconnect kept retrying an unreachable controller")
	}
}

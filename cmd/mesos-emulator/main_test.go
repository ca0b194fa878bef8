package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"github.com/jenkins-mesos/jenkins-mesos/integration/syncbuf"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestFlagsAreValidatedWithClearErrors(t *testing.T) {
	cases := map[string][]string{
		"--listen":              {"--listen", "nohost"},
		"--masters":             {"--masters", "0"},
		"--time-scale":          {"--time-scale", "-1"},
		"--image":               {"--image", "noprogram"},
		"--agent-resources":     {"--agent-resources", "cpus:lots"},
		"--log-level":           {"--log-level", "loud"},
		"--heartbeat":           {"--heartbeat", "0s"},
		"--allocation-interval": {"--allocation-interval", "-1s"},
		"--offer-timeout":       {"--offer-timeout", "-5s"},
		"extra-arg":             {"extra-arg", "--listen", "127.0.0.1:0"},
		"--private-image":       {"--private-image", "corp/agent=nopassword"},
		"private-image":         {"--private-image", "corp/agent=u:p"}, // no --image stand-in
	}
	for flagName, args := range cases {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error()+errOut.String(), strings.TrimPrefix(flagName, "--")) {
			t.Errorf("%v: got %v (stderr %q), want an error naming %s", args, err, errOut.String(), flagName)
		}
	}
}

func TestHelpIsNotAnError(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out, &errOut); !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut.String(), "-seed") {
		t.Fatalf("--help: %v, want flag.ErrHelp (main exits 0) and the usage with --seed:\n%s", err, errOut.String())
	}
}

func TestEmulatorServesTheSchedulerAPIAndStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--agents", "2", "--time-scale", "10", "--sandbox", t.TempDir()}, out, io.Discard)
	}()
	re := regexp.MustCompile(`master 0: (http://\S+)`)
	var api string
	deadline := time.Now().Add(10 * time.Second)
	for api == "" && time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			api = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	if api == "" {
		t.Fatalf("no master URL printed: %q", out.String())
	}
	body := `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"cli"}}}`
	req, _ := http.NewRequest(http.MethodPost, api, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	_, _ = r.ReadString('\n')
	rec, _ := r.ReadString('}')
	resp.Body.Close()
	if !strings.Contains(rec, `"type":"SUBSCRIBED"`) {
		t.Fatalf("first record %q, want SUBSCRIBED", rec)
	}
	if !strings.Contains(out.String(), "agent2") {
		t.Fatalf("startup output does not list the agents: %q", out.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("run did not stop after cancel")
	}
}

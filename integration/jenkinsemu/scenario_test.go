package jenkinsemu

import (
	"fmt"
	"net/http"
	"testing"
)

// The classic setup: five freestyle jobs labelled mesos that sleep, five
// inbound nodes labelled mesos with a stand-in agent each; every build
// succeeds on one of those nodes.
func TestFiveSleepJobsRunOnFiveInboundAgents(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n"})
	for i := 1; i <= 5; i++ {
		createJob(t, j, fmt.Sprintf("sleep-%d", i), freestyle("mesos", "echo start", "sleep 10"))
	}
	for i := 1; i <= 5; i++ {
		r := call(t, j, http.MethodPost, fmt.Sprintf("/job/sleep-%d/build", i), nil)
		if r.code != 201 {
			t.Fatalf("build: %d %s", r.code, r.body)
		}
	}
	allWaiting := func(why string) func() bool {
		return func() bool {
			q := getJSON(t, j, "/queue/api/json")
			items := q["items"].([]any)
			if len(items) != 5 {
				return false
			}
			for _, it := range items {
				m := it.(map[string]any)
				if m["buildable"] != true || m["why"] != why || m["stuck"] != true {
					return false
				}
			}
			return true
		}
	}
	// No agents at all: Jenkins ignores the label in the message.
	waitFor(t, "five buildable items waiting", allWaiting("Waiting for next available executor"))
	for i := 1; i <= 5; i++ {
		createNode(t, j, fmt.Sprintf("mesos-%d", i), "mesos")
	}
	waitFor(t, "the label's nodes to be offline", allWaiting("All nodes of label ‘mesos’ are offline"))
	for i := 1; i <= 5; i++ {
		startAgent(t, j, fmt.Sprintf("mesos-%d", i))
	}
	builtOn := map[string]bool{}
	waitFor(t, "all five builds to succeed", func() bool {
		for i := 1; i <= 5; i++ {
			r := call(t, j, http.MethodGet, fmt.Sprintf("/job/sleep-%d/1/api/json", i), nil)
			if r.code != 200 {
				return false
			}
			b := getJSON(t, j, fmt.Sprintf("/job/sleep-%d/1/api/json", i))
			if b["result"] != "SUCCESS" {
				return false
			}
			builtOn[b["builtOn"].(string)] = true
		}
		return true
	})
	if len(builtOn) != 5 {
		t.Fatalf("builds ran on %v, want the five mesos nodes (one executor each)", builtOn)
	}
	for n := range builtOn {
		if n[:6] != "mesos-" {
			t.Fatalf("build ran on %q", n)
		}
	}
}

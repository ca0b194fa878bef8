package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/integration/emutime"
)

// The demo's framework polls at the default interval in emulated time,
// never below the configuration's minimum.
func TestDemoPollIntervalFollowsEmulatedTime(t *testing.T) {
	for _, c := range []struct {
		scale float64
		want  time.Duration
	}{{1, time.Second}, {2, 500 * time.Millisecond}, {10, 100 * time.Millisecond}, {20, 100 * time.Millisecond}, {0.5, 2 * time.Second}} {
		if got := demoPollInterval(time.Second, emutime.NewClock(c.scale)); got != c.want {
			t.Errorf("time ×%g: poll every %s, want %s", c.scale, got, c.want)
		}
	}
	s := demoSettings("http://127.0.0.1:5050", "http://127.0.0.1:8080/", "t0ken", t.TempDir(), emutime.NewClock(20))
	if got := time.Duration(s.file.Jenkins.PollInterval); got != 100*time.Millisecond {
		t.Errorf("the demo's settings poll every %s at ×20, want 100ms", got)
	}
}

// The summary counts builds and agents per host apart, and names the
// one-shot agents that ran more than one build, with why.
func TestDemoSummaryNamesAgentsThatRanSeveralBuilds(t *testing.T) {
	tr := newTracker()
	tr.hostOf = map[string]string{"mesos-a": "agent1", "mesos-b": "agent1", "mesos-c": "agent2"}
	p := newPeaks()
	p.total = map[string][2]float64{"agent1": {4, 8192}, "agent2": {4, 8192}}
	results := map[string]buildResult{
		"sleep-1": {Result: "SUCCESS", BuiltOn: "mesos-a"},
		"sleep-2": {Result: "SUCCESS", BuiltOn: "mesos-b"},
		"sleep-3": {Result: "SUCCESS", BuiltOn: "mesos-a"},
		"sleep-4": {Result: "SUCCESS", BuiltOn: "mesos-c"},
	}
	var out bytes.Buffer
	if !summary(&out, results, map[int64]int64{}, tr, p, 4, emutime.NewClock(20), 100*time.Millisecond) {
		t.Fatalf("summary: not ok with four successful builds:\n%s", out.String())
	}
	text := out.String()
	for _, re := range []string{
		`(?m)^HOST +PEAK CPUS USED +PEAK MEM USED \(MB\) +AGENTS +BUILDS$`,
		`(?m)^agent1 +0 of 4 +0 of 8192 +2 +3$`,
		`(?m)^agent2 +0 of 4 +0 of 8192 +1 +1$`,
		`(?m)^note: 1 one-shot agent ran more than one build:\n  mesos-a: sleep-1, sleep-3\n`,
		`poll interval \(100ms, 2s of emulated time\)`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("summary lacks %s:\n%s", re, text)
		}
	}

	results["sleep-3"] = buildResult{Result: "SUCCESS", BuiltOn: "mesos-d"}
	tr.hostOf["mesos-d"] = "agent2"
	out.Reset()
	summary(&out, results, map[int64]int64{}, tr, p, 4, emutime.NewClock(20), 100*time.Millisecond)
	if strings.Contains(out.String(), "note:") {
		t.Errorf("a note though every agent ran one build:\n%s", out.String())
	}
}

package integration

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDemoRunsOnEmbeddedDefaults runs the README's first command as a
// user would (the built program's `demo`, nothing configured): every
// build succeeds, nothing is left, and the agents' real use is shown.
func TestDemoRunsOnEmbeddedDefaults(t *testing.T) {
	cmd := exec.Command(filepath.Join(binaries(t), "jenkins-mesos"), "demo")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"all 5 builds succeeded; 0 Jenkins nodes and 0 Mesos tasks left; every agent's resources are free again",
		"BUILD       QUEUED→STARTED  AGENT",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	if got := strings.Count(text, " SUCCESS\n"); got != 5 {
		t.Errorf("%d builds reported SUCCESS; want 5:\n%s", got, text)
	}
	// Each agent lived seconds, sampled every second by its Mesos agent.
	if !regexp.MustCompile(`(?m)^SIZING +AGENTS .*\nmesos +[1-5] +0\.2 +\S+ +30 MB +[0-9.]+ MB`).MatchString(text) {
		t.Errorf("demo output lacks the SIZING row for mesos:\n%s", text)
	}
}

package mesosemu

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMesosFrameworkNodeClient drives the emulator with a third-party v1
// scheduler client, the Node.js mesos-framework library (pinned in
// testdata/mesos-framework; make test installs it with npm ci): subscribe,
// launch, acknowledge, reconcile, kill and teardown, as that library
// expects a Mesos master to answer (testdata/mesos-framework/session.js).
func TestMesosFrameworkNodeClient(t *testing.T) {
	u := leaderURL(t, newTestCluster(t, Config{Agents: 1}))
	script, err := filepath.Abs("testdata/mesos-framework/session.js")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script, u.Hostname(), u.Port())
	cmd.Dir = t.TempDir() // the library writes its log file there
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mesos-framework against the emulator: %v\n%s", err, out)
	}
}

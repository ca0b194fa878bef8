package jenkinsemu

import (
	"os/exec"
	"testing"
	"time"
)

// TestPythonJenkinsClient runs a third-party client, python-jenkins (the
// python3-jenkins Debian package, which make test installs), through the
// calls operators script against Jenkins: jobs, builds stopped, disabled,
// copied and renamed, nodes and their offline state (testdata/python_jenkins.py).
func TestPythonJenkinsClient(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Millisecond, AnonymousRead: true})
	// The stand-in for py1 retries until the script has created the node.
	startAgent(t, j, "py1")
	out, err := exec.Command("/usr/bin/python3", "testdata/python_jenkins.py", j.URL(), "admin", "t0k3n", Version).CombinedOutput()
	if err != nil {
		t.Fatalf("python-jenkins against the emulator: %v\n%s", err, out)
	}
}

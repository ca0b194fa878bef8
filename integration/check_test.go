package integration

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/integration/zktest"
)

// checkCmd runs `jenkins-mesos check` as an operator would, with the
// world's configuration and environment plus extra.
func (w *world) checkCmd(extraEnv []string, args ...string) (string, int) {
	w.t.Helper()
	cmd := exec.Command(filepath.Join(binaries(w.t), "jenkins-mesos"), append([]string{"check", "--config", w.configPath}, args...)...)
	cmd.Env = append(append(os.Environ(), w.env...), extraEnv...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return string(out), 0
}

// TestCheckProbesWithoutDisturbingARunningFramework: `check` beside a
// running instance reads Jenkins, the leader and the stored framework ID,
// and the instance is not failed over; a wrong token fails the Jenkins
// probe (exit 1) without printing it; a bad file is refused before any
// probe.
func TestCheckProbesWithoutDisturbingARunningFramework(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.freestyle("one", "mesos", 10)
	w.build("one")
	w.waitSucceeded("the build", 60*time.Second, "one")
	out, code := w.checkCmd(nil)
	if code != 0 {
		t.Fatalf("check exited %d:\n%s", code, out)
	}
	id := regexp.MustCompile(`subscribed as framework ([0-9a-f-]+)`).FindStringSubmatch(w.framework.output())[1]
	for _, want := range []string{
		"configuration: valid (" + w.configPath + ")",
		"mesos: labels mesos; 0.2 cpus, 30 MB mem",
		"jenkins: ok: Jenkins ",
		"node(s) of framework \"jenkins-mesos\"",
		"mesos:   ok: leading master " + w.mesos + ", Mesos ",
		"holds framework ID " + id + ";",
		"(in use by a running instance: pid ",
		"(token set)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, w.token) {
		t.Error("check printed the Jenkins token")
	}
	// Still the same subscription: nothing failed the framework over.
	w.freestyle("two", "mesos", 10)
	w.build("two")
	w.waitSucceeded("a build after the check", 60*time.Second, "two")
	if n := strings.Count(w.framework.output(), "subscribed as framework"); n != 1 {
		t.Errorf("the framework subscribed %d times; the check must not disturb it", n)
	}

	out, code = w.checkCmd([]string{"JENKINS_MESOS_JENKINS_TOKEN=wrong-token-123"})
	if code != 1 || !strings.Contains(out, "jenkins: FAILED: ") || !strings.Contains(out, "401") || !strings.Contains(out, "mesos:   ok:") ||
		!strings.Contains(out, `Jenkins refused user "admin" with the token from JENKINS_MESOS_JENKINS_TOKEN`) {
		t.Errorf("check with a wrong token: exit %d, want 1 with the Jenkins probe failed (401) and Mesos ok:\n%s", code, out)
	}
	if strings.Contains(out, "wrong-token-123") {
		t.Error("check printed the token it was given")
	}
	// Jenkins preparing for shutdown is worth saying: no build gets an agent.
	if r, b := w.jenkinsDo("POST", "quietDown?message=upgrade", "", ""); r.StatusCode != 302 {
		t.Fatalf("quietDown: %d %s", r.StatusCode, b)
	}
	if out, code = w.checkCmd(nil); code != 0 || !strings.Contains(out, "quieting down (Prepare for Shutdown: upgrade)") {
		t.Errorf("check while Jenkins quiets down: exit %d, want 0 saying so:\n%s", code, out)
	}
	w.jenkinsDo("POST", "cancelQuietDown", "", "")
	out, code = w.checkCmd(nil, "--templates", `[{"name": "x", "labels": "mesos", "cpus": 0, "mem": 1, "image": "i"}]`)
	if code != 1 || !strings.Contains(out, "templates[0] (x).cpus 0: must be positive") || strings.Contains(out, "jenkins:") {
		t.Errorf("check of a bad template: exit %d, want 1 with the error and no probe:\n%s", code, out)
	}
}

// TestStatusShowsTheInstanceForPeople: `jenkins-mesos status` reads the
// running instance's /status (found from the configuration's
// http.listen) and prints it as tables: the role and subscription, the
// agents, each template and each waiting build with its reason.
func TestStatusShowsTheInstanceForPeople(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.freestyle("gpu-build", "gpu", 10)
	w.build("gpu-build")
	var out string
	w.waitFor("the gpu build's reason in status", 30*time.Second, func() bool {
		cmd := exec.Command(filepath.Join(binaries(t), "jenkins-mesos"), "status", "--config", w.configPath)
		cmd.Env = append(os.Environ(), w.env...)
		b, err := cmd.CombinedOutput()
		out = string(b)
		return err == nil && strings.Contains(out, "no_template")
	})
	id := regexp.MustCompile(`subscribed as framework ([0-9a-f-]+)`).FindStringSubmatch(w.framework.output())[1]
	for _, want := range []string{
		"leader, subscribed as framework " + id,
		"TEMPLATE", "mesos", "BUILD", "gpu-build", "label `gpu` matches no template",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	// An agent that runs a while is sampled by its Mesos agent: SIZING.
	w.freestyle("sized", "mesos", 100)
	w.build("sized")
	w.waitFor("the sizing table in status", 60*time.Second, func() bool {
		cmd := exec.Command(filepath.Join(binaries(t), "jenkins-mesos"), "status", "--config", w.configPath)
		cmd.Env = append(os.Environ(), w.env...)
		b, err := cmd.CombinedOutput()
		out = string(b)
		return err == nil && regexp.MustCompile(`(?m)^SIZING +AGENTS +CPUS +USED +MEM +PEAK +MEDIAN +ADVICE\n+mesos +1 +0\.2 +[0-9.e-]+ +30 MB +[0-9.]+ MB +[0-9.]+ MB +\S`).MatchString(out)
	})
	t.Logf("status:\n%s", out)
	// The instance's address from a flag over the file's, as for run.
	nothing := freeAddr(t)
	cmd := exec.Command(filepath.Join(binaries(t), "jenkins-mesos"), "status", "--config", w.configPath, "--http.listen", nothing)
	cmd.Env = append(os.Environ(), w.env...)
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), nothing) {
		t.Errorf("status --http.listen %s: %v %s, want it to ask there", nothing, err, b)
	}
	cmd = exec.Command(filepath.Join(binaries(t), "jenkins-mesos"), "status", "--url", "http://"+freeAddr(t))
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "connection refused") {
		t.Errorf("status of nothing listening: %v %s, want a failure naming the refused connection", err, b)
	}
	// --url as http.listen is written, host:port without a scheme.
	cmd = exec.Command(filepath.Join(binaries(t), "jenkins-mesos"), "status", "--url", w.httpListen)
	if b, err := cmd.CombinedOutput(); err != nil || !strings.HasPrefix(string(b), "http://"+w.httpListen+": leader") {
		t.Errorf("status --url %s: %v %s, want the instance's status", w.httpListen, err, b)
	}
	cmd = exec.Command(filepath.Join(binaries(t), "jenkins-mesos"), "status", "--url", "ftp://"+w.httpListen)
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "expected http://host:port") {
		t.Errorf("status --url ftp://…: %v %s, want a refusal saying what is expected", err, b)
	}
}

// TestCheckThroughZooKeeper: with the masters' group and the state in
// ZooKeeper (credentials included), check finds the leading master in the
// group and reads the stored framework ID from ZooKeeper, beside the
// running instance.
func TestCheckThroughZooKeeper(t *testing.T) {
	zkAddr := zktest.Start(t)
	w := newWorld(t, worldOpts{zk: zkAddr, stateZK: "zk://" + zkAddr + "/jenkins-mesos", stateZKCreds: "jenkins-mesos:zk-check-pass"})
	id := regexp.MustCompile(`subscribed as framework ([0-9a-f-]+)`).FindStringSubmatch(w.framework.output())[1]
	out, code := w.checkCmd(nil)
	if code != 0 {
		t.Fatalf("check exited %d:\n%s", code, out)
	}
	for _, want := range []string{
		"mesos:   ok: leading master http://",
		"state:   ok: zk://" + zkAddr + "/jenkins-mesos holds framework ID " + id,
		"(ZooKeeper: one leader among the instances, digest credentials set)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "zk-check-pass") {
		t.Error("check printed the ZooKeeper password")
	}
}

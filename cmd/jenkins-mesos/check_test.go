package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestCheckOfflineDescribesWithoutSecretsOrEnvValues(t *testing.T) {
	var out, errOut bytes.Buffer
	e := env(map[string]string{"JENKINS_MESOS_JENKINS_TOKEN": "tok-very-secret",
		"JENKINS_MESOS_TEMPLATES": `[{"name": "big", "labels": "mesos linux", "cpus": 2, "mem": 4096, "image": "corp/agent:2", "containerizer": "mesos",
			"env": {"ARTIFACTORY_PASSWORD": "hunter2"}, "uris": ["/etc/ci/settings.tgz"], "max_instances": 4}]`})
	code := run(context.Background(), []string{"check", "--config", "../../examples/jenkins-mesos.yaml", "--offline"}, e, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	got := out.String()
	for _, want := range []string{"configuration: valid (../../examples/jenkins-mesos.yaml)", "(token set)",
		"big: labels mesos linux; 2 cpus, 4096 MB mem, 0 MB disk, 0 port(s), 1 executor(s); mesos corp/agent:2 (host network); up to 4; one build per agent; env ARTIFACTORY_PASSWORD; 1 uri(s)"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, secret := range []string{"tok-very-secret", "hunter2"} {
		if strings.Contains(got, secret) {
			t.Errorf("output shows %q", secret)
		}
	}
	if strings.Contains(got, "jenkins: ok") || strings.Contains(got, "FAILED") {
		t.Errorf("--offline probed:\n%s", got)
	}
	out.Reset()
	if code := run(context.Background(), []string{"check", "--config", "../../examples/jenkins-mesos.yaml", "--strategy", "random"}, e, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), `strategy "random": expected spread or binpack`) {
		t.Errorf("bad strategy: exit %d, stderr %q", code, errOut.String())
	}
}

// The classic 0.2 CPU / 30 MB slice without a memory limit is what the
// inbound agent's JVM cannot live in: check warns, naming the fix, and
// stays quiet once mem_limit (or enough mem) is set.
func TestCheckWarnsOfAJVMStarvedSlice(t *testing.T) {
	for _, c := range []struct {
		mem, extra string
		warn       bool
	}{{"30", "", true}, {"30", `, "mem_limit": 64`, true}, {"30", `, "mem_limit": 1024`, false}, {"30", `, "mem_limit": "unlimited"`, false}, {"512", "", false}} {
		var out, errOut bytes.Buffer
		e := env(map[string]string{"JENKINS_MESOS_TEMPLATES": `[{"name": "tiny", "labels": "mesos", "cpus": 0.2, "mem": ` + c.mem + `, "image": "jenkins/inbound-agent"` + c.extra + `}]`})
		if code := run(context.Background(), []string{"check", "--config", "../../examples/jenkins-mesos.yaml", "--offline"}, e, &out, &errOut); code != 0 {
			t.Fatalf("%s: exit %d: %s%s", c.extra, code, out.String(), errOut.String())
		}
		got := strings.Contains(out.String(), "warning: template tiny: a container of ")
		if got != c.warn {
			t.Errorf("template %s: warned %v, want %v:\n%s", c.extra, got, c.warn, out.String())
		}
		if c.warn && !strings.Contains(out.String(), "set mem_limit (e.g. 1024, or unlimited)") {
			t.Errorf("the warning does not say what to do:\n%s", out.String())
		}
	}
}

// A JENKINS_MESOS_* variable that is no setting is a typo until shown
// otherwise: check names it with the closest setting; run logs the same.
func TestUnknownEnvironmentVariablesAreNamed(t *testing.T) {
	vars := map[string]string{"JENKINS_MESOS_MESOS_MASTR": "http://m:5050", "JENKINS_MESOS_LIMITS_MAX_AGENTS": "3",
		"JENKINS_MESOS_WHATEVER_ELSE": "x", "JENKINS_URL": "http://j/", "JENKINS_MESOS_JENKINS_TOKEN": "tok"}
	saved := environ
	t.Cleanup(func() { environ = saved })
	environ = func() []string {
		out := []string{"JENKINS_MESOS_ONLY_IN_THE_PROCESS=1"} // getenv does not see it: not counted
		for k, v := range vars {
			out = append(out, k+"="+v)
		}
		return out
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"check", "--config", "../../examples/jenkins-mesos.yaml", "--offline"}, env(vars), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"warning: JENKINS_MESOS_MESOS_MASTR is set but is no setting (did you mean JENKINS_MESOS_MESOS_MASTER?): it is ignored",
		"warning: JENKINS_MESOS_WHATEVER_ELSE is set but is no setting: it is ignored",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, quiet := range []string{"JENKINS_MESOS_LIMITS_MAX_AGENTS", "JENKINS_URL", "JENKINS_MESOS_JENKINS_TOKEN", "ONLY_IN_THE_PROCESS"} {
		if strings.Contains(got, "warning: "+quiet) {
			t.Errorf("warned of %s, a setting or not ours:\n%s", quiet, got)
		}
	}
}

func TestNoConfigFileIsNamedWhenAKeyIsMissing(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"check", "--offline"}, env(nil), &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "mesos.master is required (no configuration file was given: --config FILE or JENKINS_MESOS_CONFIG)") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

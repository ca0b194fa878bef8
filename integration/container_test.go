package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// dockerTarGz is the docker.tar.gz an operator makes with
// `tar czf docker.tar.gz .docker` after `docker login`.
func dockerTarGz(t *testing.T, registry, user, password string) []byte {
	t.Helper()
	config := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, registry, base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for _, h := range []*tar.Header{
		{Name: ".docker/", Mode: 0o700, Typeflag: tar.TypeDir},
		{Name: ".docker/config.json", Mode: 0o600, Size: int64(len(config)), Typeflag: tar.TypeReg},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tw.Write([]byte(config)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestPrivateRegistryImageWithFetchedCredentialsAndAgentEnv: the way an
// operator runs agents from a private registry on the Docker
// containerizer. The template's uris fetch docker.tar.gz into each
// sandbox (the pull then logs in with it) and its env reaches the agent's
// process. A second template without the credentials cannot pull: its
// build waits with the pull's error as the reason, and the first
// template's builds are not held up by it.
func TestPrivateRegistryImageWithFetchedCredentialsAndAgentEnv(t *testing.T) {
	const image = "registry.example.com/ci/agent"
	var fetched atomic.Int32
	archive := dockerTarGz(t, "registry.example.com", "ci", "pull-password-7")
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/creds/docker.tar.gz" {
			http.NotFound(w, r)
			return
		}
		fetched.Add(1)
		_, _ = w.Write(archive)
	}))
	defer files.Close()
	// The image's stand-in records its environment, then runs the agent.
	probe := filepath.Join(t.TempDir(), "agent-probe.sh")
	script := fmt.Sprintf("#!/bin/sh\nenv > \"$MESOS_SANDBOX/agent-env\"\nexec %s agent \"$@\"\n", filepath.Join(binaries(t), "jenkins-emulator"))
	if err := os.WriteFile(probe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, worldOpts{
		images:    []string{image + "=" + probe},
		mesosArgs: []string{"--private-image", image + "=ci:pull-password-7"},
		limits:    "  breaker_threshold: 2\n",
		templates: fmt.Sprintf(`
  - name: private
    labels: mesos
    cpus: 0.2
    mem: 30
    image: %[1]s:1.4
    env: {JAVA_OPTS: "-Xmx256m", BUILD_CACHE_URL: "http://cache.example.com"}
    uris: [%[2]s/creds/docker.tar.gz]
    connect_timeout: 3m
  - name: nocreds
    labels: other
    cpus: 0.2
    mem: 30
    image: %[1]s:1.4
    connect_timeout: 3m`, image, files.URL),
	})
	jobs := w.buildMesos("private", 3, 20)
	w.freestyle("blocked", "other", 20)
	w.build("blocked")
	w.waitSucceeded("3 builds on the private image", 90*time.Second, jobs...)
	if n := fetched.Load(); n < 3 {
		t.Errorf("docker.tar.gz fetched %d times, want once per agent (3)", n)
	}
	envs, _ := filepath.Glob(filepath.Join(w.sandbox, "agents", "*", "frameworks", "*", "executors", "private-*", "runs", "*", "agent-env"))
	if len(envs) != 3 {
		t.Fatalf("%d agent environments recorded, want 3: %v", len(envs), envs)
	}
	for _, p := range envs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"JAVA_OPTS=-Xmx256m", "BUILD_CACHE_URL=http://cache.example.com", "JENKINS_AGENT_NAME=private-"} {
			if !strings.Contains(string(b), "\n"+want) && !strings.HasPrefix(string(b), want) {
				t.Errorf("%s lacks %s", p, want)
			}
		}
	}
	// The template without credentials: its launches fail at the pull,
	// which is transient to Mesos (it may be a registry outage), so the
	// breaker opens after breaker_threshold failures, with the reason.
	w.waitFor("the nocreds template's breaker to open on the pull error", 90*time.Second, func() bool {
		st := w.status()
		for _, tm := range st.Templates {
			if tm.Name == "nocreds" && strings.Contains(tm.Reason, "pull access denied") {
				return tm.Code == "breaker_open"
			}
		}
		return false
	})
	if log := w.framework.output(); strings.Contains(log, "pull-password-7") {
		t.Error("the registry password appears in the framework's log")
	}
}

// masterTask is a task as the master's /master/state shows it.
type masterTask struct {
	ID        string         `json:"id"`
	Resources map[string]any `json:"resources"`
	Limits    map[string]any `json:"limits"`
	Container struct {
		Type   string `json:"type"`
		Docker struct {
			Image string `json:"image"`
		} `json:"docker"`
		Mesos struct {
			Image struct {
				Docker struct {
					Name string `json:"name"`
				} `json:"docker"`
				Cached *bool `json:"cached"`
			} `json:"image"`
		} `json:"mesos"`
		Volumes []struct {
			HostPath string `json:"host_path"`
		} `json:"volumes"`
	} `json:"container"`
}

// masterTasks lists the running frameworks' tasks the master shows (none
// when it does not answer).
func (w *world) masterTasks() []masterTask {
	resp, err := http.Get(w.mesos + "/master/state")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var st struct {
		Frameworks []struct {
			Tasks []masterTask `json:"tasks"`
		} `json:"frameworks"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return nil
	}
	var out []masterTask
	for _, f := range st.Frameworks {
		out = append(out, f.Tasks...)
	}
	return out
}

// TestMesosContainerizerAgents: a template with `containerizer: mesos`
// launches its agents as MESOS containers with a Docker image (no Docker
// daemon on the agents): the builds run and succeed, and the master
// shows the tasks' containers as such, with the template's resource
// limits (an unlimited CPU limit travels as a protobuf infinity).
func TestMesosContainerizerAgents(t *testing.T) {
	w := newWorld(t, worldOpts{templates: `
  - name: ucr
    labels: mesos
    cpus: 0.2
    mem: 30
    image: jenkins/inbound-agent:latest-jdk21
    containerizer: mesos
    force_pull: true
    volumes: ["/tmp:/scratch:ro"]
    cpus_limit: unlimited
    mem_limit: 512
    connect_timeout: 3m`})
	jobs := w.buildMesos("ucr", 2, 20)
	containers := map[string]string{}
	w.waitFor("2 builds on MESOS containers", 90*time.Second, func() bool {
		for _, tk := range w.masterTasks() {
			c := tk.Container
			cached := c.Mesos.Image.Cached != nil && *c.Mesos.Image.Cached
			containers[tk.ID] = fmt.Sprintf("%s %s cached=%v volumes=%d limits=%v", c.Type, c.Mesos.Image.Docker.Name, cached, len(c.Volumes), tk.Limits)
		}
		return w.allSucceeded(jobs...)
	})
	if len(containers) != 2 {
		t.Fatalf("saw %d tasks, want 2: %v", len(containers), containers)
	}
	for id, c := range containers {
		if c != "MESOS jenkins/inbound-agent:latest-jdk21 cached=false volumes=1 limits=map[cpus:Infinity mem:512]" {
			t.Errorf("task %s: container %s, want MESOS with the image, not cached (force_pull), the volume and the limits (an infinite one through protobuf)", id, c)
		}
	}
	w.waitClean()
}

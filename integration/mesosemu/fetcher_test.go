package mesosemu

import (
	"archive/tar"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// tarGz builds a .tar.gz of name → content (a trailing / makes a directory).
func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b strings.Builder
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for name, content := range files {
		h := &tar.Header{Name: name, Mode: 0o600, Size: int64(len(content)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(name, "/") {
			h = &tar.Header{Name: name, Mode: 0o755, Typeflag: tar.TypeDir}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

func dockerConfig(registry, user, password string) string {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	return fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, registry, auth)
}

// TestFetcherPutsURIsInTheSandbox: a URI is downloaded (http) or copied
// (a path, file://), named by its basename or output_file, extracted when
// it is an archive and extract is not false, made executable when asked;
// the fetcher's log is in the sandbox's stderr.
func TestFetcherPutsURIsInTheSandbox(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bundle.tar.gz":
			_, _ = w.Write(tarGz(t, map[string]string{"conf/": "", "conf/app.properties": "k=v\n"}))
		case "/raw.tgz":
			_, _ = w.Write(tarGz(t, map[string]string{"inside.txt": "x"}))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	local := filepath.Join(t.TempDir(), "tool.sh")
	if err := os.WriteFile(local, []byte("#!/bin/sh\necho tool\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newTestCluster(t, Config{Agents: 1, Images: map[string][]string{"example/app": {"/bin/sh", "-c", "sleep 1000"}}})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	no := false
	task := commandTask("f", o, 0.2, 32, "")
	task.Command = &mesos.CommandInfo{Shell: new(bool), URIs: []mesos.CommandInfo_URI{
		{Value: srv.URL + "/bundle.tar.gz"},
		{Value: srv.URL + "/raw.tgz", Extract: &no},
		{Value: local, Executable: f2b(true), OutputFile: f2s("bin/run")},
		{Value: "file://" + local},
	}}
	task.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(), Docker: &mesos.ContainerInfo_DockerInfo{Image: "example/app"}}
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, task))
	for st := s.update("f"); st.GetState() != mesos.TASK_RUNNING; st = s.update("f") {
		if st.GetState() != mesos.TASK_STARTING {
			t.Fatalf("got %s, want STARTING then RUNNING", describe(st))
		}
		s.ack(url, st)
	}
	dir := c.TaskSandbox(s.fwID, "f")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s not in the sandbox: %v", name, err)
		}
		return string(b)
	}
	if got := read("conf/app.properties"); got != "k=v\n" {
		t.Errorf("extracted file: %q", got)
	}
	read("bundle.tar.gz") // the archive stays beside what it held
	read("raw.tgz")
	if _, err := os.Stat(filepath.Join(dir, "inside.txt")); err == nil {
		t.Error("extract: false was extracted")
	}
	if fi, err := os.Stat(filepath.Join(dir, "bin/run")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("executable output_file: %v %v, want mode 0755", fi, err)
	}
	read("tool.sh")
	if log := read("stderr"); !strings.Contains(log, "Successfully fetched all URIs into '"+dir+"'") {
		t.Errorf("sandbox stderr lacks the fetcher's log:\n%s", log)
	}
	if !regexp.MustCompile(`/runs/[0-9a-f-]{36}$`).MatchString(dir) {
		t.Errorf("sandbox %s: want runs/<container ID>", dir)
	}
}

// TestFetchFailuresFailTheLaunch: what the agent reports when the
// fetcher fails (exit status 1) or refuses a URI before running.
func TestFetchFailuresFailTheLaunch(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	c := newTestCluster(t, Config{Agents: 1, Images: map[string][]string{"example/app": {"/bin/true"}}})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	task := func(id string, uri mesos.CommandInfo_URI) mesos.TaskInfo {
		tk := commandTask(id, o, 0.1, 16, "")
		tk.Command = &mesos.CommandInfo{Shell: new(bool), URIs: []mesos.CommandInfo_URI{uri}}
		tk.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(), Docker: &mesos.ContainerInfo_DockerInfo{Image: "example/app"}}
		return tk
	}
	tasks := []mesos.TaskInfo{
		task("http404", mesos.CommandInfo_URI{Value: srv.URL + "/docker.tar.gz"}),
		task("missing", mesos.CommandInfo_URI{Value: "/no/such/file.sh"}),
		task("relative", mesos.CommandInfo_URI{Value: "tools/file.sh"}),
		task("quote", mesos.CommandInfo_URI{Value: "http://x/it's"}),
		task("nopath", mesos.CommandInfo_URI{Value: "http://files.example.com"}),
		task("absout", mesos.CommandInfo_URI{Value: "/etc/hostname", OutputFile: f2s("/etc/passwd")}),
	}
	fetchFailed := regexp.MustCompile(`^Failed to launch container: Failed to fetch all URIs for container '[0-9a-f-]{36}': exited with status 1$`)
	want := map[string]*regexp.Regexp{
		"http404":  fetchFailed,
		"missing":  fetchFailed,
		"relative": fetchFailed,
		"quote":    regexp.MustCompile(`^Failed to launch container: Could not fetch: Illegal characters in URI$`),
		"nopath":   regexp.MustCompile(`^Failed to launch container: Could not fetch: Malformed URI \(missing path\): http://files.example.com$`),
		"absout":   regexp.MustCompile(`^Failed to launch container: Could not fetch: URI output file must be within the sandbox directory$`),
	}
	stderr := map[string]string{
		"http404":  "Failed to fetch '" + srv.URL + "/docker.tar.gz': Error downloading resource, received HTTP return code 404",
		"missing":  "Failed to fetch '/no/such/file.sh'",
		"relative": "the Mesos framework home was not specified",
	}
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, tasks...))
	for _, tk := range tasks {
		id := tk.TaskID.Value
		st := s.update(id)
		if st.GetState() != mesos.TASK_FAILED || st.GetReason() != mesos.REASON_CONTAINER_LAUNCH_FAILED || st.GetSource() != mesos.SOURCE_AGENT || !want[id].MatchString(st.GetMessage()) {
			t.Errorf("%s: got %s, want TASK_FAILED / CONTAINER_LAUNCH_FAILED from the agent matching %s", id, describe(st), want[id])
		}
		if w := stderr[id]; w != "" { // read before the acknowledgement lets the agent forget the task
			b, _ := os.ReadFile(filepath.Join(c.TaskSandbox(s.fwID, id), "stderr"))
			if !strings.Contains(string(b), w) {
				t.Errorf("%s: sandbox stderr %q lacks %q", id, b, w)
			}
		}
		s.ack(url, st)
	}
}

// TestPrivateImagePullsWithAFetchedDockerConfig: the Docker
// containerizer pulls with HOME at the sandbox, so a URI that unpacks
// .docker/config.json there logs it in; without it the pull is denied,
// with other credentials unauthorized. The old .dockercfg works too.
func TestPrivateImagePullsWithAFetchedDockerConfig(t *testing.T) {
	const image = "registry.example.com:5000/team/agent"
	good := tarGz(t, map[string]string{".docker/": "", ".docker/config.json": dockerConfig("https://registry.example.com:5000", "ci", "s3cret")})
	wrong := tarGz(t, map[string]string{".docker/": "", ".docker/config.json": dockerConfig("registry.example.com:5000", "ci", "guess")})
	legacy := fmt.Sprintf(`{"registry.example.com:5000": {"auth": %q, "email": "ci@example.com"}}`, base64.StdEncoding.EncodeToString([]byte("ci:s3cret")))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/good/docker.tar.gz":
			_, _ = w.Write(good)
		case "/wrong/docker.tar.gz":
			_, _ = w.Write(wrong)
		case "/legacy/.dockercfg":
			_, _ = w.Write([]byte(legacy))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := newTestCluster(t, Config{Agents: 1, Images: map[string][]string{image: {"/bin/sh", "-c", "sleep 1000"}},
		PrivateImages: map[string]string{image: "ci:s3cret"}})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	task := func(id string, uris ...string) mesos.TaskInfo {
		tk := commandTask(id, o, 0.1, 16, "")
		tk.Command = &mesos.CommandInfo{Shell: new(bool)}
		for _, u := range uris {
			tk.Command.URIs = append(tk.Command.URIs, mesos.CommandInfo_URI{Value: srv.URL + u})
		}
		tk.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(), Docker: &mesos.ContainerInfo_DockerInfo{Image: image + ":1.0"}}
		return tk
	}
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil,
		task("none"), task("wrong", "/wrong/docker.tar.gz"), task("good", "/good/docker.tar.gz"), task("legacy", "/legacy/.dockercfg")))
	failed := map[string]string{
		"none":  "pull access denied for registry.example.com:5000/team/agent",
		"wrong": `Get "https://registry.example.com:5000/v2/": unauthorized: incorrect username or password`,
	}
	for id, w := range failed {
		st := s.update(id)
		if st.GetState() != mesos.TASK_FAILED || st.GetReason() != mesos.REASON_CONTAINER_LAUNCH_FAILED || !strings.Contains(st.GetMessage(), w) {
			t.Errorf("%s: got %s, want the pull's TASK_FAILED with %q", id, describe(st), w)
		}
		s.ack(url, st)
	}
	for _, id := range []string{"good", "legacy"} {
		for st := s.update(id); st.GetState() != mesos.TASK_RUNNING; st = s.update(id) {
			if st.GetState() != mesos.TASK_STARTING {
				t.Fatalf("%s: got %s, want the private image pulled and run", id, describe(st))
			}
			s.ack(url, st)
		}
	}
}

func f2b(v bool) *bool { return &v }

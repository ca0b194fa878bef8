package jenkinsemu

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bndr/gojenkins"
)

func gojenkinsClient(t *testing.T, j *Jenkins, follow bool) *gojenkins.Jenkins {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	if !follow {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	jk, err := gojenkins.CreateJenkins(client, strings.TrimSuffix(j.URL(), "/"), j.cfg.User, j.cfg.Token).Init(context.Background())
	if err != nil {
		t.Fatalf("gojenkins Init: %v", err)
	}
	return jk
}

// gojenkins v1.2.0 works where it works against real Jenkins.
func TestGojenkinsWorksWhereItWorksAgainstJenkins(t *testing.T) {
	ctx := context.Background()
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n"})
	jk := gojenkinsClient(t, j, true)
	if jk.Version != Version {
		t.Fatalf("version %q from X-Jenkins, want %q", jk.Version, Version)
	}
	job, err := jk.CreateJob(ctx, freestyle("mesos", "sleep 5"), "hello")
	if err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	queueID, err := job.InvokeSimple(ctx, nil)
	if err != nil || queueID == 0 {
		t.Fatalf("InvokeSimple: %d %v", queueID, err)
	}
	task, err := jk.GetQueueItem(ctx, queueID)
	if err != nil {
		t.Fatalf("GetQueueItem: %v", err)
	}
	if task.Raw.ID != queueID {
		t.Fatalf("queue item id %d, want %d", task.Raw.ID, queueID)
	}
	q, err := jk.GetQueue(ctx)
	if err != nil || len(q.Tasks()) != 1 {
		t.Fatalf("GetQueue: %v %v", q, err)
	}
	label, err := jk.GetLabel(ctx, "anything-at-all")
	if err != nil || label.GetName() != "anything-at-all" {
		t.Fatalf("GetLabel of an unknown label (200 in Jenkins): %v %v", label, err)
	}
	// A node, created with a client that does not follow redirects (the
	// only way CreateNode can succeed against Jenkins).
	noFollow := gojenkinsClient(t, j, false)
	node, err := noFollow.CreateNode(ctx, "mesos-a1", 1, "test node", "/home/jenkins", "mesos", map[string]string{"method": "JNLPLauncher"})
	if err != nil || node == nil {
		t.Fatalf("CreateNode without redirects: %v %v", node, err)
	}
	if online, _ := node.IsOnline(ctx); online {
		t.Fatalf("a never-connected inbound agent must be offline")
	}
	startAgent(t, j, "mesos-a1")
	build, err := jk.GetBuildFromQueueID(ctx, job, queueID)
	if err != nil {
		t.Fatalf("GetBuildFromQueueID: %v", err)
	}
	waitFor(t, "the build to finish", func() bool {
		_, _ = build.Poll(ctx)
		return !build.IsRunning(ctx) && build.GetResult() == "SUCCESS"
	})
	if build.Raw.BuiltOn != "mesos-a1" {
		t.Fatalf("builtOn %q, want mesos-a1", build.Raw.BuiltOn)
	}
	nodes, err := jk.GetAllNodes(ctx)
	if err != nil || len(nodes) != 2 {
		t.Fatalf("GetAllNodes: %d nodes, %v", len(nodes), err)
	}
}

// ... and fails where it fails against real Jenkins: the framework must not
// be tuned to a kinder Jenkins than the real one.
func TestGojenkinsFailsWhereItFailsAgainstJenkins(t *testing.T) {
	ctx := context.Background()
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n"})
	jk := gojenkinsClient(t, j, true)

	// CreateNode follows the 302 to /computer/ (HTML) and fails to decode
	// it, although the node was created.
	_, err := jk.CreateNode(ctx, "mesos-b1", 1, "", "/home/jenkins", "mesos")
	if err == nil || !strings.Contains(err.Error(), "invalid character '<'") {
		t.Fatalf("CreateNode following redirects: %v, want the HTML decode error real Jenkins provokes", err)
	}
	if r := call(t, j, http.MethodGet, "/computer/mesos-b1/api/json", nil); r.code != 200 {
		t.Fatalf("the node was not created: %d", r.code)
	}
	// A duplicate: 400 with X-Error.
	noFollow := gojenkinsClient(t, j, false)
	if _, err := noFollow.CreateNode(ctx, "mesos-b1", 1, "", "/home/jenkins", "mesos"); err == nil {
		t.Fatalf("a duplicate CreateNode succeeded")
	}

	// Node.Delete: 302, never the 200 it checks for.
	node, err := noFollow.GetNode(ctx, "mesos-b1")
	if err != nil {
		t.Fatal(err)
	}
	ok, err := node.Delete(ctx)
	if ok || err != nil {
		t.Fatalf("Delete without redirects = (%v, %v), want (false, nil) although the node is gone", ok, err)
	}
	if r := call(t, j, http.MethodGet, "/computer/mesos-b1/api/json", nil); r.code != 404 {
		t.Fatalf("node still there after Delete: %d", r.code)
	}
	createNode(t, j, "mesos-b2", "mesos")
	node2, _ := noFollow.GetNode(ctx, "mesos-b2")
	node2.Jenkins = jk // the following client
	if ok, err := node2.Delete(ctx); ok || err == nil {
		t.Fatalf("Delete following redirects = (%v, %v), want (false, decode error)", ok, err)
	}

	// GetNode of a missing node: a 404 HTML page decoded as JSON.
	if _, err := jk.GetNode(ctx, "missing"); err == nil || !strings.Contains(err.Error(), "invalid character '<'") {
		t.Fatalf("GetNode(missing): %v, want the decode error of the 404 page", err)
	}

	// Task.Cancel: Jenkins answers 204, gojenkins wants 200.
	job, err := jk.CreateJob(ctx, freestyle("nowhere", "sleep 5"), "cancel-me")
	if err != nil {
		t.Fatal(err)
	}
	id, err := job.InvokeSimple(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	task, err := jk.GetQueueItem(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := task.Cancel(ctx); ok || err != nil {
		t.Fatalf("Cancel = (%v, %v), want (false, nil) though it was cancelled", ok, err)
	}
	item := getJSON(t, j, "/queue/item/"+strconv.FormatInt(id, 10)+"/api/json")
	if item["cancelled"] != true || item["_class"] != "hudson.model.Queue$LeftItem" {
		t.Fatalf("item after cancel: %v", item)
	}
}

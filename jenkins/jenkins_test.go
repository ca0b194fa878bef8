package jenkins

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/integration/jenkinsemu"
	"github.com/stretchr/testify/require"
)

func TestParseWhyInEveryForm(t *testing.T) {
	cases := []struct{ why, label, node string }{
		{"Waiting for next available executor on ‘mesos&&linux’", "mesos&&linux", "mesos&&linux"},
		{"Waiting for next available executor on ‘mesos-1a2b3c4d’", "mesos-1a2b3c4d", "mesos-1a2b3c4d"},
		{"There are no nodes with the label ‘gpu’", "gpu", ""},
		{"All nodes of label ‘mesos’ are offline", "mesos", ""},
		{"‘mesos-1a2b3c4d’ is offline", "", "mesos-1a2b3c4d"},
		{"‘Built-In Node’ doesn’t have label ‘mesos’; ‘x’ is reserved for jobs with matching label expression", "mesos", ""},
		{"Waiting for next available executor", "", ""},
		{"In the quiet period. Expires in 4.9 sec", "", ""},
		{"", "", ""},
	}
	for _, c := range cases {
		l, n := ParseWhy(c.why)
		require.Equal(t, c.label, l, "label of %q", c.why)
		require.Equal(t, c.node, n, "node of %q", c.why)
	}
}

func FuzzParseWhy(f *testing.F) {
	for _, s := range []string{"Waiting for next available executor on ‘a’", "‘x’ is offline", "‘a’ doesn’t have label ‘b’; c", "‘"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, n := ParseWhy(s)
		if !strings.Contains(s, l) || !strings.Contains(s, n) {
			t.Fatalf("ParseWhy(%q) = %q, %q: not parts of the input", s, l, n)
		}
	})
}

func emulated(t *testing.T) (*jenkinsemu.Jenkins, *Client) {
	t.Helper()
	j, err := jenkinsemu.New(jenkinsemu.Config{Listen: "127.0.0.1:0", User: "admin", Token: "tok", TimeScale: 50, QuietPeriod: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { j.Close() })
	c, err := New(Config{URL: j.URL(), User: "admin", Token: "tok", DescriptionPrefix: "jenkins-mesos agent of test "})
	require.NoError(t, err)
	return j, c
}

func TestAdapterAgainstTheEmulator(t *testing.T) {
	j, c := emulated(t)
	ctx := context.Background()
	v, err := c.Ping(ctx)
	require.NoError(t, err)
	require.Equal(t, jenkinsemu.Version, v)

	secret, err := c.CreateNode(ctx, NodeSpec{Name: "mesos-0001", Description: "jenkins-mesos agent of test (template mesos)", Labels: "mesos linux", Executors: 1, RemoteFS: "/home/jenkins/agent", WebSocket: true})
	require.NoError(t, err)
	require.Equal(t, j.Secret("mesos-0001"), secret, "the secret comes from jenkins-agent.jnlp")
	_, err = c.CreateNode(ctx, NodeSpec{Name: "mesos-0001", Description: "x", Labels: "mesos"})
	require.ErrorContains(t, err, "already exists", "a duplicate name is an error naming the cause")
	_, err = c.CreateNode(ctx, NodeSpec{Name: "someone-elses", Description: "not ours", Labels: "mesos"})
	require.NoError(t, err)

	nodes, err := c.Nodes(ctx)
	require.NoError(t, err)
	require.Len(t, nodes, 1, "only the framework's own nodes are listed")
	require.Equal(t, "mesos-0001", nodes[0].Name)
	require.False(t, nodes[0].Online)

	require.NoError(t, c.RetireNode(ctx, "mesos-0001", "retiring after this build"))
	nodes, err = c.Nodes(ctx)
	require.NoError(t, err)
	require.True(t, nodes[0].TemporarilyOffline)

	require.NoError(t, c.DeleteNode(ctx, "mesos-0001"))
	require.NoError(t, c.DeleteNode(ctx, "mesos-0001"), "deleting a node that is gone is not an error")
	nodes, err = c.Nodes(ctx)
	require.NoError(t, err)
	require.Empty(t, nodes)

	require.NoError(t, c.EnsureAnchor(ctx))
	require.NoError(t, c.EnsureAnchor(ctx), "the anchor is created once")
}

func TestQueueItemsCarryTheirLabels(t *testing.T) {
	j, c := emulated(t)
	ctx := context.Background()
	create := func(name, cfg string) {
		t.Helper()
		req, b, err := c.doBody(ctx, "POST", "createItem?name="+name, "application/xml", cfg)
		require.NoError(t, err)
		require.Equal(t, 200, req.StatusCode, string(b))
	}
	create("free", "<project><assignedNode>mesos&amp;&amp;linux</assignedNode><canRoam>false</canRoam><builders/></project>")
	create("pipe", "<flow-definition><definition><script>node('gpu') { sh 'sleep 1' }</script></definition></flow-definition>")
	for _, job := range []string{"free", "pipe"} {
		r, _, err := c.doBody(ctx, "POST", "job/"+job+"/build?delay=0sec", "", "")
		require.NoError(t, err)
		require.Equal(t, 201, r.StatusCode)
	}
	_, err := c.CreateNode(ctx, NodeSpec{Name: "anchor", Description: "x", Labels: "other"})
	require.NoError(t, err)
	var items []Item
	require.Eventually(t, func() bool {
		items, err = c.Queue(ctx)
		return err == nil && len(items) == 2
	}, 10*time.Second, 20*time.Millisecond)
	labels := map[string]string{}
	for _, it := range items {
		labels[it.Name] = it.Label
	}
	require.Equal(t, "mesos&&linux", labels["free"], "freestyle: the job's label expression")
	require.Equal(t, "gpu", labels["part of pipe #1"], "Pipeline: parsed from why")
	require.NotEmpty(t, j.URL())
}

// TestQueueDuringQuietDown: while Jenkins quiets down, every queued item
// says "Jenkins is about to shut down": the adapter marks it, freestyle
// and Pipeline block alike; cancelled, the marks go.
func TestQueueDuringQuietDown(t *testing.T) {
	_, c := emulated(t)
	ctx := context.Background()
	require.Equal(t, 200, post(t, c, "createItem?name=free", freestyleMesos))
	require.Equal(t, 200, post(t, c, "createItem?name=pipe", "<flow-definition><definition><script>node('mesos') { sh 'sleep 1' }</script></definition></flow-definition>"))
	require.Equal(t, 201, post(t, c, "job/pipe/build?delay=0sec", ""))
	var items []Item
	var err error
	require.Eventually(t, func() bool { // the Pipeline run is in its node block
		items, err = c.Queue(ctx)
		return err == nil && len(items) == 1
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, 302, post(t, c, "quietDown", ""))
	require.Equal(t, 201, post(t, c, "job/free/build?delay=0sec", ""))
	require.Eventually(t, func() bool {
		items, err = c.Queue(ctx)
		if err != nil || len(items) != 2 {
			return false
		}
		for _, it := range items {
			if !it.ShuttingDown {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "both marked: %+v", items)
	require.Equal(t, 302, post(t, c, "cancelQuietDown", ""))
	require.Eventually(t, func() bool {
		items, err = c.Queue(ctx)
		for _, it := range items {
			if it.ShuttingDown {
				return false
			}
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
}

// TestQuietPeriodDuringQuietDown: a build still in its quiet period says
// nothing of the shutdown; when no other item is held, the adapter asks
// the root, and marks it while Jenkins quiets down.
func TestQuietPeriodDuringQuietDown(t *testing.T) {
	_, c := emulated(t)
	ctx := context.Background()
	require.Equal(t, 200, post(t, c, "createItem?name=free", freestyleMesos))
	require.Equal(t, 201, post(t, c, "job/free/build?delay=3600sec", ""))
	items, err := c.Queue(ctx)
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.True(t, items[0].Quiet)
	require.False(t, items[0].ShuttingDown, "Jenkins is not quieting down yet")
	require.Equal(t, 302, post(t, c, "quietDown", ""))
	items, err = c.Queue(ctx)
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.True(t, items[0].Quiet)
	require.NotEqual(t, ShutdownWhy, items[0].Why, "the quiet period's why does not tell it")
	require.True(t, items[0].ShuttingDown, "marked from the root's quietingDown")
	require.Equal(t, 302, post(t, c, "cancelQuietDown", ""))
	items, err = c.Queue(ctx)
	require.NoError(t, err)
	require.False(t, items[0].ShuttingDown)
}

// TestNodesNameTheBuildsTheyRun: a node's running build comes back as its
// URL (executors[currentExecutable[url]]).
func TestNodesNameTheBuildsTheyRun(t *testing.T) {
	j, c := emulated(t)
	ctx := context.Background()
	connectedAgent(t, j, c, "mesos-0002")
	r, _, err := c.doBody(ctx, "POST", "createItem?name=long", "application/xml", "<project><assignedNode>mesos</assignedNode><canRoam>false</canRoam><builders><hudson.tasks.Shell><command>sleep 100000</command></hudson.tasks.Shell></builders></project>")
	require.NoError(t, err)
	require.Equal(t, 200, r.StatusCode)
	r, _, err = c.doBody(ctx, "POST", "job/long/build?delay=0sec", "", "")
	require.NoError(t, err)
	require.Equal(t, 201, r.StatusCode)
	var nodes []Node
	require.Eventually(t, func() bool {
		nodes, err = c.Nodes(ctx)
		return err == nil && len(nodes) == 1 && nodes[0].Busy == 1
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, []string{j.URL() + "job/long/1/"}, nodes[0].Builds)
}

func TestQuietingDownIsRead(t *testing.T) {
	_, c := emulated(t)
	ctx := context.Background()
	q, why, err := c.QuietingDown(ctx)
	require.NoError(t, err)
	require.False(t, q)
	require.Empty(t, why)
	r, _, err := c.doBody(ctx, "POST", "quietDown?message=upgrade+to+2.480", "", "")
	require.NoError(t, err)
	require.Equal(t, 302, r.StatusCode)
	q, why, err = c.QuietingDown(ctx)
	require.NoError(t, err)
	require.True(t, q)
	require.Equal(t, "upgrade to 2.480", why)
}

// TestFateOfALeftItem: what became of a build no longer listed, read from
// Jenkins' left item.
func TestFateOfALeftItem(t *testing.T) {
	j, c := emulated(t)
	ctx := context.Background()
	queue := func(job, delay string) int64 {
		t.Helper()
		r, _, err := c.doBody(ctx, "POST", "job/"+job+"/build?delay="+delay, "", "")
		require.NoError(t, err)
		require.Equal(t, 201, r.StatusCode)
		var id int64
		_, err = fmt.Sscanf(strings.TrimPrefix(r.Header.Get("Location"), j.URL()), "queue/item/%d/", &id)
		require.NoError(t, err, r.Header.Get("Location"))
		return id
	}
	require.Equal(t, 200, post(t, c, "createItem?name=free", freestyleMesos))

	held := queue("free", "3600sec")
	f, err := c.FateOf(ctx, held)
	require.NoError(t, err)
	require.Equal(t, FateQueued, f, "in its quiet period: still queued")
	require.Equal(t, 204, post(t, c, fmt.Sprintf("queue/cancelItem?id=%d", held), ""))
	f, err = c.FateOf(ctx, held)
	require.NoError(t, err)
	require.Equal(t, FateCancelled, f)

	f, err = c.FateOf(ctx, 99999)
	require.NoError(t, err)
	require.Equal(t, FateUnknown, f, "an id Jenkins does not know")

	connectedAgent(t, j, c, "mesos-0003")
	ran := queue("free", "0sec")
	require.Eventually(t, func() bool {
		f, err = c.FateOf(ctx, ran)
		return err == nil && f == FateStarted
	}, 10*time.Second, 20*time.Millisecond, "last: %v %v", f, err)
}

// countingTransport counts requests by path.
type countingTransport struct {
	mu    sync.Mutex
	paths map[string]int
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.paths[r.Method+" "+r.URL.Path]++
	t.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// With the user's password instead of an API token, Jenkins wants a CSRF
// crumb on every POST, bound to the session: the adapter fetches one when
// refused, keeps the session cookie and reuses the crumb, and gets a new
// one when the session changes (here: Jenkins restarted).
func TestPasswordAuthUsesASessionBoundCrumb(t *testing.T) {
	j, err := jenkinsemu.New(jenkinsemu.Config{Listen: "127.0.0.1:0", User: "admin", Token: "tok", Password: "s3cret", TimeScale: 50, QuietPeriod: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { j.Close() })
	c, err := New(Config{URL: j.URL(), User: "admin", Token: "s3cret", DescriptionPrefix: "jenkins-mesos agent of test "})
	require.NoError(t, err)
	tr := &countingTransport{paths: map[string]int{}}
	c.http.Transport = tr
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("mesos-pw%d", i)
		_, err := c.CreateNode(ctx, NodeSpec{Name: name, Description: "jenkins-mesos agent of test (template mesos)", Labels: "mesos", Executors: 1, RemoteFS: "/tmp"})
		require.NoError(t, err)
		require.NoError(t, c.RetireNode(ctx, name, "done"))
	}
	nodes, err := c.Nodes(ctx)
	require.NoError(t, err)
	require.Len(t, nodes, 3)
	require.Equal(t, 1, tr.paths["GET /crumbIssuer/api/json"], "one crumb for the session, not one per POST")
	require.Equal(t, 3+1, tr.paths["POST /computer/doCreateItem"], "only the first POST was refused and sent again")

	// A crumb from an old session is refused; a new one is fetched.
	c.http.Jar, _ = cookiejar.New(nil) // the session is gone, as after a Jenkins restart
	require.NoError(t, c.DeleteNode(ctx, "mesos-pw0"))
	require.Equal(t, 2, tr.paths["GET /crumbIssuer/api/json"])

	// With an API token no crumb is ever asked for.
	tc, err := New(Config{URL: j.URL(), User: "admin", Token: "tok", DescriptionPrefix: "jenkins-mesos agent of test "})
	require.NoError(t, err)
	tr2 := &countingTransport{paths: map[string]int{}}
	tc.http.Transport = tr2
	require.NoError(t, tc.DeleteNode(ctx, "mesos-pw1"))
	require.Zero(t, tr2.paths["GET /crumbIssuer/api/json"])

	// A wrong crumb that stays wrong is reported in Jenkins' words.
	c.mu.Lock()
	c.crumbField, c.crumb = "Jenkins-Crumb", "stale"
	c.mu.Unlock()
	c.http.Transport = crumbBreaker{}
	err = c.DeleteNode(ctx, "mesos-pw2")
	require.ErrorContains(t, err, "403 Forbidden: No valid crumb was included in the request")
}

// crumbBreaker strips the crumb from every POST, so Jenkins keeps refusing.
type crumbBreaker struct{}

func (crumbBreaker) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Del("Jenkins-Crumb")
	return http.DefaultTransport.RoundTrip(r)
}

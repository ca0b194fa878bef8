package jenkinsemu

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests pin behaviour checked against Jenkins core's source
// (Queue, Job, Computer, OfflineCause, Nodes, BlockedBecauseOfBuildInProgress).

// copyHome snapshots JENKINS_HOME while the controller still runs: what a
// kill -9 leaves on disk.
func copyHome(t *testing.T, home string) string {
	t.Helper()
	dst := t.TempDir()
	b, err := os.ReadFile(filepath.Join(home, "jenkins-emulator.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "jenkins-emulator.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

func queueIDOf(t *testing.T, r result) string {
	t.Helper()
	loc, err := url.Parse(r.header.Get("Location"))
	if r.code != 201 || err != nil {
		t.Fatalf("build: %d %q", r.code, r.header.Get("Location"))
	}
	return strings.TrimSuffix(strings.TrimPrefix(loc.Path, "/queue/item/"), "/")
}

func TestQueueIDsAndBuildNumbersNeverRepeatAcrossAKill(t *testing.T) {
	home := t.TempDir()
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", Home: home, QuietPeriod: time.Millisecond})
	createJob(t, j, "run", freestyle("mesos", "sleep 100000"))
	connectedNode(t, j, "k1", "mesos")
	first := queueIDOf(t, call(t, j, http.MethodPost, "/job/run/build", nil))
	waitFor(t, "run #1 to start", func() bool { return call(t, j, http.MethodGet, "/job/run/1/api/json", nil).code == 200 })
	killed := copyHome(t, home) // kill -9 now: nothing more is written

	j2 := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", Home: killed, QuietPeriod: time.Hour})
	b := getJSON(t, j2, "/job/run/1/api/json")
	if b["result"] != "ABORTED" || b["building"] != false {
		t.Fatalf("the build running at the kill: %v, want it recorded as ABORTED", b)
	}
	if job := getJSON(t, j2, "/job/run/api/json?tree=nextBuildNumber,builds[number]"); job["nextBuildNumber"] != 2.0 {
		t.Fatalf("after the kill: %v, want nextBuildNumber 2 and build #1 kept", job)
	}
	next := queueIDOf(t, call(t, j2, http.MethodPost, "/job/run/build", nil))
	if mustInt(next) <= mustInt(first) {
		t.Fatalf("queue id %s handed out again after the kill (first was %s)", next, first)
	}
}

func TestQueueSurvivesARestartWithItsIDs(t *testing.T) {
	home := t.TempDir()
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", Home: home, QuietPeriod: time.Hour})
	createJob(t, j, "quiet", freestyle("mesos", "sleep 1"))
	createJob(t, j, "now", freestyle("nobody", "sleep 1"))
	createJob(t, j, "busy", freestyle("mesos", "sleep 100000"))
	connectedNode(t, j, "q1", "mesos")
	waiting := queueIDOf(t, call(t, j, http.MethodPost, "/job/quiet/build", nil))
	buildable := queueIDOf(t, call(t, j, http.MethodPost, "/job/now/build?delay=0sec", nil))
	call(t, j, http.MethodPost, "/job/busy/build?delay=0sec", nil)
	waitFor(t, "busy #1 to run", func() bool { return call(t, j, http.MethodGet, "/job/busy/1/api/json", nil).code == 200 })
	blocked := queueIDOf(t, call(t, j, http.MethodPost, "/job/busy/build?delay=0sec", nil))
	waitFor(t, "the second busy item to be blocked", func() bool {
		return getJSON(t, j, "/queue/item/"+blocked+"/api/json")["_class"] == "hudson.model.Queue$BlockedItem"
	})
	addr := j.ln.Addr().String()
	j.Close() // SIGTERM: Jenkins persists the queue on the way out

	j2 := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", Home: home, Listen: addr, QuietPeriod: time.Hour})
	for id, class := range map[string]string{waiting: "hudson.model.Queue$WaitingItem", buildable: "hudson.model.Queue$BuildableItem"} {
		if got := getJSON(t, j2, "/queue/item/"+id+"/api/json")["_class"]; got != class {
			t.Fatalf("queue item %s after the restart: %v, want %s", id, got, class)
		}
	}
	// busy #1 was cut by the restart (ABORTED), so the blocked item is free.
	if b := getJSON(t, j2, "/job/busy/1/api/json"); b["result"] != "ABORTED" {
		t.Fatalf("busy #1 after the restart: %v, want ABORTED", b)
	}
	waitFor(t, "the formerly blocked item to run as busy #2", func() bool {
		r := call(t, j2, http.MethodGet, "/queue/item/"+blocked+"/api/json?tree=executable[number]", nil)
		return strings.Contains(r.body, `"number":2`)
	})
}

func TestCancelQueueAnswers204(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Hour})
	createJob(t, j, "c", freestyle("mesos", "sleep 1"))
	id := queueIDOf(t, call(t, j, http.MethodPost, "/job/c/build", nil))
	if r := call(t, j, http.MethodPost, "/queue/item/"+id+"/cancelQueue", nil); r.code != 204 {
		t.Fatalf("cancelQueue: %d %q, want 204", r.code, r.header.Get("Location"))
	}
	if item := getJSON(t, j, "/queue/item/"+id+"/api/json"); item["cancelled"] != true {
		t.Fatalf("item after cancelQueue: %v", item)
	}
	if r := call(t, j, http.MethodPost, "/queue/item/"+id+"/cancelQueue", nil); r.code != 204 {
		t.Fatalf("cancelQueue of a left item: %d, want 204", r.code)
	}
}

func TestOfflineMessageFromAFormBodyAndTheUserCause(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n"})
	createNode(t, j, "o1", "mesos")
	r := call(t, j, http.MethodPost, "/computer/o1/toggleOffline", strings.NewReader("offlineMessage=retiring+after+this+build"),
		"Content-Type", "application/x-www-form-urlencoded")
	if r.code != 302 {
		t.Fatalf("toggleOffline: %d", r.code)
	}
	c := getJSON(t, j, "/computer/o1/api/json?tree=temporarilyOffline,offlineCauseReason,icon,iconClassName,offlineCause[description,timestamp]")
	cause, _ := c["offlineCause"].(map[string]any)
	if c["temporarilyOffline"] != true || c["offlineCauseReason"] != "retiring after this build" || cause == nil ||
		cause["description"] != "Disconnected by admin : retiring after this build" ||
		c["icon"] != "symbol-computer-disconnected" || c["iconClassName"] != "symbol-computer-disconnected" {
		t.Fatalf("computer marked offline with a form message: %v", c)
	}
	if ts, _ := cause["timestamp"].(float64); ts <= 0 {
		t.Fatalf("offline cause timestamp %v, want the time it was set", cause["timestamp"])
	}
	if c := getJSON(t, j, "/computer/o1/api/json"); c["offlineCause"].(map[string]any)["_class"] != "hudson.slaves.OfflineCause$UserCause" {
		t.Fatalf("offline cause class: %v", c["offlineCause"])
	}
	// A blank message is dropped (Util.fixEmptyAndTrim).
	call(t, j, http.MethodPost, "/computer/o1/changeOfflineCause", strings.NewReader("offlineMessage=+"), "Content-Type", "application/x-www-form-urlencoded")
	if c := getJSON(t, j, "/computer/o1/api/json?tree=offlineCause[description],offlineCauseReason"); c["offlineCauseReason"] != "" ||
		c["offlineCause"].(map[string]any)["description"] != "Disconnected by admin" {
		t.Fatalf("blank offline message: %v", c)
	}
	// Toggling again brings it back and clears the cause.
	call(t, j, http.MethodPost, "/computer/o1/toggleOffline", nil)
	if c := getJSON(t, j, "/computer/o1/api/json"); c["temporarilyOffline"] != false || c["offlineCause"] != nil || c["icon"] != "symbol-computer-offline" {
		t.Fatalf("toggled back: %v", c)
	}
}

func TestNestedBuildsAreFullRunsUnderTree(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Millisecond})
	createJob(t, j, "one", freestyle("mesos", "sleep 100000"))
	connectedNode(t, j, "t1", "mesos")
	id := queueIDOf(t, call(t, j, http.MethodPost, "/job/one/build", nil))
	waitFor(t, "one #1 to run", func() bool { return call(t, j, http.MethodGet, "/job/one/1/api/json", nil).code == 200 })
	item := getJSON(t, j, "/queue/item/"+id+"/api/json?tree=executable[number,url,result,building]")
	ex, _ := item["executable"].(map[string]any)
	if ex == nil || ex["number"] != 1.0 || ex["building"] != true || ex["result"] != nil || !strings.HasSuffix(ex["url"].(string), "/job/one/1/") {
		t.Fatalf("left item's executable under tree=: %v", item)
	}
	if _, has := ex["result"]; !has {
		t.Fatalf("executable[result] missing: %v", ex)
	}
	job := getJSON(t, j, "/job/one/api/json?tree=lastBuild[number,result,building]")
	if lb, _ := job["lastBuild"].(map[string]any); lb == nil || lb["building"] != true || lb["number"] != 1.0 {
		t.Fatalf("job's lastBuild under tree=: %v", job)
	}
	if b := getJSON(t, j, "/job/one/1/api/json"); b["inProgress"] != true {
		t.Fatalf("build JSON: inProgress %v, want true", b["inProgress"])
	}
	// At depth 0 a nested build still shows only number and url.
	item = getJSON(t, j, "/queue/item/"+id+"/api/json")
	if ex := item["executable"].(map[string]any); len(ex) != 3 || ex["_class"] != "hudson.model.FreeStyleBuild" {
		t.Fatalf("executable at depth 0: %v, want _class, number and url", ex)
	}
}

// TestJobsInListsAreWholeJobs: a job in Hudson.jobs or Label.tiedJobs is
// the whole job to Stapler, so a dashboard's
// /api/json?tree=jobs[name,lastBuild[number,result]] gets each job's last
// build; at depth 0 an entry still shows only name, url and color.
func TestJobsInListsAreWholeJobs(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Millisecond})
	createJob(t, j, "built", freestyle("mesos"))
	createJob(t, j, "never", freestyle("mesos"))
	connectedNode(t, j, "t1", "mesos")
	call(t, j, http.MethodPost, "/job/built/build", nil)
	waitFor(t, "built #1 to finish", func() bool {
		b := call(t, j, http.MethodGet, "/job/built/1/api/json", nil)
		return b.code == 200 && strings.Contains(b.body, `"result":"SUCCESS"`)
	})
	for _, path := range []string{"/api/json?tree=jobs[name,lastBuild[number,result],nextBuildNumber]",
		"/label/mesos/api/json?tree=tiedJobs[name,lastBuild[number,result],nextBuildNumber]"} {
		root := getJSON(t, j, path)
		list, _ := root["jobs"].([]any)
		if list == nil {
			list, _ = root["tiedJobs"].([]any)
		}
		byName := map[string]map[string]any{}
		for _, x := range list {
			m := x.(map[string]any)
			byName[m["name"].(string)] = m
		}
		lb, _ := byName["built"]["lastBuild"].(map[string]any)
		if lb == nil || lb["number"] != 1.0 || lb["result"] != "SUCCESS" || byName["built"]["nextBuildNumber"] != 2.0 {
			t.Errorf("%s: built = %v; want lastBuild #1 SUCCESS and nextBuildNumber 2", path, byName["built"])
		}
		if v, has := byName["never"]["lastBuild"]; !has || v != nil {
			t.Errorf("%s: never = %v; want lastBuild null", path, byName["never"])
		}
	}
	root := getJSON(t, j, "/api/json")
	for _, x := range root["jobs"].([]any) {
		if m := x.(map[string]any); len(m) != 4 || m["color"] == nil || m["url"] == nil {
			t.Errorf("a job at depth 0: %v; want _class, name, url and color", m)
		}
	}
}

func TestAssignedLabelsAreASetAndTheBuiltInNodeIsOnline(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n"})
	createNode(t, j, "self", "self mesos linux mesos")
	c := getJSON(t, j, "/computer/self/api/json?tree=assignedLabels[name]")
	var names []string
	for _, l := range c["assignedLabels"].([]any) {
		names = append(names, l.(map[string]any)["name"].(string))
	}
	if strings.Join(names, " ") != "linux mesos self" {
		t.Fatalf("assignedLabels %v, want [linux mesos self] (a sorted set)", names)
	}
	if b := getJSON(t, j, "/computer/(built-in)/api/json"); b["offline"] != false || b["numExecutors"] != 0.0 {
		t.Fatalf("built-in node with 0 executors: offline %v, want false", b["offline"])
	}
}

func TestBlockedWhyCarriesTheETA(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Millisecond})
	createJob(t, j, "b", freestyle("mesos", "sleep 100000"))
	connectedNode(t, j, "e1", "mesos")
	call(t, j, http.MethodPost, "/job/b/build", nil)
	waitFor(t, "b #1 to run", func() bool { return call(t, j, http.MethodGet, "/job/b/1/api/json", nil).code == 200 })
	id := queueIDOf(t, call(t, j, http.MethodPost, "/job/b/build", nil))
	waitFor(t, "the second item to be blocked", func() bool {
		return getJSON(t, j, "/queue/item/"+id+"/api/json")["why"] == "Build #1 is already in progress (ETA: N/A)"
	})
	// With a duration estimate (a previous success of 100 s), the ETA is a time span.
	j.mu.Lock()
	job := j.jobs["b"]
	prev := &Build{job: job, Number: 0, Result: "SUCCESS", Duration: 100_000}
	job.Builds = append([]*Build{prev}, job.Builds...)
	run := job.runningBuild()
	run.estimate = job.estimatedDuration()
	run.Timestamp = j.nowMillis() - 40_000
	j.mu.Unlock()
	why := getJSON(t, j, "/queue/item/"+id+"/api/json")["why"]
	if why != "Build #1 is already in progress (ETA: 1 min 0 sec)" && why != "Build #1 is already in progress (ETA: 59 sec)" {
		t.Fatalf("blocked why with an estimate: %q", why)
	}
}

func TestEarlierBuildableStartsBeforeLaterUnblocked(t *testing.T) {
	// Queue.maintain: buildables run in the order they joined the list; a
	// blocked item that unblocks later joins behind.
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Millisecond})
	createJob(t, j, "first", freestyle("mesos", "sleep 100000"))
	createJob(t, j, "second", freestyle("mesos", "sleep 100000"))
	connectedNode(t, j, "s1", "mesos")
	call(t, j, http.MethodPost, "/job/first/build", nil)
	waitFor(t, "first #1 to run", func() bool { return call(t, j, http.MethodGet, "/job/first/1/api/json", nil).code == 200 })
	older := queueIDOf(t, call(t, j, http.MethodPost, "/job/first/build", nil)) // blocked behind first #1
	waitFor(t, "first's second item to be blocked", func() bool {
		return getJSON(t, j, "/queue/item/"+older+"/api/json")["_class"] == "hudson.model.Queue$BlockedItem"
	})
	newer := queueIDOf(t, call(t, j, http.MethodPost, "/job/second/build", nil)) // buildable, waits for the executor
	waitFor(t, "second to be buildable", func() bool {
		return getJSON(t, j, "/queue/item/"+newer+"/api/json")["_class"] == "hudson.model.Queue$BuildableItem"
	})
	// first #1 ends (its node is deleted and recreated): the executor frees
	// and first's item unblocks in the same maintenance pass.
	call(t, j, http.MethodPost, "/computer/s1/doDelete", nil)
	connectedNode(t, j, "s1", "mesos")
	waitFor(t, "one of the two to start", func() bool {
		return getJSON(t, j, "/queue/item/"+newer+"/api/json")["_class"] == "hudson.model.Queue$LeftItem" ||
			getJSON(t, j, "/queue/item/"+older+"/api/json")["_class"] == "hudson.model.Queue$LeftItem"
	})
	if got := getJSON(t, j, "/queue/item/"+newer+"/api/json")["_class"]; got != "hudson.model.Queue$LeftItem" {
		t.Fatalf("the item buildable earlier (second) did not start first: %v", got)
	}
	if got := getJSON(t, j, "/queue/item/"+older+"/api/json")["_class"]; got != "hudson.model.Queue$BuildableItem" {
		t.Fatalf("the older, later-unblocked item: %v, want BuildableItem", got)
	}
}

// TestWhyNamesTheOneNodeOfALabel: with exactly one node carrying the
// label, online and busy, Jenkins names the node, not the label.
func TestWhyNamesTheOneNodeOfALabel(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Millisecond})
	createJob(t, j, "hold", freestyle("solo", "sleep 100000"))
	createJob(t, j, "next", freestyle("solo", "sleep 1"))
	connectedNode(t, j, "only", "solo")
	call(t, j, http.MethodPost, "/job/hold/build", nil)
	waitFor(t, "hold to run on only", func() bool { return call(t, j, http.MethodGet, "/job/hold/1/api/json", nil).code == 200 })
	id := queueIDOf(t, call(t, j, http.MethodPost, "/job/next/build", nil))
	waitFor(t, "next to be buildable", func() bool {
		return getJSON(t, j, "/queue/item/"+id+"/api/json")["_class"] == "hudson.model.Queue$BuildableItem"
	})
	if why := getJSON(t, j, "/queue/item/"+id+"/api/json")["why"]; why != "Waiting for next available executor on ‘only’" {
		t.Fatalf("why %q, want the single-node form naming ‘only’", why)
	}
}

// TestCrumbIsBoundToItsSession: a crumb issued in one session is refused
// with another session's cookie.
func TestCrumbIsBoundToItsSession(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", Password: "s3cret"})
	createJob(t, j, "x", freestyle("", "sleep 1"))
	session := func() (string, *http.Cookie) {
		req, _ := http.NewRequest(http.MethodGet, j.URL()+"crumbIssuer/api/json", nil)
		req.SetBasicAuth("admin", "s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var c struct{ Crumb string }
		if err := jsonDecode(resp.Body, &c); err != nil || len(resp.Cookies()) != 1 {
			t.Fatalf("crumb issuer: %v %v", err, resp.Cookies())
		}
		return c.Crumb, resp.Cookies()[0]
	}
	crumbA, _ := session()
	crumbB, cookieB := session()
	if crumbA == crumbB {
		t.Fatalf("two sessions got the same crumb %s", crumbA)
	}
	post := func(crumb string, cookie *http.Cookie) int {
		req, _ := http.NewRequest(http.MethodPost, j.URL()+"job/x/build", nil)
		req.SetBasicAuth("admin", "s3cret")
		req.Header.Set("Jenkins-Crumb", crumb)
		req.AddCookie(cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(crumbA, cookieB); code != 403 {
		t.Fatalf("session A's crumb with session B's cookie: %d, want 403", code)
	}
	if code := post(crumbB, cookieB); code != 201 {
		t.Fatalf("session B's crumb with its own cookie: %d, want 201", code)
	}
}

// TestPostConfigXMLUpdatesTheJob: POST /job/X/config.xml replaces the
// job's configuration as AbstractItem.doConfigDotXml does (200, empty):
// the job keeps its builds and next number, a queued build now waits for
// the new label (and runs where it matches), GET reads the new file back;
// another job type is refused with 500 and nothing changes; other methods
// get 400.
func TestPostConfigXMLUpdatesTheJob(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Millisecond})
	createJob(t, j, "one", freestyle("nowhere"))
	connectedNode(t, j, "t1", "mesos")
	call(t, j, http.MethodPost, "/job/one/build", nil)
	waitFor(t, "the build to wait for label nowhere", func() bool {
		return strings.Contains(call(t, j, http.MethodGet, "/queue/api/json", nil).body, "nowhere")
	})
	updated := freestyle("mesos")
	if r := call(t, j, http.MethodPost, "/job/one/config.xml", strings.NewReader(updated), "Content-Type", "application/xml"); r.code != 200 || r.body != "" {
		t.Fatalf("POST config.xml: %d %q; want 200 and no body", r.code, r.body)
	}
	waitFor(t, "the queued build to run on t1", func() bool {
		b := call(t, j, http.MethodGet, "/job/one/1/api/json", nil)
		return b.code == 200 && strings.Contains(b.body, `"builtOn":"t1"`)
	})
	if r := call(t, j, http.MethodGet, "/job/one/config.xml", nil); r.body != updated {
		t.Errorf("GET config.xml after the update: %q; want the posted file", r.body)
	}
	if job := getJSON(t, j, "/job/one/api/json"); job["labelExpression"] != "mesos" || job["nextBuildNumber"] != 2.0 {
		t.Errorf("job after the update: labelExpression %v, nextBuildNumber %v; want mesos and 2", job["labelExpression"], job["nextBuildNumber"])
	}
	pipeline := `<flow-definition><definition><script>node('mesos') { sh 'sleep 1' }</script></definition></flow-definition>`
	if r := call(t, j, http.MethodPost, "/job/one/config.xml", strings.NewReader(pipeline)); r.code != 500 || !strings.Contains(r.body, "Expecting class hudson.model.FreeStyleProject") {
		t.Errorf("POST a Pipeline over a freestyle job: %d %q; want 500 Expecting class …", r.code, r.body)
	}
	if r := call(t, j, http.MethodGet, "/job/one/config.xml", nil); r.body != updated {
		t.Errorf("config.xml after a refused update: %q", r.body)
	}
	if r := call(t, j, http.MethodPut, "/job/one/config.xml", strings.NewReader(updated)); r.code != 400 {
		t.Errorf("PUT config.xml: %d; want 400", r.code)
	}
}

// TestQuietDownHoldsTheQueue: "Prepare for Shutdown" (POST /quietDown)
// lets the running build finish and starts nothing new: a queued
// freestyle build stays buildable with why "Jenkins is about to shut
// down" (BuildableItem.getCauseOfBlockage), a Pipeline run leaving its
// quiet period is blocked with it (makeBuildable gives a flyweight task
// nothing), and the root says quietingDown with the message. Cancelling
// (POST /cancelQuietDown) starts them. Both redirect to the root; GET is
// refused.
func TestQuietDownHoldsTheQueue(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Millisecond})
	createJob(t, j, "running", freestyle("mesos", "sleep 2"))
	createJob(t, j, "held", freestyle("mesos"))
	createJob(t, j, "pipe", `<flow-definition><definition><script>node('mesos') { sh 'sleep 1' }</script></definition></flow-definition>`)
	connectedNode(t, j, "t1", "mesos")
	connectedNode(t, j, "t2", "mesos")
	call(t, j, http.MethodPost, "/job/running/build", nil)
	waitFor(t, "running #1 to start", func() bool { return call(t, j, http.MethodGet, "/job/running/1/api/json", nil).code == 200 })
	if r := call(t, j, http.MethodGet, "/quietDown", nil); r.code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /quietDown: %d; want 405", r.code)
	}
	r := call(t, j, http.MethodPost, "/quietDown?message=upgrading", nil)
	if r.code != http.StatusFound || r.header.Get("Location") == "" {
		t.Fatalf("POST /quietDown: %d %v; want a 302 to the root", r.code, r.header)
	}
	if root := getJSON(t, j, "/api/json?tree=quietingDown,quietDownReason"); root["quietingDown"] != true || root["quietDownReason"] != "upgrading" {
		t.Fatalf("root while quieting down: %v", root)
	}
	call(t, j, http.MethodPost, "/job/held/build", nil)
	call(t, j, http.MethodPost, "/job/pipe/build", nil)
	waitFor(t, "both held with the shutdown reason", func() bool {
		q := getJSON(t, j, "/queue/api/json?tree=items[why,blocked,buildable,task[name]]")
		held := map[string]map[string]any{}
		for _, x := range q["items"].([]any) {
			it := x.(map[string]any)
			held[it["task"].(map[string]any)["name"].(string)] = it
		}
		h, p := held["held"], held["pipe"]
		return h != nil && p != nil && h["why"] == "Jenkins is about to shut down" && h["buildable"] == true &&
			p["why"] == "Jenkins is about to shut down" && p["blocked"] == true
	})
	waitFor(t, "the running build to finish", func() bool {
		return strings.Contains(call(t, j, http.MethodGet, "/job/running/1/api/json", nil).body, `"result":"SUCCESS"`)
	})
	time.Sleep(50 * time.Millisecond) // a maintenance pass with free executors
	if c := call(t, j, http.MethodGet, "/job/held/1/api/json", nil).code; c != 404 {
		t.Fatalf("held #1 answered %d while quieting down; want it not started (404)", c)
	}
	if r := call(t, j, http.MethodPost, "/cancelQuietDown", nil); r.code != http.StatusFound {
		t.Fatalf("POST /cancelQuietDown: %d", r.code)
	}
	waitFor(t, "held and pipe to run once the quiet-down is cancelled", func() bool {
		return strings.Contains(call(t, j, http.MethodGet, "/job/held/1/api/json", nil).body, `"result":"SUCCESS"`) &&
			strings.Contains(call(t, j, http.MethodGet, "/job/pipe/1/api/json", nil).body, `"result":"SUCCESS"`)
	})
	if root := getJSON(t, j, "/api/json?tree=quietingDown,quietDownReason"); root["quietingDown"] != false || root["quietDownReason"] != nil {
		t.Fatalf("root after cancelQuietDown: %v", root)
	}
}

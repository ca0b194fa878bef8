package jenkinsemu

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/integration/syncbuf"
)

// longBuildOnA1 is a controller whose job long runs build #1 (sleep 1000)
// on the connected node a1; the agent logs to agentLog when given.
func longBuildOnA1(t *testing.T, agentLog *syncbuf.Buffer) *Jenkins {
	t.Helper()
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Millisecond})
	createJob(t, j, "long", freestyle("mesos", "sleep 1000"))
	createNode(t, j, "a1", "mesos")
	startAgent(t, j, "a1", func(o *AgentOptions) {
		if agentLog != nil {
			o.Log = agentLog
		}
	})
	call(t, j, http.MethodPost, "/job/long/build", nil)
	waitFor(t, "the build to run on a1", func() bool { return getJSON(t, j, "/computer/a1/api/json")["idle"] == false })
	return j
}

// leftItem reads the queue item a build request's Location names.
func leftItem(t *testing.T, j *Jenkins, build result) map[string]any {
	t.Helper()
	return getJSON(t, j, strings.TrimPrefix(build.header.Get("Location"), strings.TrimSuffix(j.URL(), "/"))+"api/json")
}

// Run.doStop (AbstractBuild.doStop → Executor.doStopBuild): the executor
// is interrupted, the build ends ABORTED with the user's cause, and the
// answer is forwardToPreviousPage: a 302 to the Referer, else to the
// build's page. Stopping a build that is not running changes nothing.
func TestStopAbortsARunningBuild(t *testing.T) {
	var agentLog syncbuf.Buffer
	j := longBuildOnA1(t, &agentLog)

	if r := call(t, j, http.MethodGet, "/job/long/1/stop", nil); r.code != http.StatusMethodNotAllowed {
		t.Fatalf("GET stop: %d, want 405 (@RequirePOST)", r.code)
	}
	r := call(t, j, http.MethodPost, "/job/long/1/stop", nil)
	if r.code != http.StatusFound || r.header.Get("Location") != j.URL()+"job/long/1/" {
		t.Fatalf("stop: %d Location %q, want 302 to the build", r.code, r.header.Get("Location"))
	}
	b := getJSON(t, j, "/job/long/1/api/json")
	if b["result"] != "ABORTED" || b["building"] != false || b["inProgress"] != false {
		t.Fatalf("stopped build: %v", b)
	}
	// InterruptedBuildAction.getCauses is @Exported at visibility 1: at
	// depth 0 only the action's class shows; a tree reaches the causes.
	actions := b["actions"].([]any)
	if len(actions) != 1 || len(actions[0].(map[string]any)) != 1 || actions[0].(map[string]any)["_class"] != "jenkins.model.InterruptedBuildAction" {
		t.Fatalf("actions %v, want the InterruptedBuildAction", actions)
	}
	act := getJSON(t, j, "/job/long/1/api/json?tree=actions[causes[shortDescription]]")["actions"].([]any)[0].(map[string]any)
	causes, _ := act["causes"].([]any)
	if act["_class"] != "jenkins.model.InterruptedBuildAction" || len(causes) != 1 ||
		causes[0].(map[string]any)["_class"] != "jenkins.model.CauseOfInterruption$UserInterruption" ||
		causes[0].(map[string]any)["shortDescription"] != "Aborted by admin" {
		t.Fatalf("interruption: %v", act)
	}
	console := call(t, j, http.MethodGet, "/job/long/1/consoleText", nil).body
	if !strings.Contains(console, "Build was aborted\nAborted by admin\n") || !strings.HasSuffix(console, "Finished: ABORTED\n") {
		t.Fatalf("console of a stopped build:\n%s", console)
	}
	if c := getJSON(t, j, "/computer/a1/api/json"); c["idle"] != true || c["offline"] != false {
		t.Fatalf("the executor is not free after the stop: %v", c)
	}
	if j := getJSON(t, j, "/job/long/api/json"); j["color"] != "aborted" {
		t.Fatalf("job color %v, want aborted", j["color"])
	}
	waitFor(t, "the agent to stop the step", func() bool { return strings.Contains(agentLog.String(), "INFO: Interrupted long#1#") })

	// The executor takes the next build at once; a stop of a finished
	// build changes nothing and goes back where the Referer says.
	call(t, j, http.MethodPost, "/job/long/build", nil)
	waitFor(t, "build #2 to run on a1", func() bool { return call(t, j, http.MethodGet, "/job/long/2/api/json", nil).code == 200 })
	r = call(t, j, http.MethodPost, "/job/long/1/stop", nil, "Referer", j.URL()+"job/long/")
	if r.code != http.StatusFound || r.header.Get("Location") != j.URL()+"job/long/" {
		t.Fatalf("stop of a finished build: %d Location %q", r.code, r.header.Get("Location"))
	}
	if b := getJSON(t, j, "/job/long/2/api/json"); b["building"] != true {
		t.Fatalf("stopping #1 again touched #2: %v", b)
	}
	if r := call(t, j, http.MethodPost, "/job/long/lastBuild/stop", nil); r.code != http.StatusFound {
		t.Fatalf("lastBuild/stop: %d", r.code)
	}
	if b := getJSON(t, j, "/job/long/2/api/json"); b["result"] != "ABORTED" {
		t.Fatalf("lastBuild/stop: %v", b)
	}
}

// A Pipeline run whose node block still waits for an agent: stopping the
// run cancels the block's queue item and the run ends ABORTED.
func TestStopAPipelineWaitingForItsNode(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Millisecond})
	createJob(t, j, "pipe", `<flow-definition><definition><script>node('mesos') { sh 'sleep 20' }</script></definition></flow-definition>`)
	call(t, j, http.MethodPost, "/job/pipe/build", nil)
	waitFor(t, "the node block to wait", func() bool { return call(t, j, http.MethodGet, "/job/pipe/1/api/json", nil).code == 200 })
	waitFor(t, "the node block to wait", func() bool { return len(getJSON(t, j, "/queue/api/json")["items"].([]any)) == 1 })
	id := int64(getJSON(t, j, "/queue/api/json")["items"].([]any)[0].(map[string]any)["id"].(float64))
	if r := call(t, j, http.MethodPost, "/job/pipe/1/stop", nil); r.code != http.StatusFound {
		t.Fatalf("stop: %d", r.code)
	}
	if b := getJSON(t, j, "/job/pipe/1/api/json"); b["result"] != "ABORTED" {
		t.Fatalf("run: %v", b)
	}
	if items := getJSON(t, j, "/queue/api/json")["items"].([]any); len(items) != 0 {
		t.Fatalf("the node block is still queued: %v", items)
	}
	if it := getJSON(t, j, "/queue/item/"+strconv.FormatInt(id, 10)+"/api/json"); it["cancelled"] != true {
		t.Fatalf("left node block: %v", it)
	}
	console := call(t, j, http.MethodGet, "/job/pipe/1/consoleText", nil).body
	if strings.Contains(console, "Build was aborted") || !strings.Contains(console, "Aborted by admin\n") {
		t.Fatalf("a Pipeline's console says only the cause:\n%s", console)
	}
}

// Deleting a job (AbstractItem.delete, ItemDeletion.cancelBuildsInProgress)
// cancels its queued builds and aborts its running ones first.
func TestDeletingAJobAbortsItsBuilds(t *testing.T) {
	j := longBuildOnA1(t, nil)
	q := call(t, j, http.MethodPost, "/job/long/build?delay=3600sec", nil)
	if q.code != http.StatusCreated {
		t.Fatalf("second build: %d", q.code)
	}
	if r := call(t, j, http.MethodPost, "/job/long/doDelete", nil); r.code != http.StatusFound {
		t.Fatalf("doDelete: %d", r.code)
	}
	if c := getJSON(t, j, "/computer/a1/api/json"); c["idle"] != true {
		t.Fatalf("the deleted job's build still holds the executor: %v", c)
	}
	if items := getJSON(t, j, "/queue/api/json")["items"].([]any); len(items) != 0 {
		t.Fatalf("the deleted job's build is still queued: %v", items)
	}
	if it := leftItem(t, j, q); it["cancelled"] != true {
		t.Fatalf("left item of the deleted job: %v", it)
	}
}

// Stapler's LargeText.doProgressText, as clients follow a console: text
// from start, X-Text-Size for the next start, X-More-Data while the build
// runs; a start past the end reads from 0.
func TestProgressiveConsoleText(t *testing.T) {
	j := longBuildOnA1(t, nil)
	full := call(t, j, http.MethodGet, "/job/long/1/consoleText", nil).body
	r := call(t, j, http.MethodGet, "/job/long/1/logText/progressiveText?start=0", nil)
	if r.code != 200 || r.body != full || r.header.Get("X-Text-Size") != strconv.Itoa(len(full)) || r.header.Get("X-More-Data") != "true" {
		t.Fatalf("running: %d %q size %q more %q; console %q", r.code, r.body, r.header.Get("X-Text-Size"), r.header.Get("X-More-Data"), full)
	}
	if r := call(t, j, http.MethodPost, "/job/long/1/logText/progressiveText", strings.NewReader("start=3"), "Content-Type", "application/x-www-form-urlencoded"); r.body != full[3:] {
		t.Fatalf("start=3 in a form body: %q, want %q", r.body, full[3:])
	}
	if r := call(t, j, http.MethodPost, "/job/long/1/term", nil); r.code != http.StatusNotFound {
		t.Fatalf("term on a freestyle build: %d, want 404 (only Pipeline runs have it)", r.code)
	}
	if r := call(t, j, http.MethodGet, "/job/long/1/logText/progressiveText?start=999999", nil); r.body != full {
		t.Fatalf("start past the end: %q, want the whole text", r.body)
	}
	if r := call(t, j, http.MethodGet, "/job/long/1/logText/progressiveText?start=x", nil); r.code != 500 {
		t.Fatalf("start=x: %d, want 500 (NumberFormatException)", r.code)
	}
	call(t, j, http.MethodPost, "/job/long/1/stop", nil)
	r = call(t, j, http.MethodGet, "/job/long/1/logText/progressiveText?start="+strconv.Itoa(len(full)), nil)
	end := call(t, j, http.MethodGet, "/job/long/1/consoleText", nil).body
	if r.body != end[len(full):] || r.header.Get("X-More-Data") != "" || r.header.Get("X-Text-Size") != strconv.Itoa(len(end)) {
		t.Fatalf("finished: %q more %q size %q; console %q", r.body, r.header.Get("X-More-Data"), r.header.Get("X-Text-Size"), end)
	}
}

// ParameterizedJob.doDisable/doEnable and a job's own quiet period.
func TestDisableEnableAndTheJobsQuietPeriod(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Hour, BuiltinExecutors: 1})
	// <quietPeriod> overrides Jenkins' own (an hour here).
	createJob(t, j, "now", strings.Replace(freestyle("", "sleep 1"), "<builders>", "<quietPeriod>0</quietPeriod><builders>", 1))
	call(t, j, http.MethodPost, "/job/now/build", nil)
	waitFor(t, "a build with quietPeriod 0 to start", func() bool { return call(t, j, http.MethodGet, "/job/now/1/api/json", nil).code == 200 })
	if r := call(t, j, http.MethodPost, "/createItem?name=bad", strings.NewReader("<project><quietPeriod>soon</quietPeriod></project>"), "Content-Type", "application/xml"); r.code != 500 {
		t.Fatalf("quietPeriod soon: %d, want 500", r.code)
	}

	createJob(t, j, "x", freestyle("mesos", "sleep 1"))
	q := call(t, j, http.MethodPost, "/job/x/build", nil)
	if r := call(t, j, http.MethodGet, "/job/x/disable", nil); r.code != http.StatusMethodNotAllowed {
		t.Fatalf("GET disable: %d", r.code)
	}
	if r := call(t, j, http.MethodPost, "/job/x/disable", nil); r.code != http.StatusFound || r.header.Get("Location") != j.URL()+"job/x/" {
		t.Fatalf("disable: %d %q", r.code, r.header.Get("Location"))
	}
	job := getJSON(t, j, "/job/x/api/json")
	if job["disabled"] != true || job["buildable"] != false || job["color"] != "disabled" || job["inQueue"] != false {
		t.Fatalf("disabled job: %v", job)
	}
	if it := leftItem(t, j, q); it["cancelled"] != true {
		t.Fatalf("disabling did not cancel the queued build: %v", it)
	}
	if c := call(t, j, http.MethodGet, "/job/x/config.xml", nil).body; !strings.Contains(c, "<disabled>true</disabled>") {
		t.Fatalf("config.xml of a disabled job:\n%s", c)
	}
	if r := call(t, j, http.MethodPost, "/job/x/build", nil); r.code != http.StatusConflict || !strings.Contains(r.body, "x is not buildable") {
		t.Fatalf("build of a disabled job: %d %s", r.code, r.body)
	}
	if r := call(t, j, http.MethodPost, "/job/x/enable", nil); r.code != http.StatusFound {
		t.Fatalf("enable: %d", r.code)
	}
	if c := call(t, j, http.MethodGet, "/job/x/config.xml", nil).body; !strings.Contains(c, "<disabled>false</disabled>") {
		t.Fatalf("config.xml of an enabled job:\n%s", c)
	}
	if r := call(t, j, http.MethodPost, "/job/x/build", nil); r.code != http.StatusCreated {
		t.Fatalf("build after enable: %d", r.code)
	}
	if r := call(t, j, http.MethodPost, "/job/x/buildWithParameters", nil); r.code != http.StatusBadRequest || !strings.Contains(r.body, "x is not parameterized") {
		t.Fatalf("buildWithParameters of a job without parameters: %d %s", r.code, r.body)
	}
	// config.xml with <disabled>true</disabled> disables it too.
	dis := strings.Replace(freestyle("mesos", "sleep 1"), "<builders>", "<disabled>true</disabled><builders>", 1)
	if r := call(t, j, http.MethodPost, "/job/x/config.xml", strings.NewReader(dis)); r.code != 200 {
		t.Fatalf("POST config.xml: %d", r.code)
	}
	if job := getJSON(t, j, "/job/x/api/json"); job["disabled"] != true || job["inQueue"] != false {
		t.Fatalf("job disabled by its config.xml: %v", job)
	}
}

// ItemGroupMixIn.createTopLevelItem's other forms: a copy (not buildable
// until saved: Job.onCopiedFrom's holdOffBuildUntilSave), an empty job of
// a type, and its refusals.
func TestCreateItemCopiesAndRefusals(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Hour})
	createJob(t, j, "src", freestyle("mesos", "sleep 1"))
	call(t, j, http.MethodPost, "/job/src/build", nil)
	if r := call(t, j, http.MethodPost, "/createItem?name=nobody", strings.NewReader("<project/>")); r.code != 400 || r.header.Get("X-Error") != "No Content-Type header set" {
		t.Fatalf("createItem without a Content-Type: %d %q", r.code, r.header.Get("X-Error"))
	}
	r := call(t, j, http.MethodPost, "/createItem?name=dup&mode=copy&from=src", nil)
	if r.code != http.StatusFound || r.header.Get("Location") != j.URL()+"job/dup/configure" {
		t.Fatalf("copy: %d %q", r.code, r.header.Get("Location"))
	}
	dup := getJSON(t, j, "/job/dup/api/json")
	if dup["buildable"] != false || dup["nextBuildNumber"] != float64(1) || dup["labelExpression"] != "mesos" {
		t.Fatalf("copied job: %v", dup)
	}
	if r := call(t, j, http.MethodPost, "/job/dup/build", nil); r.code != http.StatusConflict {
		t.Fatalf("build of a copy never saved: %d, want 409", r.code)
	}
	config := call(t, j, http.MethodGet, "/job/dup/config.xml", nil).body
	if r := call(t, j, http.MethodPost, "/job/dup/config.xml", strings.NewReader(config)); r.code != 200 {
		t.Fatalf("save the copy: %d", r.code)
	}
	if r := call(t, j, http.MethodPost, "/job/dup/build", nil); r.code != http.StatusCreated {
		t.Fatalf("build of a saved copy: %d", r.code)
	}
	for _, c := range []struct{ path, ct, want string }{
		{"/createItem?name=x&mode=copy&from=nope", "", "No such job: nope"},
		{"/createItem?name=x&mode=copy", "", "Specify which job to copy"},
		{"/createItem?name=src&mode=copy&from=dup", "", "A job already exists with the name ‘src’"},
		{"/createItem?name=x", "application/x-www-form-urlencoded", "No mode given"},
		{"/createItem?name=x&mode=hudson.model.Nope", "application/x-www-form-urlencoded", "No item type ‘hudson.model.Nope’ is known"},
	} {
		r := call(t, j, http.MethodPost, c.path, nil, "Content-Type", c.ct)
		if r.code != 400 || r.header.Get("X-Error") != c.want {
			t.Errorf("%s: %d %q, want 400 %q", c.path, r.code, r.header.Get("X-Error"), c.want)
		}
	}
	r = call(t, j, http.MethodPost, "/createItem", strings.NewReader("name=empty&mode=hudson.model.FreeStyleProject"), "Content-Type", "application/x-www-form-urlencoded")
	if r.code != http.StatusFound || r.header.Get("Location") != j.URL()+"job/empty/configure" {
		t.Fatalf("empty freestyle job from a form: %d %q", r.code, r.header.Get("Location"))
	}
	if e := getJSON(t, j, "/job/empty/api/json"); e["_class"] != "hudson.model.FreeStyleProject" || e["buildable"] != true {
		t.Fatalf("empty job: %v", e)
	}
}

// What python-jenkins and node-jenkins call besides: /me, a job's rename
// (doRename, confirmRename), the configure pages a copy redirects to, and
// a node's config.xml.
func TestMeRenameConfigurePagesAndNodeConfigXML(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Hour})
	me := getJSON(t, j, "/me/api/json")
	if me["_class"] != "hudson.model.User" || me["id"] != "admin" || me["absoluteUrl"] != j.URL()+"user/admin" {
		t.Fatalf("/me: %v", me)
	}
	if r, err := http.Get(j.URL() + "me/api/json"); err != nil || r.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous /me: %v %v, want 403", r, err)
	}
	if r := call(t, j, http.MethodGet, "/user/nobody/api/json", nil); r.code != 404 {
		t.Fatalf("/user/nobody: %d", r.code)
	}

	createJob(t, j, "old", freestyle("mesos", "sleep 1"))
	createJob(t, j, "other", freestyle("mesos", "sleep 1"))
	q := call(t, j, http.MethodPost, "/job/old/build", nil)
	if r := call(t, j, http.MethodGet, "/job/old/configure", nil); r.code != 200 {
		t.Fatalf("configure page: %d", r.code)
	}
	for newName, want := range map[string]string{"old": "The new name is the same as the current name.", "other": "The name “other” is already in use.", "a/b": "‘/’ is an unsafe character"} {
		if r := call(t, j, http.MethodPost, "/job/old/confirmRename?newName="+url.QueryEscape(newName), nil); r.code != 400 || r.header.Get("X-Error") != want {
			t.Errorf("rename to %q: %d %q, want %q", newName, r.code, r.header.Get("X-Error"), want)
		}
	}
	r := call(t, j, http.MethodPost, "/job/old/doRename?newName=new", nil)
	if r.code != http.StatusFound || r.header.Get("Location") != j.URL()+"job/new" {
		t.Fatalf("doRename: %d %q", r.code, r.header.Get("Location"))
	}
	if r := call(t, j, http.MethodGet, "/job/old/api/json", nil); r.code != 404 {
		t.Fatalf("the old name still answers: %d", r.code)
	}
	it := leftItem(t, j, q)
	if task := it["task"].(map[string]any); task["name"] != "new" || task["url"] != j.URL()+"job/new/" {
		t.Fatalf("the queued build did not follow the rename: %v", task)
	}

	createNode(t, j, "n1", "mesos linux")
	x := call(t, j, http.MethodGet, "/computer/n1/config.xml", nil)
	var node slaveXML
	if x.code != 200 || xmlUnmarshal([]byte(x.body), &node) != nil || node.Name != "n1" || node.Label != "mesos linux" ||
		node.NumExecutors != "1" || node.Mode != "EXCLUSIVE" || node.Launcher.Class != "hudson.slaves.JNLPLauncher" || node.Launcher.WebSocket != "true" {
		t.Fatalf("node config.xml: %d %+v\n%s", x.code, node, x.body)
	}
	if strings.Contains(x.body, j.Secret("n1")) {
		t.Fatal("the node's config.xml carries its secret")
	}
	if r := call(t, j, http.MethodGet, "/computer/n1/configure", nil); r.code != 200 {
		t.Fatalf("node configure page: %d", r.code)
	}
}

// Jetty canonicalizes a path before Jenkins sees it; the one view, all,
// lists every job; doDisconnect closes an agent's channel and the
// inbound agent connects again.
func TestDotSegmentsTheAllViewAndDoDisconnect(t *testing.T) {
	var agentLog syncbuf.Buffer
	j := longBuildOnA1(t, &agentLog)
	if got := getJSON(t, j, "/job/nope/../long/./api/json"); got["name"] != "long" {
		t.Fatalf("dot segments: %v", got)
	}
	v := getJSON(t, j, "/view/all/api/json")
	if v["_class"] != "hudson.model.AllView" || len(v["jobs"].([]any)) != 1 || v["jobs"].([]any)[0].(map[string]any)["name"] != "long" {
		t.Fatalf("/view/all: %v", v)
	}
	if r := call(t, j, http.MethodGet, "/view/other/api/json", nil); r.code != 404 {
		t.Fatalf("/view/other: %d", r.code)
	}
	r := call(t, j, http.MethodPost, "/computer/a1/doDisconnect?offlineMessage=bye", nil)
	if r.code != http.StatusFound || r.header.Get("Location") != j.URL()+"computer/a1/" {
		t.Fatalf("doDisconnect: %d %q", r.code, r.header.Get("Location"))
	}
	if b := getJSON(t, j, "/job/long/1/api/json"); b["result"] != "FAILURE" {
		t.Fatalf("the build on a disconnected channel: %v, want FAILURE", b)
	}
	waitFor(t, "the agent to connect again", func() bool {
		return strings.Count(agentLog.String(), "INFO: Connected") == 2 && getJSON(t, j, "/computer/a1/api/json")["offline"] == false
	})
}

package jenkinsemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/jenkins-mesos/jenkins-mesos/integration/syncbuf"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestHeadersOnEveryAnswerAndStaplerQuirks(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n"})
	for _, path := range []string{"/", "/api/json", "/computer/", "/nope", "/queue/item/99/api/json"} {
		r := call(t, j, http.MethodGet, path, nil)
		if r.header.Get("X-Jenkins") != Version || r.header.Get("X-Jenkins-Session") == "" {
			t.Errorf("%s: X-Jenkins %q X-Jenkins-Session %q", path, r.header.Get("X-Jenkins"), r.header.Get("X-Jenkins-Session"))
		}
	}
	root := getJSON(t, j, "/api/json")
	if root["_class"] != "hudson.model.Hudson" || root["useCrumbs"] != true || root["useSecurity"] != true || root["nodeName"] != "" {
		t.Fatalf("root: %v", root)
	}
	// gojenkins asks for /crumbIssuer/api/json/api/json: Stapler serves it.
	crumb := getJSON(t, j, "/crumbIssuer/api/json/api/json")
	if crumb["crumbRequestField"] != "Jenkins-Crumb" || len(crumb["crumb"].(string)) != 64 {
		t.Fatalf("crumb: %v", crumb)
	}
	if r := call(t, j, http.MethodGet, "/queue/api/json?tree=items[", nil); r.code != 500 || !strings.Contains(r.body, "Malformed tree expression") {
		t.Fatalf("bad tree: %d %s", r.code, r.body)
	}
	if r := call(t, j, http.MethodGet, "/queue/api/json?depth=deep", nil); r.code != 500 || !strings.Contains(r.body, "Depth parameter must be a number") {
		t.Fatalf("bad depth: %d %s", r.code, r.body)
	}
	cs := getJSON(t, j, "/computer/api/json")
	builtin := cs["computer"].([]any)[0].(map[string]any)
	if builtin["_class"] != "hudson.model.Hudson$MasterComputer" || builtin["displayName"] != "Built-In Node" {
		t.Fatalf("built-in computer: %v", builtin)
	}
	labels := builtin["assignedLabels"].([]any)
	if l := labels[0].(map[string]any); l["name"] != "built-in" || l["_class"] != nil {
		t.Fatalf("assignedLabels entries carry name and no _class: %v", labels)
	}
}

func TestSecurityTokensPasswordsAndCrumbs(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", Password: "s3cret"})
	base := strings.TrimSuffix(j.URL(), "/")
	do := func(method, path, user, pass string, header map[string]string, jar []*http.Cookie) *http.Response {
		req, _ := http.NewRequest(method, base+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		for _, c := range jar {
			req.AddCookie(c)
		}
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := do("GET", "/api/json", "admin", "wrong", nil, nil); r.StatusCode != 401 || r.Header.Get("WWW-Authenticate") != `Basic realm="Jenkins"` {
		t.Fatalf("bad password: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	if r := do("GET", "/api/json", "", "", nil, nil); r.StatusCode != 403 {
		t.Fatalf("anonymous without read: %d, want 403", r.StatusCode)
	}
	createJob(t, j, "x", freestyle("", "sleep 1"))
	// Token: no crumb needed.
	if r := do("POST", "/job/x/build", "admin", "t0k3n", nil, nil); r.StatusCode != 201 {
		t.Fatalf("token POST: %d", r.StatusCode)
	}
	// Password: a crumb bound to the session is needed.
	if r := do("POST", "/job/x/build", "admin", "s3cret", nil, nil); r.StatusCode != 403 {
		t.Fatalf("password POST without crumb: %d, want 403", r.StatusCode)
	}
	req, _ := http.NewRequest("GET", base+"/crumbIssuer/api/json", nil)
	req.SetBasicAuth("admin", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var crumb struct{ Crumb string }
	_ = json.NewDecoder(resp.Body).Decode(&crumb)
	resp.Body.Close()
	cookies := resp.Cookies()
	if len(cookies) != 1 || !strings.HasPrefix(cookies[0].Name, "JSESSIONID.") {
		t.Fatalf("crumb response cookies %v, want one JSESSIONID.*", cookies)
	}
	if r := do("POST", "/job/x/build", "admin", "s3cret", map[string]string{"Jenkins-Crumb": crumb.Crumb}, nil); r.StatusCode != 403 {
		t.Fatalf("crumb without its session: %d, want 403", r.StatusCode)
	}
	if r := do("POST", "/job/x/build", "admin", "s3cret", map[string]string{"Jenkins-Crumb": crumb.Crumb}, cookies); r.StatusCode != 201 {
		t.Fatalf("crumb with its session: %d, want 201", r.StatusCode)
	}

	ro := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", AnonymousRead: true})
	if r, _ := http.Get(ro.URL() + "api/json"); r.StatusCode != 200 {
		t.Fatalf("anonymous read: %d", r.StatusCode)
	}
}

func TestWhyMessagesFollowJenkinsTemplates(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Hour})
	createJob(t, j, "quiet", freestyle("mesos", "sleep 1"))
	call(t, j, http.MethodPost, "/job/quiet/build", nil)
	q := getJSON(t, j, "/queue/api/json")
	item := q["items"].([]any)[0].(map[string]any)
	if item["_class"] != "hudson.model.Queue$WaitingItem" || !strings.HasPrefix(item["why"].(string), "In the quiet period. Expires in ") {
		t.Fatalf("waiting item: %v", item)
	}
	// Items scheduled with delay=0 sec skip the quiet period.
	why := func(job string) string {
		t.Helper()
		var got string
		waitFor(t, "a buildable "+job, func() bool {
			for _, it := range getJSON(t, j, "/queue/api/json")["items"].([]any) {
				m := it.(map[string]any)
				if m["task"].(map[string]any)["name"] == job && m["buildable"] == true {
					got = m["why"].(string)
					return true
				}
			}
			return false
		})
		return got
	}
	createJob(t, j, "gpu-job", freestyle("gpu", "sleep 1"))
	createJob(t, j, "mesos-job", freestyle("mesos&&linux", "sleep 1000"))
	createJob(t, j, "mesos-job2", freestyle("mesos&&linux", "sleep 1000"))
	for _, name := range []string{"gpu-job", "mesos-job", "mesos-job2"} {
		call(t, j, http.MethodPost, "/job/"+name+"/build?delay=0sec", nil)
	}
	if got := why("gpu-job"); got != "Waiting for next available executor" {
		t.Fatalf("no agents at all: %q", got)
	}
	createNode(t, j, "m1", "mesos linux")
	if got := why("gpu-job"); got != "There are no nodes with the label ‘gpu’" {
		t.Fatalf("no node with the label: %q", got)
	}
	if got := why("mesos-job"); got != "‘m1’ is offline" {
		t.Fatalf("the one node of the label offline: %q", got)
	}
	createNode(t, j, "m2", "mesos linux")
	if got := why("mesos-job"); got != "All nodes of label ‘mesos&&linux’ are offline" {
		t.Fatalf("all nodes offline: %q", got)
	}
	startAgent(t, j, "m1")
	waitFor(t, "one job to start on m1", func() bool {
		// left: quiet (waiting), gpu-job and one of the mesos jobs.
		return len(getJSON(t, j, "/queue/api/json")["items"].([]any)) == 3
	})
	// m1 busy, m2 offline: the label is online through m1.
	waiting := ""
	for _, it := range getJSON(t, j, "/queue/api/json")["items"].([]any) {
		m := it.(map[string]any)
		if strings.HasPrefix(m["task"].(map[string]any)["name"].(string), "mesos-job") {
			waiting = m["why"].(string)
		}
	}
	if waiting != "Waiting for next available executor on ‘mesos&&linux’" {
		t.Fatalf("label online through m1, its executor busy: %q", waiting)
	}
	q = getJSON(t, j, "/queue/api/json?tree=items[stuck,task[name]]")
	for _, it := range q["items"].([]any) {
		m := it.(map[string]any)
		if name := m["task"].(map[string]any)["name"]; name == "gpu-job" && m["stuck"] != true {
			t.Fatalf("an item whose label has no nodes must be stuck: %v", m)
		}
	}
	// EXCLUSIVE nodes refuse unlabeled items; with idle ones the refusals
	// are the message.
	createJob(t, j, "anywhere", freestyle("", "sleep 1"))
	call(t, j, http.MethodPost, "/job/anywhere/build?delay=0sec", nil)
	connectedNode(t, j, "m3", "other")
	waitFor(t, "m3 online", func() bool { return getJSON(t, j, "/computer/m3/api/json")["offline"] == false })
	if got := why("anywhere"); got != "‘m3’ is reserved for jobs with matching label expression" {
		t.Fatalf("composite refusal: %q", got)
	}
}

func TestCancelAndLeftItems(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Hour})
	createJob(t, j, "c", freestyle("mesos", "sleep 1"))
	r := call(t, j, http.MethodPost, "/job/c/build", nil)
	loc, _ := url.Parse(r.header.Get("Location"))
	id := strings.TrimSuffix(strings.TrimPrefix(loc.Path, "/queue/item/"), "/")
	if r := call(t, j, http.MethodGet, "/queue/cancelItem?id="+id, nil); r.code != 405 {
		t.Fatalf("GET cancelItem: %d, want 405", r.code)
	}
	if r := call(t, j, http.MethodPost, "/queue/cancelItem?id=999", nil); r.code != 404 || r.body != "Provided id (999) not found" {
		t.Fatalf("cancel unknown: %d %q", r.code, r.body)
	}
	if r := call(t, j, http.MethodPost, "/queue/cancelItem?id="+id, nil); r.code != 204 {
		t.Fatalf("cancel: %d", r.code)
	}
	// Queue.doCancelItem finds the left item but Queue.cancel refuses it.
	if r := call(t, j, http.MethodPost, "/queue/cancelItem?id="+id, nil); r.code != 500 || r.body != "Could not cancel run for id "+id {
		t.Fatalf("cancel a left item: %d %q, want 500 \"Could not cancel run for id %s\"", r.code, r.body, id)
	}
	item := getJSON(t, j, "/queue/item/"+id+"/api/json")
	if item["cancelled"] != true || item["executable"] != nil || item["why"] != nil {
		t.Fatalf("cancelled item: %v", item)
	}
	if r := call(t, j, http.MethodGet, "/queue/item/"+id+"/", nil); r.code != 200 || !strings.HasPrefix(r.body, "Queue item exists.") {
		t.Fatalf("plain item page: %d %q", r.code, r.body)
	}
	// Left items are kept 5 minutes (6 s at scale 50).
	j.mu.Lock()
	j.left[mustInt(id)].leftAt -= (6 * time.Minute).Milliseconds()
	j.maintainLocked()
	j.mu.Unlock()
	if r := call(t, j, http.MethodGet, "/queue/item/"+id+"/api/json", nil); r.code != 404 {
		t.Fatalf("left item after 5 minutes: %d, want 404", r.code)
	}
}

func mustInt(s string) int64 {
	var v int64
	for _, c := range s {
		v = v*10 + int64(c-'0')
	}
	return v
}

func TestNodeCreationErrorsAndSecrets(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n"})
	post := func(q url.Values) result {
		return call(t, j, http.MethodPost, "/computer/doCreateItem?"+q.Encode(), nil)
	}
	form := `{"name":"n","numExecutors":"1","remoteFS":"/r","labelString":"mesos","mode":"EXCLUSIVE","launcher":{"stapler-class":"hudson.slaves.JNLPLauncher"}}`
	if r := call(t, j, http.MethodGet, "/computer/doCreateItem", nil); r.code != 404 {
		t.Fatalf("GET doCreateItem: %d, want 404 (@POST)", r.code)
	}
	if r := post(url.Values{"name": {"bad/name"}, "type": {"hudson.slaves.DumbSlave"}, "json": {form}}); r.code != 400 || r.header.Get("X-Error") != "‘/’ is an unsafe character" {
		t.Fatalf("unsafe name: %d X-Error %q", r.code, r.header.Get("X-Error"))
	}
	if r := post(url.Values{"name": {"n"}, "type": {"hudson.slaves.DumbSlave"}}); r.code != 400 || r.header.Get("X-Error") != "This page expects a form submission" {
		t.Fatalf("no json: %d %q", r.code, r.header.Get("X-Error"))
	}
	if r := post(url.Values{"name": {"n"}, "type": {"nope"}, "json": {form}}); r.code != 500 {
		t.Fatalf("bad type: %d, want 500", r.code)
	}
	if r := post(url.Values{"name": {"n"}, "type": {"hudson.slaves.DumbSlave$DescriptorImpl"}, "json": {form}}); r.code != 302 {
		t.Fatalf("create: %d", r.code)
	}
	if r := post(url.Values{"name": {"n"}, "type": {"hudson.slaves.DumbSlave"}, "json": {form}}); r.code != 400 || r.header.Get("X-Error") != "Agent called ‘n’ already exists" {
		t.Fatalf("duplicate: %d %q", r.code, r.header.Get("X-Error"))
	}
	xmlBody := `<slave><name>x1</name><description/><remoteFS>/home/jenkins</remoteFS><numExecutors>2</numExecutors><mode>NORMAL</mode><retentionStrategy class="hudson.slaves.RetentionStrategy$Always"/><launcher class="hudson.slaves.JNLPLauncher"/><label>linux</label><nodeProperties/></slave>`
	if r := call(t, j, http.MethodPost, "/computer/createItem?name=x1", strings.NewReader(xmlBody), "Content-Type", "application/xml"); r.code != 200 {
		t.Fatalf("XML create: %d %s", r.code, r.body)
	}
	if r := call(t, j, http.MethodPost, "/computer/createItem?name=x1", strings.NewReader(xmlBody), "Content-Type", "application/xml"); r.code != 400 {
		t.Fatalf("XML duplicate: %d", r.code)
	}
	c := getJSON(t, j, "/computer/n/api/json")
	if c["_class"] != "hudson.slaves.SlaveComputer" || c["offline"] != true || c["jnlpAgent"] != true || c["launchSupported"] != false || c["numExecutors"] != 1.0 {
		t.Fatalf("computer: %v", c)
	}
	if execs := c["executors"].([]any); len(execs) != 1 || len(execs[0].(map[string]any)) != 0 {
		t.Fatalf("executors at depth 0 must be [{}], got %v", execs)
	}
	if r := call(t, j, http.MethodGet, "/computer/missing/api/json", nil); r.code != 404 {
		t.Fatalf("unknown computer: %d", r.code)
	}
	r := call(t, j, http.MethodGet, "/computer/n/jenkins-agent.jnlp", nil)
	if r.header.Get("Content-Type") != "application/x-java-jnlp-file" {
		t.Fatalf("jnlp content type %q", r.header.Get("Content-Type"))
	}
	args := strings.Split(r.body, "<argument>")
	secret := strings.TrimSuffix(args[1], "</argument>")
	mac := hmac.New(sha256.New, j.instanceKey)
	mac.Write([]byte("n"))
	if secret != hex.EncodeToString(mac.Sum(nil)) || secret != j.Secret("n") || !strings.HasPrefix(args[2], "n<") {
		t.Fatalf("jnlp secret %q, want hex HMAC-SHA256 of the name", secret)
	}
	if r2 := call(t, j, http.MethodGet, "/computer/n/slave-agent.jnlp", nil); r2.body != r.body {
		t.Fatalf("slave-agent.jnlp differs from jenkins-agent.jnlp")
	}
	if r := call(t, j, http.MethodGet, "/computer/n/doDelete", nil); r.code != 405 {
		t.Fatalf("GET doDelete: %d, want 405", r.code)
	}
	if r := call(t, j, http.MethodPost, "/computer/missing/doDelete", nil); r.code != 404 {
		t.Fatalf("delete unknown: %d, want 404", r.code)
	}
}

func TestDeletingABusyNodeFailsItsBuildAndOfflineNodesTakeNoNewWork(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Millisecond})
	createJob(t, j, "long", freestyle("mesos", "sleep 1000"))
	createJob(t, j, "short", freestyle("mesos", "sleep 10"))
	connectedNode(t, j, "a1", "mesos")
	call(t, j, http.MethodPost, "/job/short/build", nil)
	waitFor(t, "short to run", func() bool { return getJSON(t, j, "/computer/a1/api/json")["idle"] == false })
	// Mark the node offline: the running build finishes, nothing new lands.
	if r := call(t, j, http.MethodPost, "/computer/a1/changeOfflineCause?offlineMessage=retiring", nil); r.code != 302 {
		t.Fatalf("changeOfflineCause: %d", r.code)
	}
	call(t, j, http.MethodPost, "/job/long/build", nil)
	waitFor(t, "short to finish", func() bool {
		r := call(t, j, http.MethodGet, "/job/short/1/api/json", nil)
		return r.code == 200 && strings.Contains(r.body, `"result":"SUCCESS"`)
	})
	time.Sleep(100 * time.Millisecond)
	if r := call(t, j, http.MethodGet, "/job/long/1/api/json", nil); r.code != 404 {
		t.Fatalf("a build landed on a temporarily offline node")
	}
	c := getJSON(t, j, "/computer/a1/api/json")
	if c["temporarilyOffline"] != true || c["offlineCauseReason"] != "retiring" {
		t.Fatalf("computer: %v", c)
	}
	call(t, j, http.MethodPost, "/computer/a1/toggleOffline", nil)
	waitFor(t, "long to start", func() bool { return call(t, j, http.MethodGet, "/job/long/1/api/json", nil).code == 200 })
	if r := call(t, j, http.MethodPost, "/computer/a1/doDelete", nil); r.code != 302 || r.header.Get("Location") != j.URL()+"computer/" {
		t.Fatalf("doDelete: %d %q", r.code, r.header.Get("Location"))
	}
	// Nodes.removeNode closes the channel; the shell step fails on it.
	b := getJSON(t, j, "/job/long/1/api/json")
	if b["result"] != "FAILURE" || b["building"] != false {
		t.Fatalf("build on a deleted node: %v, want FAILURE", b)
	}
	if r := call(t, j, http.MethodGet, "/job/long/1/consoleText", nil); !strings.Contains(r.body, "FATAL: command execution failed\n") ||
		!strings.Contains(r.body, "Build step 'Execute shell' marked build as failure\n") || !strings.HasSuffix(r.body, "Finished: FAILURE\n") {
		t.Fatalf("console of a build whose node was deleted:\n%s", r.body)
	}
}

func TestAgentRefusalsAndReconnects(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n"})
	createNode(t, j, "r1", "mesos")
	noReconnect := func(o *AgentOptions) { o.NoReconnect = true }
	err := <-startAgent(t, j, "r1", noReconnect, func(o *AgentOptions) { o.Secret = strings.Repeat("0", 64) })
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "Authorization failure") {
		t.Fatalf("wrong secret: %v", err)
	}
	err = <-startAgent(t, j, "ghost", noReconnect, func(o *AgentOptions) { o.Secret = j.Secret("ghost") })
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "ghost is not a JNLP agent") {
		t.Fatalf("unknown node: %v", err)
	}
	// Without -noReconnect a refused handshake is retried with remoting's
	// backoff (1 s, 3 s, 7 s, then 10 s, in the controller's time), as
	// Engine.runWebSocket does since remoting 3283: the agent of a node
	// made later connects by itself.
	var log syncbuf.Buffer
	early := startAgent(t, j, "late", func(o *AgentOptions) { o.Secret = j.Secret("late"); o.Log = &log })
	waitFor(t, "the refusal retried", func() bool {
		return strings.Count(log.String(), "late is not a JNLP agent") >= 2 && strings.Contains(log.String(), "Waiting 1s before retry")
	})
	select {
	case err := <-early:
		t.Fatalf("a refused agent without -noReconnect ended: %v", err)
	default:
	}
	createNode(t, j, "late", "mesos")
	waitFor(t, "late online once its node exists", func() bool { return getJSON(t, j, "/computer/late/api/json")["offline"] == false })
	startAgent(t, j, "r1")
	waitFor(t, "r1 online", func() bool { return getJSON(t, j, "/computer/r1/api/json")["offline"] == false })
	err = <-startAgent(t, j, "r1", noReconnect)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "already connected") {
		t.Fatalf("second agent for r1: %v", err)
	}
	// A restart drops the connection; the agent reconnects by itself.
	j.Restart(time.Second)
	waitFor(t, "r1 offline during the restart", func() bool {
		r := call(t, j, http.MethodGet, "/computer/r1/api/json", nil)
		return r.code == 503 || strings.Contains(r.body, `"offline":true`)
	})
	waitFor(t, "r1 to reconnect after the restart", func() bool {
		r := call(t, j, http.MethodGet, "/computer/r1/api/json", nil)
		return r.code == 200 && strings.Contains(r.body, `"offline":false`)
	})
	// -noReconnect: the agent exits when the node goes away.
	createNode(t, j, "once", "mesos")
	done := startAgent(t, j, "once", func(o *AgentOptions) { o.NoReconnect = true })
	waitFor(t, "once online", func() bool { return getJSON(t, j, "/computer/once/api/json")["offline"] == false })
	call(t, j, http.MethodPost, "/computer/once/doDelete", nil)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("-noReconnect agent ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("-noReconnect agent did not exit")
	}
}

func TestHomeSurvivesRestart(t *testing.T) {
	home := t.TempDir()
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", Home: home, QuietPeriod: time.Millisecond})
	createJob(t, j, "kept", freestyle("mesos", "sleep 1"))
	createJob(t, j, "cut", freestyle("mesos", "sleep 100000"))
	createNode(t, j, "h1", "mesos")
	createNode(t, j, "h2", "mesos")
	startAgent(t, j, "h1")
	startAgent(t, j, "h2")
	call(t, j, http.MethodPost, "/job/kept/build", nil)
	call(t, j, http.MethodPost, "/job/cut/build", nil)
	waitFor(t, "kept #1 to succeed and cut #1 to run", func() bool {
		a := call(t, j, http.MethodGet, "/job/kept/1/api/json", nil)
		b := call(t, j, http.MethodGet, "/job/cut/1/api/json", nil)
		return strings.Contains(a.body, `"result":"SUCCESS"`) && strings.Contains(b.body, `"building":true`)
	})
	secret := j.Secret("h1")
	addr := j.ln.Addr().String()
	j.Close() // the process dies

	j2 := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", Home: home, Listen: addr})
	if j2.Secret("h1") != secret {
		t.Fatalf("the instance key (and so the agent secrets) changed across the restart")
	}
	if b := getJSON(t, j2, "/job/kept/1/api/json"); b["result"] != "SUCCESS" {
		t.Fatalf("history after restart: %v", b)
	}
	if b := getJSON(t, j2, "/job/cut/1/api/json"); b["result"] != "ABORTED" {
		t.Fatalf("a build cut by the restart: %v, want ABORTED", b)
	}
	waitFor(t, "the agents to reconnect to the restarted controller", func() bool {
		return getJSON(t, j2, "/computer/h1/api/json")["offline"] == false && getJSON(t, j2, "/computer/h2/api/json")["offline"] == false
	})
}

func TestFaultsUnavailableAndSlow(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n"})
	if r := call(t, j, http.MethodPost, "/emulator/unavailable?seconds=50", nil); r.code != 204 {
		t.Fatalf("admin: %d", r.code)
	}
	if r := call(t, j, http.MethodGet, "/api/json", nil); r.code != 503 {
		t.Fatalf("during the outage: %d, want 503", r.code)
	}
	waitFor(t, "the outage to end (50 s emulated = 1 s)", func() bool { return call(t, j, http.MethodGet, "/api/json", nil).code == 200 })
	j.Slow(10 * time.Second) // 200 ms real
	start := time.Now()
	call(t, j, http.MethodGet, "/api/json", nil)
	if time.Since(start) < 150*time.Millisecond {
		t.Fatalf("slow fault not applied")
	}
	if r := call(t, j, http.MethodPost, "/emulator/explode", nil); r.code != 404 {
		t.Fatalf("unknown fault: %d", r.code)
	}
}

func TestPipelineNodeBlockRunsOnALabelledAgent(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Millisecond})
	config := `<?xml version='1.1' encoding='UTF-8'?><flow-definition plugin="workflow-job"><definition class="org.jenkinsci.plugins.workflow.cps.CpsFlowDefinition"><script>node('mesos') { sh 'sleep 20' }</script><sandbox>true</sandbox></definition></flow-definition>`
	createJob(t, j, "pipe", config)
	call(t, j, http.MethodPost, "/job/pipe/build", nil)
	waitFor(t, "the placeholder task", func() bool {
		items := getJSON(t, j, "/queue/api/json")["items"].([]any)
		if len(items) != 1 {
			return false
		}
		task := items[0].(map[string]any)["task"].(map[string]any)
		// PlaceholderTask: only _class at depth 0.
		return task["_class"] == "org.jenkinsci.plugins.workflow.support.steps.ExecutorStepExecution$PlaceholderTask" && len(task) == 1
	})
	q := getJSON(t, j, "/queue/api/json?tree=items[task[name,url]]")
	task := q["items"].([]any)[0].(map[string]any)["task"].(map[string]any)
	if task["name"] != "part of pipe #1" || task["url"] != "job/pipe/1/" {
		t.Fatalf("placeholder with a tree: %v", task)
	}
	connectedNode(t, j, "p1", "mesos")
	waitFor(t, "the run to succeed", func() bool {
		return strings.Contains(call(t, j, http.MethodGet, "/job/pipe/1/api/json", nil).body, `"result":"SUCCESS"`)
	})
	b := getJSON(t, j, "/job/pipe/1/api/json")
	if b["_class"] != "org.jenkinsci.plugins.workflow.job.WorkflowRun" {
		t.Fatalf("run: %v", b)
	}
	// sh outside node(): the run fails as in Jenkins, and says why.
	createJob(t, j, "nonode", `<flow-definition><definition><script>sh 'sleep 1'</script></definition></flow-definition>`)
	call(t, j, http.MethodPost, "/job/nonode/build", nil)
	waitFor(t, "the run without node() to fail", func() bool {
		return strings.Contains(call(t, j, http.MethodGet, "/job/nonode/1/api/json", nil).body, `"result":"FAILURE"`)
	})
	if c := call(t, j, http.MethodGet, "/job/nonode/1/consoleText", nil); !strings.Contains(c.body, "Required context class hudson.FilePath is missing") || !strings.HasSuffix(c.body, "Finished: FAILURE\n") {
		t.Fatalf("consoleText: %q", c.body)
	}
}

func TestLabelEndpoint(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n"})
	createNode(t, j, "l1", "mesos linux")
	l := getJSON(t, j, "/label/mesos/api/json")
	if l["_class"] != "hudson.model.labels.LabelAtom" || l["offline"] != true || l["name"] != "mesos" {
		t.Fatalf("label: %v", l)
	}
	nodes := l["nodes"].([]any)
	if len(nodes) != 1 || nodes[0].(map[string]any)["nodeName"] != "l1" || len(nodes[0].(map[string]any)) != 2 {
		t.Fatalf("nodes at depth 0 are {_class, nodeName}: %v", nodes)
	}
	e := getJSON(t, j, "/label/"+url.PathEscape("mesos&&linux")+"/api/json")
	if e["_class"] != "hudson.model.labels.LabelExpression$And" || e["name"] != "mesos&&linux" {
		t.Fatalf("expression label: %v", e)
	}
	if u := getJSON(t, j, "/label/nothing-here/api/json"); u["offline"] != true || len(u["nodes"].([]any)) != 0 {
		t.Fatalf("unknown label: %v", u)
	}
}

// The in-process restart keeps the queue as Jenkins does (Queue.save on
// the way down, Queue.load on the way up): a waiting item comes back
// with its id, a running build is recorded as ABORTED.
func TestRestartKeepsTheQueue(t *testing.T) {
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", QuietPeriod: time.Millisecond})
	createJob(t, j, "waits", freestyle("nowhere", "sleep 1"))
	createJob(t, j, "runs", freestyle("mesos", "sleep 100000"))
	connectedNode(t, j, "r1", "mesos")
	call(t, j, http.MethodPost, "/job/waits/build", nil)
	call(t, j, http.MethodPost, "/job/runs/build", nil)
	waitFor(t, "runs #1 running", func() bool {
		return strings.Contains(call(t, j, http.MethodGet, "/job/runs/1/api/json", nil).body, `"building":true`)
	})
	before := call(t, j, http.MethodGet, "/queue/api/json?tree=items[id,task[name]]", nil).body
	if !strings.Contains(before, `"name":"waits"`) {
		t.Fatalf("queue before the restart: %s", before)
	}
	j.Restart(time.Millisecond)
	waitFor(t, "the restart to end", func() bool { return call(t, j, http.MethodGet, "/api/json", nil).code == 200 })
	if after := call(t, j, http.MethodGet, "/queue/api/json?tree=items[id,task[name]]", nil).body; after != before {
		t.Fatalf("the queue after the restart:\n%s\nwant it as before:\n%s", after, before)
	}
	if b := getJSON(t, j, "/job/runs/1/api/json"); b["result"] != "ABORTED" {
		t.Fatalf("a build cut by the restart: %v, want ABORTED", b)
	}
}

// Jenkins started with --prefix=/ci/jenkins (Winstone's context path):
// every URL it hands out is under the prefix, the prefix alone redirects
// to itself with a slash, anything outside it is Jetty's 404, and the
// session cookie is scoped to the prefix.
func TestContextPathPrefix(t *testing.T) {
	if _, err := New(Config{Listen: "127.0.0.1:0", Prefix: "/a/../b"}); err == nil {
		t.Fatal("a prefix with .. was accepted")
	}
	j := newTestJenkins(t, Config{User: "admin", Token: "t0k3n", Password: "s3cret", Prefix: "ci/jenkins/"})
	if !strings.HasSuffix(j.URL(), "/ci/jenkins/") {
		t.Fatalf("URL %s: want the prefix in it, with one trailing slash", j.URL())
	}
	host := strings.TrimSuffix(j.URL(), "ci/jenkins/")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) *http.Response {
		req, _ := http.NewRequest("GET", u, nil)
		req.SetBasicAuth("admin", "s3cret")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, outside := range []string{host + "api/json", host + "ci/api/json", host + "ci/jenkinsx/api/json"} {
		if r := get(outside); r.StatusCode != 404 {
			t.Fatalf("GET %s outside the prefix: %d, want 404", outside, r.StatusCode)
		}
	}
	if r := get(host + "ci/jenkins"); r.StatusCode != 302 || r.Header.Get("Location") != "/ci/jenkins/" {
		t.Fatalf("GET the bare prefix: %d %q, want 302 to /ci/jenkins/", r.StatusCode, r.Header.Get("Location"))
	}
	r := get(j.URL() + "crumbIssuer/api/json")
	if r.StatusCode != 200 || len(r.Cookies()) != 1 || r.Cookies()[0].Path != "/ci/jenkins/" {
		t.Fatalf("crumb under the prefix: %d, cookies %v; want 200 and a session cookie for /ci/jenkins/", r.StatusCode, r.Cookies())
	}
	createJob(t, j, "x", freestyle("", "sleep 1"))
	req, _ := http.NewRequest("GET", j.URL()+"job/x/api/json?tree=url", nil)
	req.SetBasicAuth("admin", "t0k3n")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var job struct{ URL string }
	_ = json.NewDecoder(resp.Body).Decode(&job)
	resp.Body.Close()
	if job.URL != j.URL()+"job/x/" {
		t.Fatalf("job url %q, want %q", job.URL, j.URL()+"job/x/")
	}
}

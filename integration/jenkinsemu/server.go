package jenkinsemu

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// plainError answers with a text body.
func plainError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

// failure is hudson.model.Failure: 400 with X-Error and an HTML page.
func failure(w http.ResponseWriter, msg string) {
	w.Header().Set("X-Error", msg)
	htmlPage(w, http.StatusBadRequest, "Error", "<h1>Error</h1><p>"+html.EscapeString(msg)+"</p>")
}

func htmlPage(w http.ResponseWriter, code int, title, body string) {
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>%s [Jenkins]</title></head><body>%s</body></html>", html.EscapeString(title), body)
}

func notFound(w http.ResponseWriter) {
	htmlPage(w, http.StatusNotFound, "Not Found", "<h2>HTTP ERROR 404 Not Found</h2>")
}

func requirePOST(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		htmlPage(w, http.StatusMethodNotAllowed, "Error", "<p>This URL requires POST</p>")
		return false
	}
	return true
}

// ServeHTTP is Jenkins' front: headers on every answer, faults, security
// (authentication, permissions, crumbs), then Stapler-like dispatch.
func (j *Jenkins) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j.mu.Lock()
	sessionHeader := j.sessionID
	slow := j.slow
	unavailable := time.Now().Before(j.unavailableUntil)
	j.mu.Unlock()
	w.Header().Set("X-Jenkins", Version)
	w.Header().Set("X-Jenkins-Session", sessionHeader)
	w.Header().Set("X-Hudson", "1.395")
	if slow > 0 {
		time.Sleep(j.clock.Real(slow))
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	if strings.HasPrefix(path, "emulator/") {
		j.serveAdmin(w, r, strings.TrimPrefix(path, "emulator/"))
		return
	}
	if unavailable {
		htmlPage(w, http.StatusServiceUnavailable, "Starting Jenkins", "<p>Jenkins is getting ready to work ...</p>")
		return
	}
	if path == "wsagents" || path == "wsagents/" {
		j.handleAgent(w, r)
		return
	}
	if path == "login" {
		w.Header().Set("X-Emulator-Time-Scale", strconv.FormatFloat(j.clock.Scale(), 'g', -1, 64))
		htmlPage(w, http.StatusOK, "Sign in", "<form method=post action=j_spring_security_check></form>")
		return
	}
	j.mu.Lock()
	pr := j.authenticateLocked(r)
	j.mu.Unlock()
	if pr.authError != "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="Jenkins"`)
		htmlPage(w, http.StatusUnauthorized, "Error", "<p>"+html.EscapeString(pr.authError)+"</p>")
		return
	}
	if j.securityOn() && pr.user == "" && !(j.cfg.AnonymousRead && r.Method == http.MethodGet) {
		htmlPage(w, http.StatusForbidden, "Sign in", "<p>Authentication required</p><form method=post action=j_spring_security_check></form>")
		return
	}
	if r.Method == http.MethodPost {
		j.mu.Lock()
		ok := j.crumbOKLocked(r, pr)
		j.mu.Unlock()
		if !ok {
			htmlPage(w, http.StatusForbidden, "Error", "<p>No valid crumb was included in the request</p>")
			return
		}
	}
	j.dispatch(w, r, pr, splitPath(path))
}

func splitPath(path string) []string {
	var out []string
	for _, s := range strings.Split(path, "/") {
		if s != "" {
			if u, err := url.PathUnescape(s); err == nil {
				s = u
			}
			out = append(out, s)
		}
	}
	return out
}

// isAPI tells whether the remaining path is api/json (a trailing path
// after it is still served, as Stapler does).
func isAPI(rest []string) bool { return len(rest) >= 2 && rest[0] == "api" && rest[1] == "json" }

func (j *Jenkins) dispatch(w http.ResponseWriter, r *http.Request, pr principal, seg []string) {
	if len(seg) == 0 {
		htmlPage(w, http.StatusOK, "Dashboard", "<h1>Jenkins (emulated)</h1>")
		return
	}
	switch {
	case isAPI(seg):
		j.serveBean(w, r, func() any { return j.rootBean() })
	case seg[0] == "crumbIssuer" && isAPI(seg[1:]):
		j.mu.Lock()
		session := j.sessionLocked(w, r, pr.user)
		crumb := j.crumbFor(pr.user, session)
		j.mu.Unlock()
		j.serveBean(w, r, func() any {
			return newBean("hudson.security.csrf.DefaultCrumbIssuer", p("crumb", crumb), p("crumbRequestField", crumbField))
		})
	case seg[0] == "queue":
		j.serveQueue(w, r, seg[1:])
	case seg[0] == "createItem":
		j.serveCreateJob(w, r)
	case seg[0] == "job" && len(seg) >= 2:
		j.serveJob(w, r, seg[1], seg[2:])
	case seg[0] == "label" && len(seg) >= 2:
		expr := seg[1]
		l, err := parseLabelExpr(expr)
		if err != nil {
			l = &labelExpr{op: opAtom, atom: expr}
		}
		if isAPI(seg[2:]) {
			j.serveBean(w, r, func() any { return j.labelBean(expr, l) })
			return
		}
		htmlPage(w, http.StatusOK, expr, "<h1>Label "+html.EscapeString(expr)+"</h1>")
	case seg[0] == "computer":
		j.serveComputer(w, r, pr, seg[1:])
	default:
		notFound(w)
	}
}

// serveBean writes api/json with tree= or depth=, under the lock.
func (j *Jenkins) serveBean(w http.ResponseWriter, r *http.Request, build func() any) {
	q := r.URL.Query()
	var tree *treeNode
	if t := q.Get("tree"); t != "" {
		var err error
		if tree, err = parseTree(t); err != nil {
			htmlPage(w, http.StatusInternalServerError, "Error", "<p>Malformed tree expression</p>")
			return
		}
	}
	depth := 0
	if d := q.Get("depth"); d != "" && tree == nil {
		v, err := strconv.Atoi(d)
		if err != nil {
			htmlPage(w, http.StatusInternalServerError, "Error", "<p>Depth parameter must be a number</p>")
			return
		}
		depth = v
	}
	j.mu.Lock()
	b := build()
	e := exporter{sizeHint: 4096 + 400*len(j.queue)}
	out := e.top(b, tree, depth)
	j.mu.Unlock()
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "deny")
	_, _ = w.Write(out)
}

func (j *Jenkins) serveQueue(w http.ResponseWriter, r *http.Request, seg []string) {
	switch {
	case isAPI(seg):
		j.serveBean(w, r, func() any { return j.queueBean() })
	case len(seg) >= 1 && seg[0] == "cancelItem":
		if !requirePOST(w, r) {
			return
		}
		id, err := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
		j.mu.Lock()
		found, ok := false, false
		if err == nil {
			found, ok = j.cancelLocked(id)
		}
		j.mu.Unlock()
		switch {
		case !found:
			plainError(w, http.StatusNotFound, "Provided id ("+r.URL.Query().Get("id")+") not found")
		case !ok:
			// Queue.doCancelItem: found (a left item too) but Queue.cancel
			// refused. 422 "Item for id (N) is not cancellable" is for users
			// without CANCEL, which the emulator's only user never is.
			plainError(w, http.StatusInternalServerError, "Could not cancel run for id "+r.URL.Query().Get("id"))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	case len(seg) >= 2 && seg[0] == "item":
		id, err := strconv.ParseInt(seg[1], 10, 64)
		j.mu.Lock()
		var it *QueueItem
		if err == nil {
			it = j.itemLocked(id)
		}
		j.mu.Unlock()
		if it == nil {
			notFound(w)
			return
		}
		rest := seg[2:]
		switch {
		case isAPI(rest):
			j.serveBean(w, r, func() any { return j.itemBean(it, whyCache{}, map[string]bool{}) })
		case len(rest) >= 1 && rest[0] == "cancelQueue":
			if !requirePOST(w, r) {
				return
			}
			// Queue.Item.doCancelQueue (deprecated): 204 whether or not the
			// item could still be cancelled.
			j.mu.Lock()
			j.cancelLocked(id)
			j.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		default:
			plainError(w, http.StatusOK, "Queue item exists. For details check, for example, "+j.root+"queue/item/"+seg[1]+"/api/json?tree=cancelled,executable[url]")
		}
	default:
		notFound(w)
	}
}

func (j *Jenkins) serveCreateJob(w http.ResponseWriter, r *http.Request) {
	if !requirePOST(w, r) {
		return
	}
	name := r.URL.Query().Get("name")
	body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	j.mu.Lock()
	defer j.mu.Unlock()
	if name == "" {
		failure(w, "Query parameter 'name' is required")
		return
	}
	if msg := checkJobName(name); msg != "" {
		failure(w, msg)
		return
	}
	if _, ok := j.jobs[name]; ok {
		failure(w, "A job already exists with the name ‘"+name+"’")
		return
	}
	job, err := parseJobConfig(name, string(body))
	if err != nil {
		htmlPage(w, http.StatusInternalServerError, "Error", "<p>"+html.EscapeString(err.Error())+"</p>")
		return
	}
	j.jobs[name] = job
	j.saveLocked()
	w.WriteHeader(http.StatusOK)
}

func checkJobName(name string) string {
	if name == "." || name == ".." {
		return "‘" + name + "’ is not an allowed name"
	}
	for _, c := range name {
		if c < 0x20 || strings.ContainsRune(`?*/\%!@#$^&|<>[]:;`, c) {
			return "‘" + string(c) + "’ is an unsafe character"
		}
	}
	return ""
}

func (j *Jenkins) serveJob(w http.ResponseWriter, r *http.Request, name string, rest []string) {
	j.mu.Lock()
	job := j.jobs[name]
	j.mu.Unlock()
	if job == nil {
		notFound(w)
		return
	}
	switch {
	case len(rest) == 0:
		htmlPage(w, http.StatusOK, name, "<h1>Project "+html.EscapeString(name)+"</h1>")
	case isAPI(rest):
		j.serveBean(w, r, func() any { return j.jobBean(job) })
	case rest[0] == "build" || rest[0] == "buildWithParameters":
		if !requirePOST(w, r) {
			return
		}
		quiet := j.cfg.QuietPeriod
		if d := r.URL.Query().Get("delay"); d != "" {
			if v, err := strconv.Atoi(strings.TrimSuffix(d, "sec")); err == nil {
				quiet = time.Duration(v) * time.Second
			}
		}
		j.mu.Lock()
		it := j.enqueueLocked(job, quiet)
		j.mu.Unlock()
		w.Header().Set("Location", j.root+"queue/item/"+strconv.FormatInt(it.ID, 10)+"/")
		w.WriteHeader(http.StatusCreated)
	case rest[0] == "config.xml":
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, job.ConfigXML)
	case rest[0] == "doDelete":
		if !requirePOST(w, r) {
			return
		}
		j.mu.Lock()
		delete(j.jobs, name)
		j.saveLocked()
		j.mu.Unlock()
		http.Redirect(w, r, j.root, http.StatusFound)
	default:
		j.mu.Lock()
		var b *Build
		switch rest[0] {
		case "lastBuild":
			b = job.lastBuild()
		default:
			if n, err := strconv.Atoi(rest[0]); err == nil {
				for _, x := range job.Builds {
					if x.Number == n {
						b = x
					}
				}
			}
		}
		j.mu.Unlock()
		if b == nil {
			notFound(w)
			return
		}
		if isAPI(rest[1:]) {
			j.serveBean(w, r, func() any { return j.buildBean(b) })
			return
		}
		if len(rest) > 1 && rest[1] == "consoleText" {
			j.mu.Lock()
			text := consoleText(b)
			j.mu.Unlock()
			w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
			_, _ = io.WriteString(w, text)
			return
		}
		htmlPage(w, http.StatusOK, name+" #"+rest[0], "<h1>Build #"+rest[0]+"</h1>")
	}
}

// nodeCreateForm is the JSON form of ComputerSet.doDoCreateItem.
type nodeCreateForm struct {
	Name            string          `json:"name"`
	NodeDescription string          `json:"nodeDescription"`
	NumExecutors    json.RawMessage `json:"numExecutors"`
	RemoteFS        string          `json:"remoteFS"`
	LabelString     string          `json:"labelString"`
	Mode            string          `json:"mode"`
	Launcher        struct {
		StaplerClass string `json:"stapler-class"`
		Class        string `json:"$class"`
		WebSocket    bool   `json:"webSocket"`
	} `json:"launcher"`
}

func (j *Jenkins) serveComputer(w http.ResponseWriter, r *http.Request, pr principal, seg []string) {
	if len(seg) == 0 {
		htmlPage(w, http.StatusOK, "Nodes", "<h1>Nodes</h1>")
		return
	}
	switch {
	case isAPI(seg):
		j.serveBean(w, r, func() any { return j.computerSetBean() })
		return
	case seg[0] == "doCreateItem":
		if r.Method != http.MethodPost {
			notFound(w) // @POST: a GET finds no method
			return
		}
		j.createNodeFromForm(w, r)
		return
	case seg[0] == "createItem" && r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/xml"):
		j.createNodeFromXML(w, r)
		return
	}
	name := seg[0]
	rest := seg[1:]
	j.mu.Lock()
	n := j.nodes[name]
	if name == "(built-in)" || name == "(master)" {
		n = j.builtin
	}
	j.mu.Unlock()
	if n == nil {
		notFound(w)
		return
	}
	switch {
	case isAPI(rest):
		j.serveBean(w, r, func() any { return j.computerBean(n) })
	case len(rest) == 0:
		body := "<h1>Agent " + html.EscapeString(n.displayName()) + "</h1>"
		j.mu.Lock()
		if !n.builtin && n.conn == nil && !n.TempOffline {
			body += "<pre>java -jar agent.jar -url " + j.root + " -secret " + j.secretLocked(n.Name) + " -name " + html.EscapeString(n.Name) + " -webSocket -workDir \"" + html.EscapeString(n.RemoteFS) + "\"</pre>"
		}
		j.mu.Unlock()
		htmlPage(w, http.StatusOK, n.displayName(), body)
	case rest[0] == "doDelete":
		if !requirePOST(w, r) {
			return
		}
		j.mu.Lock()
		if !n.builtin {
			j.removeNodeLocked(n)
		}
		j.mu.Unlock()
		http.Redirect(w, r, j.root+"computer/", http.StatusFound)
	case rest[0] == "toggleOffline" || rest[0] == "changeOfflineCause":
		if !requirePOST(w, r) {
			return
		}
		// @QueryParameter reads the query string and a form body alike;
		// Util.fixEmptyAndTrim drops a blank message.
		if err := r.ParseForm(); err != nil {
			failure(w, "Malformed form submission: "+err.Error())
			return
		}
		msg := strings.TrimSpace(r.Form.Get("offlineMessage"))
		by := pr.user
		if by == "" {
			by = "anonymous"
		}
		j.mu.Lock()
		if rest[0] == "toggleOffline" && n.TempOffline {
			n.TempOffline, n.OfflineCause, n.offlineBy = false, "", ""
		} else {
			n.TempOffline, n.OfflineCause, n.offlineBy, n.offlineSince = true, msg, by, j.nowMillis()
		}
		j.saveLocked()
		j.kickLocked()
		j.mu.Unlock()
		http.Redirect(w, r, j.root+"computer/"+url.PathEscape(name)+"/", http.StatusFound)
	case rest[0] == "jenkins-agent.jnlp" || rest[0] == "slave-agent.jnlp":
		if n.builtin {
			notFound(w)
			return
		}
		j.mu.Lock()
		body := j.jnlpLocked(n)
		j.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-java-jnlp-file")
		_, _ = io.WriteString(w, body)
	default:
		notFound(w)
	}
}

func (j *Jenkins) createNodeFromForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	_ = r.ParseForm()
	get := func(k string) string {
		if v := r.PostForm.Get(k); v != "" {
			return v
		}
		return q.Get(k)
	}
	name, typ, form := get("name"), get("type"), get("json")
	j.mu.Lock()
	defer j.mu.Unlock()
	if msg := j.checkNodeNameLocked(name); msg != "" {
		failure(w, msg)
		return
	}
	if form == "" {
		if len(r.Form) > 0 {
			failure(w, "This page expects a form submission")
		} else {
			failure(w, "Nothing is submitted")
		}
		return
	}
	if typ != "hudson.slaves.DumbSlave" && typ != "hudson.slaves.DumbSlave$DescriptorImpl" {
		htmlPage(w, http.StatusInternalServerError, "Error", "<p>java.lang.NullPointerException: no node type "+html.EscapeString(typ)+"</p>")
		return
	}
	var f nodeCreateForm
	if err := json.Unmarshal([]byte(form), &f); err != nil {
		htmlPage(w, http.StatusInternalServerError, "Error", "<p>net.sf.json.JSONException: "+html.EscapeString(err.Error())+"</p>")
		return
	}
	execs := 1
	if len(f.NumExecutors) > 0 {
		s := strings.Trim(string(f.NumExecutors), `"`)
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			failure(w, "Invalid agent configuration for "+name+". Number of executors must be a positive number")
			return
		}
		execs = v
	}
	launcher := f.Launcher.StaplerClass
	if launcher == "" {
		launcher = f.Launcher.Class
	}
	if launcher != "" && launcher != "hudson.slaves.JNLPLauncher" {
		htmlPage(w, http.StatusInternalServerError, "Error", "<p>Only hudson.slaves.JNLPLauncher agents are emulated</p>")
		return
	}
	if _, msg := j.addNodeLocked(NodeSpec{Name: name, Description: f.NodeDescription, RemoteFS: f.RemoteFS, Labels: f.LabelString,
		NumExecutors: execs, Mode: f.Mode, WebSocket: f.Launcher.WebSocket}); msg != "" {
		failure(w, msg)
		return
	}
	http.Redirect(w, r, j.root+"computer/", http.StatusFound)
}

type slaveXML struct {
	Name         string `xml:"name"`
	Description  string `xml:"description"`
	RemoteFS     string `xml:"remoteFS"`
	NumExecutors string `xml:"numExecutors"`
	Mode         string `xml:"mode"`
	Label        string `xml:"label"`
	Launcher     struct {
		Class     string `xml:"class,attr"`
		WebSocket string `xml:"webSocket"`
	} `xml:"launcher"`
}

func (j *Jenkins) createNodeFromXML(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var x slaveXML
	if err := xmlUnmarshal(body, &x); err != nil {
		htmlPage(w, http.StatusInternalServerError, "Error", "<p>"+html.EscapeString(err.Error())+"</p>")
		return
	}
	if name == "" {
		name = x.Name
	}
	execs, _ := strconv.Atoi(strings.TrimSpace(x.NumExecutors))
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.nodes[name]; ok {
		failure(w, "Node '"+name+"' already exists")
		return
	}
	if _, msg := j.addNodeLocked(NodeSpec{Name: name, Description: x.Description, RemoteFS: x.RemoteFS, Labels: x.Label,
		NumExecutors: execs, Mode: x.Mode, WebSocket: strings.TrimSpace(x.Launcher.WebSocket) == "true"}); msg != "" {
		failure(w, msg)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// serveAdmin is the fault-injection endpoint under /emulator/ (a prefix
// real Jenkins does not use).
func (j *Jenkins) serveAdmin(w http.ResponseWriter, r *http.Request, what string) {
	if !requirePOST(w, r) {
		return
	}
	secs := func() (time.Duration, bool) {
		v, err := strconv.ParseFloat(r.URL.Query().Get("seconds"), 64)
		if err != nil || v < 0 {
			plainError(w, http.StatusBadRequest, "query parameter 'seconds' must be a non-negative number")
			return 0, false
		}
		return time.Duration(v * float64(time.Second)), true
	}
	switch what {
	case "unavailable":
		if d, ok := secs(); ok {
			j.Unavailable(d)
			w.WriteHeader(http.StatusNoContent)
		}
	case "slow":
		if d, ok := secs(); ok {
			j.Slow(d)
			w.WriteHeader(http.StatusNoContent)
		}
	case "restart":
		if d, ok := secs(); ok {
			j.Restart(d)
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		plainError(w, http.StatusNotFound, "unknown fault "+strconv.Quote(what)+"; expected unavailable, slow or restart")
	}
}

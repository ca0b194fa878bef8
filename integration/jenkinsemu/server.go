package jenkinsemu

import (
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

// postForm is requirePOST, then the form (the query string and a form
// body, as @QueryParameter reads them); false when it has answered.
func postForm(w http.ResponseWriter, r *http.Request) bool {
	if !requirePOST(w, r) {
		return false
	}
	if err := r.ParseForm(); err != nil {
		failure(w, "Malformed form submission: "+err.Error())
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
	// The emulator's own header: the stand-in agent times its retries by it.
	w.Header().Set("X-Emulator-Time-Scale", strconv.FormatFloat(j.clock.Scale(), 'g', -1, 64))
	if slow > 0 {
		time.Sleep(j.clock.Real(slow))
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	if pre := j.cfg.Prefix; pre != "" && !strings.HasPrefix(path, "emulator/") {
		// Jetty's context path: /jenkins is redirected to /jenkins/,
		// anything outside it is not Jenkins'.
		rest, ok := strings.CutPrefix(r.URL.Path, pre)
		switch {
		case ok && rest == "":
			http.Redirect(w, r, pre+"/", http.StatusFound)
			return
		case !ok || !strings.HasPrefix(rest, "/"):
			http.NotFound(w, r)
			return
		}
		path = strings.TrimPrefix(rest, "/")
	}
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

// splitPath splits a request path into decoded segments, resolving "."
// and ".." as Jetty canonicalizes a URI before Jenkins sees it (clients
// following Stapler's relative redirects send such paths).
func splitPath(path string) []string {
	var out []string
	for _, s := range strings.Split(path, "/") {
		switch s {
		case "", ".":
			continue
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			continue
		}
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
		out = append(out, s)
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
	case seg[0] == "quietDown" || seg[0] == "cancelQuietDown":
		j.serveQuietDown(w, r, seg[0] == "quietDown")
	case seg[0] == "queue":
		j.serveQueue(w, r, seg[1:])
	case seg[0] == "createItem":
		j.serveCreateJob(w, r)
	case seg[0] == "job" && len(seg) >= 2:
		j.serveJob(w, r, pr, seg[1], seg[2:])
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
	case seg[0] == "view" && len(seg) >= 2:
		// The one view, "all" (AllView): every job.
		if seg[1] != "all" {
			notFound(w)
			return
		}
		if isAPI(seg[2:]) {
			j.serveBean(w, r, func() any { return j.allViewBean() })
			return
		}
		htmlPage(w, http.StatusOK, "All", "<h1>All</h1>")
	case seg[0] == "me" || (seg[0] == "user" && len(seg) >= 2):
		j.serveUser(w, r, pr, seg)
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

// serveQuietDown is Jenkins.doQuietDown and doCancelQuietDown (both
// @RequirePOST, MANAGE; the admin is the only user): "Prepare for
// Shutdown" holds every queued task and lets running builds finish; its
// message becomes quietDownReason. Both redirect to the root. block and
// timeout are not honoured (the emulator answers at once).
func (j *Jenkins) serveQuietDown(w http.ResponseWriter, r *http.Request, on bool) {
	if !requirePOST(w, r) {
		return
	}
	j.mu.Lock()
	if on {
		msg := r.URL.Query().Get("message")
		if msg == "" {
			msg = r.PostFormValue("message")
		}
		j.quietDown = &msg
	} else {
		j.quietDown = nil
		j.kickLocked() // getQueue().scheduleMaintenance()
	}
	j.mu.Unlock()
	http.Redirect(w, r, j.root, http.StatusFound)
}

// serveUser is /me (Jenkins.getMe: the caller) and /user/NAME: the admin
// is the only user; /me is refused to anonymous callers.
func (j *Jenkins) serveUser(w http.ResponseWriter, r *http.Request, pr principal, seg []string) {
	rest := seg[1:]
	id := pr.user
	if seg[0] == "user" {
		id, rest = seg[1], seg[2:]
		if id != j.cfg.User || id == "" {
			notFound(w)
			return
		}
	} else if id == "" {
		htmlPage(w, http.StatusForbidden, "Error", "<p>/me is not available when not logged in</p>")
		return
	}
	if !isAPI(rest) {
		htmlPage(w, http.StatusOK, id, "<h1>"+html.EscapeString(id)+"</h1>")
		return
	}
	j.serveBean(w, r, func() any {
		return newBean("hudson.model.User", p("absoluteUrl", j.root+"user/"+id), p("description", nil),
			p("fullName", id), p("id", id), p("property", []any{}))
	})
}

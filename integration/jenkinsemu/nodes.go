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

// Node is an agent (or the built-in node) and its computer.
type Node struct {
	Name         string
	Description  string
	RemoteFS     string
	LabelString  string
	NumExecutors int
	Mode         string // NORMAL or EXCLUSIVE
	Retention    string
	WebSocket    bool
	TempOffline  bool
	OfflineCause string // the user's message (UserCause), "" for none

	offlineSince int64  // the cause's timestamp
	offlineBy    string // the user who set the cause ("anonymous" without security)
	builtin      bool
	labels       []string
	slots        []*slot
	conn         *agentConn
}

// slot is a busy executor.
type slot struct {
	item   *QueueItem
	build  *Build
	timer  *time.Timer
	taskID string
}

func (n *Node) displayName() string {
	if n.builtin {
		return "Built-In Node"
	}
	return n.Name
}

func (n *Node) hasLabel(l string) bool {
	if !n.builtin && l == n.Name {
		return true
	}
	for _, x := range n.labels {
		if x == l {
			return true
		}
	}
	return false
}

// offline is Computer.isOffline: temporarily offline or no channel.
func (n *Node) offline() bool {
	if n.TempOffline {
		return true
	}
	if n.builtin {
		return false // the built-in node's channel is local: never gone, even with 0 executors
	}
	return n.conn == nil
}

func (n *Node) idleCount() int {
	c := 0
	for _, s := range n.slots {
		if s == nil {
			c++
		}
	}
	return c
}

// canTake is Node.canTake: the label must match; EXCLUSIVE nodes take
// only items whose label expression matches them.
func (n *Node) canTake(it *QueueItem) (bool, string) {
	if it.label == nil {
		if n.Mode == "EXCLUSIVE" {
			return false, "‘" + n.displayName() + "’ is reserved for jobs with matching label expression"
		}
		return true, ""
	}
	if !it.label.matches(n.hasLabel) {
		return false, "‘" + n.displayName() + "’ doesn’t have label ‘" + it.label.String() + "’"
	}
	return true, ""
}

// labelNodesLocked lists the nodes (built-in included) a label matches.
func (j *Jenkins) labelNodesLocked(l *labelExpr) []*Node {
	var out []*Node
	if l.matches(j.builtin.hasLabel) {
		out = append(out, j.builtin)
	}
	for _, n := range j.sortedNodes() {
		if l.matches(n.hasLabel) {
			out = append(out, n)
		}
	}
	return out
}

// runLocked hands a buildable item to an executor: the item leaves the
// queue and its build starts on the node.
func (j *Jenkins) runLocked(n *Node, index int, it *QueueItem) {
	s := &slot{item: it}
	n.slots[index] = s
	var st step
	if it.placeholder {
		s.build = it.run
		_, _, commands := pipelineNode(it.job.Script)
		st = stepsOf(commands)
	} else {
		s.build = j.startBuildLocked(it.job, it, n.Name)
		st = stepsOf(it.job.Commands)
	}
	it.executable = s.build
	j.leaveLocked(it)
	if n.builtin || n.conn == nil {
		s.timer = j.clock.AfterFunc(st.sleep, func() {
			j.mu.Lock()
			defer j.mu.Unlock()
			j.completeLocked(n, s, resultOf(st.exit))
		})
		return
	}
	s.taskID = fmt.Sprintf("%s#%d#%d", it.job.Name, s.build.Number, it.ID)
	n.conn.send(agentMessage{Type: "build", ID: s.taskID, Job: it.job.Name, Number: s.build.Number,
		SleepMillis: j.clock.Real(st.sleep).Milliseconds(), Exit: st.exit})
}

func resultOf(exit int) string {
	if exit == 0 {
		return "SUCCESS"
	}
	return "FAILURE"
}

// completeLocked frees the executor and ends the build with a result.
func (j *Jenkins) completeLocked(n *Node, s *slot, result string) {
	found := false
	for i, x := range n.slots {
		if x == s {
			n.slots[i] = nil
			found = true
		}
	}
	if !found {
		return
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	j.finishBuildLocked(s.build, result)
}

// abortAllLocked ends every build on a node with one result (a restart:
// ABORTED).
func (j *Jenkins) abortAllLocked(n *Node, result string) {
	for _, s := range n.slots {
		if s != nil {
			j.completeLocked(n, s, result)
		}
	}
}

// channelLostLocked ends the builds on a node whose channel is gone, as
// their steps end in Jenkins: a freestyle shell step meets the closed
// channel (CommandInterpreter: "FATAL: command execution failed", the
// step marks the build FAILURE); a Pipeline node block whose agent was
// deleted is cancelled (ExecutorStepExecution.RemovedNodeListener:
// ABORTED); one whose agent just disconnected fails.
func (j *Jenkins) channelLostLocked(n *Node, deleted bool) {
	for _, s := range n.slots {
		if s == nil {
			continue
		}
		result := "FAILURE"
		switch {
		case s.item.placeholder && deleted:
			s.build.Log += "Agent " + n.Name + " was deleted; cancelling node body\n"
			result = "ABORTED"
		case s.item.placeholder:
			s.build.Log += "Cannot contact " + n.Name + ": java.nio.channels.ClosedChannelException\n"
		default:
			s.build.Log += "FATAL: command execution failed\n" +
				"hudson.remoting.ChannelClosedException: Channel \"hudson.remoting.Channel@" + n.Name + "\": Remote call on " + n.Name +
				" failed. The channel is closing down or has closed down\n" +
				"Build step 'Execute shell' marked build as failure\n"
		}
		j.completeLocked(n, s, result)
	}
}

// checkGoodName is Jenkins.checkGoodName plus the duplicate check.
func (j *Jenkins) checkNodeNameLocked(name string) string {
	switch {
	case name == "":
		return "Query parameter 'name' is required"
	case name == "." || name == "..":
		return "‘" + name + "’ is not an allowed name"
	case strings.HasSuffix(name, "."):
		return "A name cannot end with ‘.’"
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f {
			return "‘" + string(c) + "’ is an unsafe character"
		}
		if strings.ContainsRune(`?*/\%!@#$^&|<>[]:;`, c) {
			return "‘" + string(c) + "’ is an unsafe character"
		}
	}
	if _, ok := j.nodes[name]; ok {
		return "Agent called ‘" + name + "’ already exists"
	}
	return ""
}

// NodeSpec is what creating an inbound agent node takes.
type NodeSpec struct {
	Name         string
	Description  string
	RemoteFS     string
	Labels       string
	NumExecutors int
	Mode         string
	WebSocket    bool
}

func (j *Jenkins) addNodeLocked(spec NodeSpec) (*Node, string) {
	if msg := j.checkNodeNameLocked(spec.Name); msg != "" {
		return nil, msg
	}
	if spec.NumExecutors <= 0 {
		spec.NumExecutors = 1
	}
	mode := strings.ToUpper(spec.Mode)
	if mode == "" {
		mode = "NORMAL"
	}
	if mode != "NORMAL" && mode != "EXCLUSIVE" {
		return nil, "Invalid mode: " + spec.Mode
	}
	n := &Node{Name: spec.Name, Description: spec.Description, RemoteFS: spec.RemoteFS, LabelString: spec.Labels,
		NumExecutors: spec.NumExecutors, Mode: mode, Retention: "hudson.slaves.RetentionStrategy$Always", WebSocket: spec.WebSocket,
		labels: parseLabelString(spec.Labels), slots: make([]*slot, spec.NumExecutors)}
	j.nodes[n.Name] = n
	j.saveLocked()
	j.kickLocked()
	return n, ""
}

// removeNodeLocked is Nodes.removeNode: the computer is disconnected
// ("Node is being removed"); the builds on it end as their steps meet the
// closed channel (FAILURE for a freestyle build, not ABORTED).
func (j *Jenkins) removeNodeLocked(n *Node) {
	j.channelLostLocked(n, true)
	if n.conn != nil {
		n.conn.close()
		n.conn = nil
	}
	delete(j.nodes, n.Name)
	j.saveLocked()
	j.kickLocked()
}

// jnlpLocked renders jenkins-agent.jnlp: the secret is argument[1]... the
// first argument, the name the second.
func (j *Jenkins) jnlpLocked(n *Node) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<jnlp codebase=\"" + j.root + "computer/" + n.Name + "/\" spec=\"1.0+\">")
	b.WriteString("<information><title>Agent for " + xmlEscape(n.Name) + "</title><vendor>Jenkins project</vendor><homepage href=\"https://jenkins-ci.org/\"/></information>")
	b.WriteString("<security><all-permissions/></security><resources><j2se version=\"1.8+\"/><jar href=\"" + j.root + "jnlpJars/remoting.jar\"/></resources>")
	b.WriteString("<application-desc main-class=\"hudson.remoting.jnlp.Main\">")
	arg := func(s string) { b.WriteString("<argument>" + xmlEscape(s) + "</argument>") }
	arg(j.secretLocked(n.Name))
	arg(n.Name)
	if n.WebSocket {
		arg("-webSocket")
	}
	if n.RemoteFS != "" {
		arg("-workDir")
		arg(n.RemoteFS)
		arg("-internalDir")
		arg("remoting")
	}
	arg("-url")
	arg(j.root)
	b.WriteString("</application-desc></jnlp>")
	return b.String()
}

func xmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
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
	case rest[0] == "doDisconnect" && !n.builtin:
		// SlaveComputer.doDoDisconnect: the channel closes (its builds
		// fail on it, as when an agent drops); an inbound agent then
		// reconnects by itself. Nothing to do without a channel.
		if !requirePOST(w, r) {
			return
		}
		j.mu.Lock()
		if c := n.conn; c != nil {
			n.conn = nil
			j.channelLostLocked(n, false)
			c.close()
			j.kickLocked()
		}
		j.mu.Unlock()
		http.Redirect(w, r, j.root+"computer/"+url.PathEscape(n.Name)+"/", http.StatusFound)
	case rest[0] == "configure" && len(rest) == 1:
		htmlPage(w, http.StatusOK, n.displayName()+" Config", "<h1>Configure "+html.EscapeString(n.displayName())+"</h1>")
	case rest[0] == "config.xml" && !n.builtin:
		// Computer.doConfigDotXml, GET: the node as XStream writes a
		// DumbSlave. Replacing it (POST) is not emulated.
		if r.Method != http.MethodGet {
			htmlPage(w, http.StatusMethodNotAllowed, "Error", "<p>Updating a node by its config.xml is not emulated</p>")
			return
		}
		j.mu.Lock()
		x := nodeConfigXML(n)
		j.mu.Unlock()
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, x)
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
		// @QueryParameter reads the query string and a form body alike;
		// Util.fixEmptyAndTrim drops a blank message.
		if !postForm(w, r) {
			return
		}
		msg := strings.TrimSpace(r.Form.Get("offlineMessage"))
		by := pr.name()
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
	if err := r.ParseForm(); err != nil {
		failure(w, "Malformed form submission: "+err.Error())
		return
	}
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

// nodeConfigXML is a node's config.xml, in the shape slaveXML reads.
func nodeConfigXML(n *Node) string {
	var b strings.Builder
	b.WriteString("<?xml version='1.1' encoding='UTF-8'?>\n<slave>\n")
	fmt.Fprintf(&b, "  <name>%s</name>\n  <description>%s</description>\n  <remoteFS>%s</remoteFS>\n  <numExecutors>%d</numExecutors>\n  <mode>%s</mode>\n",
		xmlEscape(n.Name), xmlEscape(n.Description), xmlEscape(n.RemoteFS), n.NumExecutors, xmlEscape(n.Mode))
	fmt.Fprintf(&b, "  <retentionStrategy class=\"%s\"/>\n", xmlEscape(n.Retention))
	fmt.Fprintf(&b, "  <launcher class=\"hudson.slaves.JNLPLauncher\">\n    <workDirSettings>\n      <disabled>false</disabled>\n      <internalDir>remoting</internalDir>\n      <failIfWorkDirIsMissing>false</failIfWorkDirIsMissing>\n    </workDirSettings>\n    <webSocket>%t</webSocket>\n  </launcher>\n", n.WebSocket)
	fmt.Fprintf(&b, "  <label>%s</label>\n  <nodeProperties/>\n</slave>", xmlEscape(n.LabelString))
	return b.String()
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
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		htmlPage(w, http.StatusBadRequest, "Error", "<p>Failed to read the request body: "+html.EscapeString(err.Error())+"</p>")
		return
	}
	var x slaveXML
	if err := xmlUnmarshal(body, &x); err != nil {
		htmlPage(w, http.StatusInternalServerError, "Error", "<p>"+html.EscapeString(err.Error())+"</p>")
		return
	}
	if name == "" {
		name = x.Name
	}
	// XStream: a missing numExecutors keeps the default (1); text that is
	// not a number fails the conversion.
	execs := 1
	if v := strings.TrimSpace(x.NumExecutors); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			htmlPage(w, http.StatusInternalServerError, "Error", "<p>com.thoughtworks.xstream.converters.ConversionException: For input string: &quot;"+html.EscapeString(v)+"&quot;</p>")
			return
		}
		if n < 1 {
			failure(w, "Invalid agent configuration for "+name+". Number of executors must be a positive number")
			return
		}
		execs = n
	}
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

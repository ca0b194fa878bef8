package jenkinsemu

import (
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Job is a freestyle project or a Pipeline job.
type Job struct {
	Name            string
	Pipeline        bool
	Description     string
	AssignedNode    string // freestyle label expression
	CanRoam         bool
	Commands        []string // freestyle shell steps
	Script          string   // Pipeline script
	ConfigXML       string
	NextBuildNumber int
	Builds          []*Build // oldest first
	Concurrent      bool
	// Disabled: the job takes no new builds (POST /job/X/disable, or
	// <disabled>true</disabled> in its config.xml).
	Disabled bool
	// QuietPeriod is the job's own quiet period (<quietPeriod> seconds),
	// when HasQuietPeriod; otherwise Jenkins' global one applies.
	QuietPeriod    time.Duration
	HasQuietPeriod bool
	// holdOff is Job.holdOffBuildUntilSave: a copied job takes no build
	// until it is saved (its config.xml posted, or disabled or enabled);
	// transient, as in Jenkins.
	holdOff bool

	label    *labelExpr
	labelKey string // label.String(), computed once
	urlPath  string // "job/NAME/"
	fullURL  string
}

// Build is a run of a job.
type Build struct {
	job       *Job
	Number    int
	QueueID   int64
	Building  bool
	Result    string // "" while building
	Timestamp int64  // emulated epoch ms
	Duration  int64
	BuiltOn   string
	Log       string // what the emulator has to say in the console (errors)
	// AbortedBy is the user who stopped the build (InterruptedBuildAction's
	// UserInterruption), "" when nobody did.
	AbortedBy string

	estimate int64 // the job's estimated duration when the build started (ms, -1 unknown)
}

// consoleText is the build's console as /consoleText serves it: the
// emulator does not capture step output, only its own messages.
func consoleText(b *Build) string {
	var s strings.Builder
	s.WriteString("Started by user admin\n")
	if b.BuiltOn != "" {
		s.WriteString("Running on " + b.BuiltOn + "\n")
	}
	if b.Log != "" {
		s.WriteString(strings.TrimSuffix(b.Log, "\n") + "\n")
	}
	if !b.Building {
		s.WriteString("Finished: " + b.Result + "\n")
	}
	return s.String()
}

// serveProgressiveText is AnnotatedLargeText.doProgressiveText (Stapler's
// LargeText.doProgressText): the console from byte offset start (0 when
// start is past the end: the text "rolled over"), up to the last whole
// line while the build runs; X-Text-Size is where the next request
// starts, and X-More-Data: true says the build is still going.
func (j *Jenkins) serveProgressiveText(w http.ResponseWriter, r *http.Request, b *Build) {
	var start int64
	// getParameter: the query string or a form body (node-jenkins POSTs it).
	if s := r.FormValue("start"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			htmlPage(w, http.StatusInternalServerError, "Error", "<p>java.lang.NumberFormatException: For input string: &quot;"+html.EscapeString(s)+"&quot;</p>")
			return
		}
		start = v
	}
	j.mu.Lock()
	text, building := consoleText(b), b.Building
	j.mu.Unlock()
	if int64(len(text)) < start || start < 0 {
		start = 0
	}
	out := text[start:]
	if building {
		if i := strings.LastIndexByte(out, '\n'); i >= 0 {
			out = out[:i+1]
		} else {
			out = ""
		}
	}
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	w.Header().Set("X-Text-Size", strconv.FormatInt(start+int64(len(out)), 10))
	if building {
		w.Header().Set("X-More-Data", "true")
	}
	_, _ = io.WriteString(w, out)
}

// step is what a build does once it has an executor: sleep, then exit.
type step struct {
	sleep time.Duration
	exit  int
}

type freestyleXML struct {
	XMLName      xml.Name
	Description  string `xml:"description"`
	AssignedNode string `xml:"assignedNode"`
	CanRoam      string `xml:"canRoam"`
	Concurrent   string `xml:"concurrentBuild"`
	Disabled     string `xml:"disabled"`
	QuietPeriod  string `xml:"quietPeriod"`
	Builders     struct {
		Shell []struct {
			Command string `xml:"command"`
		} `xml:"hudson.tasks.Shell"`
	} `xml:"builders"`
	Definition struct {
		Script string `xml:"script"`
	} `xml:"definition"`
}

// parseJobConfig reads a freestyle <project> or a Pipeline <flow-definition>.
func parseJobConfig(name, config string) (*Job, error) {
	var x freestyleXML
	if err := xmlUnmarshal([]byte(config), &x); err != nil {
		return nil, fmt.Errorf("Failed to parse config.xml: %v", err)
	}
	j := &Job{Name: name, Description: x.Description, ConfigXML: config, NextBuildNumber: 1, urlPath: "job/" + name + "/",
		Disabled: strings.TrimSpace(x.Disabled) == "true"}
	if q := strings.TrimSpace(x.QuietPeriod); q != "" {
		// AbstractProject and WorkflowJob keep an Integer: XStream refuses
		// anything else.
		secs, err := strconv.Atoi(q)
		if err != nil {
			return nil, fmt.Errorf("Failed to parse config.xml: quietPeriod %q: %v", q, err)
		}
		j.QuietPeriod, j.HasQuietPeriod = time.Duration(secs)*time.Second, true
	}
	switch x.XMLName.Local {
	case "project":
		j.AssignedNode = strings.TrimSpace(x.AssignedNode)
		j.CanRoam = strings.TrimSpace(x.CanRoam) != "false"
		if j.AssignedNode != "" && strings.TrimSpace(x.CanRoam) == "" {
			j.CanRoam = false
		}
		j.Concurrent = strings.TrimSpace(x.Concurrent) == "true"
		for _, sh := range x.Builders.Shell {
			j.Commands = append(j.Commands, sh.Command)
		}
	case "flow-definition":
		j.Pipeline = true
		j.Script = x.Definition.Script
		j.Concurrent = true
	default:
		return nil, fmt.Errorf("Unsupported job type <%s>: only freestyle <project> and Pipeline <flow-definition> are emulated", x.XMLName.Local)
	}
	if !j.CanRoam && j.AssignedNode != "" {
		e, err := parseLabelExpr(j.AssignedNode)
		if err != nil {
			return nil, fmt.Errorf("Invalid label expression %q: %v", j.AssignedNode, err)
		}
		j.label = e
		j.labelKey = e.String()
	} else {
		j.CanRoam = true
	}
	return j, nil
}

var (
	sleepRe   = regexp.MustCompile(`(?m)^\s*sleep\s+([0-9.]+)([smhd]?)\s*$`)
	exitRe    = regexp.MustCompile(`(?m)^\s*exit\s+([0-9]+)\s*$`)
	nodeRe    = regexp.MustCompile(`node\s*\(\s*(?:label\s*:\s*)?['"]([^'"]*)['"]\s*\)`)
	shRe      = regexp.MustCompile(`sh\s*\(?\s*['"]([^'"]*)['"]`)
	durations = map[string]time.Duration{"": time.Second, "s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
)

// stepsOf turns shell commands into what the emulator honours: `sleep N`
// lines (emulated time) and `exit N`; other commands are accepted and
// ignored.
func stepsOf(commands []string) step {
	var s step
	for _, c := range commands {
		for _, m := range sleepRe.FindAllStringSubmatch(c, -1) {
			f, _ := strconv.ParseFloat(m[1], 64)
			s.sleep += time.Duration(f * float64(durations[m[2]]))
		}
		if m := exitRe.FindStringSubmatch(c); m != nil && s.exit == 0 {
			s.exit, _ = strconv.Atoi(m[1])
		}
	}
	return s
}

// pipelineNode returns the label of the script's node('...') block and the
// shell commands inside it.
func pipelineNode(script string) (label string, hasNode bool, commands []string) {
	if m := nodeRe.FindStringSubmatch(script); m != nil {
		label, hasNode = m[1], true
	}
	for _, m := range shRe.FindAllStringSubmatch(script, -1) {
		commands = append(commands, m[1])
	}
	return label, hasNode, commands
}

func (b *Build) url(root string) string {
	return root + "job/" + b.job.Name + "/" + strconv.Itoa(b.Number) + "/"
}

// url is the job's absolute URL (computed once: the root never changes).
func (j *Job) url(root string) string {
	if j.fullURL == "" {
		j.fullURL = root + j.urlPath
	}
	return j.fullURL
}

func (j *Job) lastBuild() *Build {
	if len(j.Builds) == 0 {
		return nil
	}
	return j.Builds[len(j.Builds)-1]
}

// runningBuild is the newest build still in progress, nil for none.
func (j *Job) runningBuild() *Build {
	for i := len(j.Builds) - 1; i >= 0; i-- {
		if j.Builds[i].Building {
			return j.Builds[i]
		}
	}
	return nil
}

// estimatedDuration is Job.getEstimatedDuration: the mean duration of the
// last successful build and up to two more recent SUCCESS/UNSTABLE builds
// (FAILURE ones fill in), among the last six; -1 when there are none.
func (j *Job) estimatedDuration() int64 {
	var cands, fallback []*Build
	var lastOK *Build
	for i := len(j.Builds) - 1; i >= 0; i-- {
		if b := j.Builds[i]; !b.Building && b.Result == "SUCCESS" {
			lastOK = b
			break
		}
	}
	if lastOK != nil {
		cands = append(cands, lastOK)
	}
	for i, k := len(j.Builds)-1, 0; i >= 0 && len(cands) < 3 && k < 6; i, k = i-1, k+1 {
		b := j.Builds[i]
		if b.Building || b.Result == "" || b == lastOK {
			continue
		}
		switch b.Result {
		case "SUCCESS", "UNSTABLE":
			cands = append(cands, b)
		case "FAILURE":
			fallback = append(fallback, b)
		}
	}
	for len(cands) < 3 && len(fallback) > 0 {
		cands, fallback = append(cands, fallback[0]), fallback[1:]
	}
	var total int64
	for _, b := range cands {
		total += b.Duration
	}
	if len(cands) == 0 || total == 0 {
		return -1
	}
	return int64(math.Round(float64(total) / float64(len(cands))))
}

// remainingLocked is Executor.getEstimatedRemainingTime for a running
// build: "N/A" without an estimate or past it.
func (jk *Jenkins) remainingLocked(b *Build) string {
	est := b.estimate
	if est < 0 {
		return "N/A"
	}
	eta := est - (jk.nowMillis() - b.Timestamp)
	if eta <= 0 {
		return "N/A"
	}
	return timeSpan(eta)
}

func (j *Job) building() bool {
	for _, b := range j.Builds {
		if b.Building {
			return true
		}
	}
	return false
}

// color is the ball color: notbuilt, blue, red, aborted; _anime while building.
func (j *Job) color() string {
	var last *Build
	for i := len(j.Builds) - 1; i >= 0; i-- {
		if !j.Builds[i].Building {
			last = j.Builds[i]
			break
		}
	}
	c := "notbuilt"
	if last != nil {
		switch last.Result {
		case "SUCCESS":
			c = "blue"
		case "FAILURE":
			c = "red"
		case "UNSTABLE":
			c = "yellow"
		case "ABORTED":
			c = "aborted"
		}
	}
	if j.Disabled {
		c = "disabled" // AbstractProject.getIconColor: disabled wins over the last result
	}
	if j.building() {
		c += "_anime"
	}
	return c
}

// setDisabledLocked is ParameterizedJob.makeDisabled: the flag, written
// into config.xml as Jenkins saves it; disabling also cancels the job's
// queued builds (Queue.cancel(task): a Pipeline's node blocks are other
// tasks and stay).
func (j *Jenkins) setDisabledLocked(job *Job, disabled bool) {
	job.Disabled = disabled
	job.holdOff = false // makeDisabled saves
	job.ConfigXML = withDisabled(job.ConfigXML, disabled)
	if disabled {
		j.cancelTaskLocked(job, false)
	}
	j.saveLocked()
	j.kickLocked()
}

// renameJobLocked is AbstractItem.doCheckNewName then renameTo; it returns
// the refusal, "" when the job was renamed (builds, history and queued
// builds follow it).
func (j *Jenkins) renameJobLocked(job *Job, newName string) string {
	switch {
	case newName == "":
		return "No name is specified"
	case checkJobName(newName) != "":
		return checkJobName(newName)
	case newName == job.Name:
		return "The new name is the same as the current name."
	case j.jobs[newName] != nil:
		return "The name “" + newName + "” is already in use."
	case job.building():
		return "Unable to rename a job while it is building."
	}
	delete(j.jobs, job.Name)
	job.Name, job.urlPath, job.fullURL = newName, "job/"+newName+"/", ""
	j.jobs[newName] = job
	j.saveLocked()
	return ""
}

// cancelTaskLocked is Queue.cancel(task): the job's queued builds leave
// the queue, cancelled, and with placeholders its Pipeline node blocks
// too (a deletion's child items).
func (j *Jenkins) cancelTaskLocked(job *Job, placeholders bool) {
	for _, it := range append([]*QueueItem(nil), j.queue...) {
		if it.job == job && it.state != leftQueue && (placeholders || !it.placeholder) {
			it.cancelled = true
			j.leaveLocked(it)
		}
	}
}

var disabledRe = regexp.MustCompile(`<disabled>\s*(true|false)?\s*</disabled>|<disabled\s*/>`)

// withDisabled sets the <disabled> element of a job's config.xml, adding
// it after the root element's start tag when it is missing.
func withDisabled(config string, disabled bool) string {
	el := "<disabled>" + strconv.FormatBool(disabled) + "</disabled>"
	if disabledRe.MatchString(config) {
		done := false
		return disabledRe.ReplaceAllStringFunc(config, func(m string) string {
			if done {
				return m
			}
			done = true
			return el
		})
	}
	root := rootStartRe.FindStringIndex(config)
	if root == nil {
		return config
	}
	return config[:root[1]] + el + config[root[1]:]
}

// rootStartRe finds the root element's start tag (after the prolog and
// any comments).
var rootStartRe = regexp.MustCompile(`<(project|flow-definition)(\s[^>]*)?>`)

// startBuildLocked creates build #N of a job for a queue item.
func (jk *Jenkins) startBuildLocked(job *Job, item *QueueItem, builtOn string) *Build {
	b := &Build{job: job, Number: job.NextBuildNumber, QueueID: item.ID, Building: true, Timestamp: jk.nowMillis(), BuiltOn: builtOn,
		estimate: job.estimatedDuration()}
	job.NextBuildNumber++
	job.Builds = append(job.Builds, b)
	jk.saveLocked() // Job.assignBuildNumber saves nextBuildNumber; the build's directory exists from now on
	jk.log.WithField("build", job.Name+" #"+strconv.Itoa(b.Number)).Info("build started")
	return b
}

// finishBuildLocked records a result and frees what the build held.
func (jk *Jenkins) finishBuildLocked(b *Build, result string) {
	if !b.Building || jk.closed {
		return
	}
	b.Building = false
	b.Result = result
	b.Duration = jk.nowMillis() - b.Timestamp
	jk.log.WithField("build", b.job.Name+" #"+strconv.Itoa(b.Number)).Infof("build finished: %s", result)
	jk.saveLocked()
	jk.kickLocked()
}

// abortLocked is Executor.interrupt(ABORTED) on behalf of a user, as
// Run.doStop and a job's deletion (ItemDeletion.cancelBuildsInProgress)
// do: the build ends ABORTED with the user's cause recorded and printed,
// and its executor is free. A freestyle build's console also says "Build
// was aborted" (Run.execute catching the interruption). A Pipeline run
// whose node block still waits in the queue is cancelled there.
func (j *Jenkins) abortLocked(b *Build, user string) {
	if !b.Building {
		return
	}
	if !b.job.Pipeline {
		b.Log += "Build was aborted\n"
	}
	b.Log += "Aborted by " + user + "\n"
	b.AbortedBy = user
	for _, n := range append([]*Node{j.builtin}, j.sortedNodes()...) {
		for _, s := range n.slots {
			if s == nil || s.build != b {
				continue
			}
			if s.taskID != "" && n.conn != nil {
				n.conn.send(agentMessage{Type: "abort", ID: s.taskID})
			}
			j.completeLocked(n, s, "ABORTED")
			return
		}
	}
	for _, it := range j.queue {
		if it.placeholder && it.run == b && it.state != leftQueue {
			it.cancelled = true
			j.leaveLocked(it)
			break
		}
	}
	j.finishBuildLocked(b, "ABORTED")
}

// xmlUnmarshal reads Jenkins' XML, which declares version 1.1 (Go's
// decoder knows only 1.0; the documents use nothing 1.1 adds).
func xmlUnmarshal(b []byte, v any) error {
	s := string(b)
	if strings.HasPrefix(strings.TrimSpace(s), "<?xml") {
		if end := strings.Index(s, "?>"); end >= 0 {
			prolog := strings.NewReplacer(`version='1.1'`, `version='1.0'`, `version="1.1"`, `version="1.0"`).Replace(s[:end])
			s = prolog + s[end:]
		}
	}
	return xml.Unmarshal([]byte(s), v)
}

func (j *Jenkins) serveCreateJob(w http.ResponseWriter, r *http.Request) {
	if !requirePOST(w, r) {
		return
	}
	// ItemGroupMixIn.createTopLevelItem: config.xml as the body (an XML
	// Content-Type), or a copy (mode=copy&from=JOB), or an empty job of a
	// type (mode=<descriptor>); parameters from the query or a form.
	ct := r.Header.Get("Content-Type")
	mode := r.URL.Query().Get("mode")
	xmlBody := strings.HasPrefix(ct, "application/xml") || strings.HasPrefix(ct, "text/xml")
	var body []byte
	if xmlBody {
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.Body, 10<<20)); err != nil {
			htmlPage(w, http.StatusBadRequest, "Error", "<p>Failed to read the request body: "+html.EscapeString(err.Error())+"</p>")
			return
		}
	} else if err := r.ParseForm(); err == nil {
		mode = r.Form.Get("mode")
	}
	if ct == "" && mode != "copy" {
		failure(w, "No Content-Type header set")
		return
	}
	name := r.URL.Query().Get("name")
	if !xmlBody {
		name = r.Form.Get("name")
	}
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
	name = strings.TrimSpace(name)
	if _, ok := j.jobs[name]; ok {
		failure(w, "A job already exists with the name ‘"+name+"’")
		return
	}
	var config string
	switch {
	case mode == "copy":
		from := r.Form.Get("from")
		if from == "" {
			from = r.URL.Query().Get("from")
		}
		src := j.jobs[from]
		if src == nil {
			if strings.TrimSpace(from) == "" {
				failure(w, "Specify which job to copy")
			} else {
				failure(w, "No such job: "+from)
			}
			return
		}
		config = src.ConfigXML
	case xmlBody:
		config = string(body)
	case mode == "":
		failure(w, "No mode given")
		return
	case mode == "hudson.model.FreeStyleProject":
		config = "<?xml version='1.1' encoding='UTF-8'?>\n<project><keepDependencies>false</keepDependencies><canRoam>true</canRoam><disabled>false</disabled><builders/></project>"
	case mode == "org.jenkinsci.plugins.workflow.job.WorkflowJob":
		config = "<?xml version='1.1' encoding='UTF-8'?>\n<flow-definition plugin=\"workflow-job\"><keepDependencies>false</keepDependencies><disabled>false</disabled></flow-definition>"
	default:
		failure(w, "No item type ‘"+mode+"’ is known")
		return
	}
	job, err := parseJobConfig(name, config)
	if err != nil {
		htmlPage(w, http.StatusInternalServerError, "Error", "<p>"+html.EscapeString(err.Error())+"</p>")
		return
	}
	// Job.onCopiedFrom: a copy is not buildable until it is saved once
	// (holdOffBuildUntilSave, JENKINS-2494); its build numbers start at 1.
	job.holdOff = mode == "copy"
	j.jobs[name] = job
	j.saveLocked()
	if xmlBody && mode != "copy" {
		w.WriteHeader(http.StatusOK)
		return
	}
	http.Redirect(w, r, job.url(j.root)+"configure", http.StatusFound) // redirectAfterCreateItem
}

// serveConfigXML is AbstractItem.doConfigDotXml: GET reads the job's
// config.xml, POST replaces it (updateByXml: the job keeps its builds and
// next build number, and its queued builds now ask for the new label),
// any other method is a bare 400.
func (j *Jenkins) serveConfigXML(w http.ResponseWriter, r *http.Request, job *Job) {
	switch r.Method {
	case http.MethodGet:
		j.mu.Lock()
		config := job.ConfigXML
		j.mu.Unlock()
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, config)
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil {
			htmlPage(w, http.StatusBadRequest, "Error", "<p>Failed to read the request body: "+html.EscapeString(err.Error())+"</p>")
			return
		}
		next, err := parseJobConfig(job.Name, string(body))
		if err == nil && next.Pipeline != job.Pipeline {
			err = fmt.Errorf("Expecting class %s but got class %s instead", jobClass(job), jobClass(next))
		}
		if err != nil {
			htmlPage(w, http.StatusInternalServerError, "Error", "<p>"+html.EscapeString(err.Error())+"</p>")
			return
		}
		j.mu.Lock()
		job.Description, job.AssignedNode, job.CanRoam, job.Commands = next.Description, next.AssignedNode, next.CanRoam, next.Commands
		job.Script, job.Concurrent, job.ConfigXML = next.Script, next.Concurrent, next.ConfigXML
		job.label, job.labelKey = next.label, next.labelKey
		job.QuietPeriod, job.HasQuietPeriod = next.QuietPeriod, next.HasQuietPeriod
		job.holdOff = false // updateByXml saves
		if next.Disabled != job.Disabled {
			j.setDisabledLocked(job, next.Disabled)
		}
		for _, it := range j.queue {
			// Queue.Item.getAssignedLabel asks the task each time.
			if it.job == job && !it.placeholder && it.state != leftQueue && !job.Pipeline {
				it.label, it.labelKey = job.label, job.labelKey
			}
		}
		j.saveLocked()
		j.kickLocked()
		j.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
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

func (j *Jenkins) serveJob(w http.ResponseWriter, r *http.Request, pr principal, name string, rest []string) {
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
		j.mu.Lock()
		disabled := job.Disabled || job.holdOff // !isBuildable
		quiet := j.cfg.QuietPeriod
		if job.HasQuietPeriod {
			quiet = job.QuietPeriod
		}
		j.mu.Unlock()
		// ParameterizedJobMixIn.doBuild / doBuildWithParameters.
		if disabled {
			htmlPage(w, http.StatusConflict, "Error", "<p>"+html.EscapeString(name)+" is not buildable</p>")
			return
		}
		if rest[0] == "buildWithParameters" {
			// The emulator's jobs define no parameters.
			htmlPage(w, http.StatusBadRequest, "Error", "<p>"+html.EscapeString(name)+" is not parameterized</p>")
			return
		}
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
		j.serveConfigXML(w, r, job)
	case rest[0] == "configure" && len(rest) == 1:
		// The configuration form (redirectAfterCreateItem sends clients here).
		htmlPage(w, http.StatusOK, name+" Config", "<h1>Configure "+html.EscapeString(name)+"</h1>")
	case rest[0] == "doRename" || rest[0] == "confirmRename":
		// Job.doDoRename (deprecated) → AbstractItem.doConfirmRename.
		if !postForm(w, r) {
			return
		}
		j.mu.Lock()
		msg := j.renameJobLocked(job, strings.TrimSpace(r.Form.Get("newName")))
		// redirectTo("../" + newName), which Jetty's sendRedirect
		// canonicalizes: the new job's URL without its slash.
		loc := j.root + "job/" + url.PathEscape(job.Name)
		j.mu.Unlock()
		if msg != "" {
			failure(w, msg)
			return
		}
		http.Redirect(w, r, loc, http.StatusFound) // redirectTo("../" + newName)
	case rest[0] == "disable" || rest[0] == "enable":
		// ParameterizedJob.doDisable / doEnable: HttpRedirect(".").
		if !requirePOST(w, r) {
			return
		}
		j.mu.Lock()
		if want := rest[0] == "disable"; job.Disabled != want {
			j.setDisabledLocked(job, want)
		}
		loc := job.url(j.root)
		j.mu.Unlock()
		http.Redirect(w, r, loc, http.StatusFound)
	case rest[0] == "doDelete":
		if !requirePOST(w, r) {
			return
		}
		// AbstractItem.delete: the job's queued builds (and its Pipeline
		// node blocks) are cancelled and its running builds aborted
		// before it goes.
		j.mu.Lock()
		j.cancelTaskLocked(job, true)
		for _, b := range job.Builds {
			j.abortLocked(b, pr.name())
		}
		delete(j.jobs, name)
		j.saveLocked()
		j.kickLocked()
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
		if len(rest) > 2 && rest[1] == "logText" && rest[2] == "progressiveText" {
			j.serveProgressiveText(w, r, b)
			return
		}
		if len(rest) > 1 && rest[1] == "stop" {
			// Run.doStop → Executor.doStopBuild: interrupt, then
			// forwardToPreviousPage (the Referer, else the build's page);
			// a build that is not running is left alone, same answer.
			if !requirePOST(w, r) {
				return
			}
			j.mu.Lock()
			j.abortLocked(b, pr.name())
			loc := b.url(j.root)
			j.mu.Unlock()
			if ref := r.Header.Get("Referer"); ref != "" {
				loc = ref
			}
			http.Redirect(w, r, loc, http.StatusFound)
			return
		}
		if len(rest) > 1 {
			notFound(w) // no such action on a build (e.g. a freestyle build's term)
			return
		}
		htmlPage(w, http.StatusOK, name+" #"+rest[0], "<h1>Build #"+rest[0]+"</h1>")
	}
}

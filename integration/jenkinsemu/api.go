package jenkinsemu

import (
	"html"
	"sort"
	"strconv"
)

// The exported model, one builder per Java class, with Jenkins' property
// names and visibilities. Visibility 999 is Queue.Item's default and
// AbstractItem's name/url; 2 is Job.color and Run.number/url.

func nested(b *bean) *bean { b.showClass = false; return b }

// jobRefs lists every job, by name, as the root and the all view export them.
func (j *Jenkins) jobRefs() []any {
	jobs := []any{}
	for _, name := range j.sortedJobNames() {
		jobs = append(jobs, j.jobRef(j.jobs[name]))
	}
	return jobs
}

// allViewBean is /view/all/api/json.
func (j *Jenkins) allViewBean() *bean {
	return newBean("hudson.model.AllView", p("description", nil), p("jobs", j.jobRefs()), pv("name", 2, "all"),
		p("property", []any{}), pv("url", 2, j.root))
}

func (j *Jenkins) rootBean() *bean {
	jobs := j.jobRefs()
	allView := newBean("hudson.model.AllView", pv("name", 2, "all"), pv("url", 2, j.root))
	return newBean("hudson.model.Hudson",
		p("assignedLabels", []any{nested(newBean("hudson.model.labels.LabelAtom", pv("name", 2, "built-in")))}),
		p("description", nil),
		p("jobs", jobs),
		p("mode", "NORMAL"),
		p("nodeDescription", "the Jenkins controller's built-in node"),
		p("nodeName", ""),
		p("numExecutors", j.builtin.NumExecutors),
		p("overallLoad", nested(newBean("hudson.model.OverallLoadStatistics"))),
		p("primaryView", allView),
		p("quietDownReason", j.quietDownReason()),
		p("quietingDown", j.quietDown != nil),
		p("slaveAgentPort", 50000),
		p("unlabeledLoad", newBean("jenkins.model.UnlabeledLoadStatistics")),
		p("url", j.root),
		p("useCrumbs", true),
		p("useSecurity", j.securityOn()),
		p("views", []any{allView}),
	)
}

// quietDownReason is Jenkins.getQuietDownReason: the message, null when
// not quieting down or when none was given.
func (j *Jenkins) quietDownReason() any {
	if j.quietDown == nil || *j.quietDown == "" {
		return nil
	}
	return *j.quietDown
}

// jobRef is a job as a list entry (Hudson.jobs, Label.tiedJobs): the
// whole job, as Stapler exports it, so tree= can ask for any of its
// properties (jobs[name,lastBuild[number,result]]); at depth 0 only name
// and url (visibility 999) and color (2) show. Built only when written.
func (j *Jenkins) jobRef(job *Job) any {
	return thunk(func() any { return j.jobBean(job) })
}

func jobClass(job *Job) string {
	if job.Pipeline {
		return "org.jenkinsci.plugins.workflow.job.WorkflowJob"
	}
	return "hudson.model.FreeStyleProject"
}

func buildClass(b *Build) string {
	if b.job.Pipeline {
		return "org.jenkinsci.plugins.workflow.job.WorkflowRun"
	}
	return "hudson.model.FreeStyleBuild"
}

// buildRef is a build where another object refers to it (a job's
// lastBuild, a left item's executable, an executor's currentExecutable):
// the whole Run, so tree= can ask for any of its properties; at depth 0
// only number and url (visibility 2) show, as in Jenkins.
func (j *Jenkins) buildRef(b *Build) any {
	if b == nil {
		return nil
	}
	return thunk(func() any { return j.buildBean(b) })
}

func (j *Jenkins) jobBean(job *Job) *bean {
	var builds []any
	var first, last, lastCompleted, lastFailed, lastSuccess *Build
	for i := len(job.Builds) - 1; i >= 0; i-- {
		b := job.Builds[i]
		builds = append(builds, j.buildRef(b))
		if last == nil {
			last = b
		}
		if !b.Building {
			if lastCompleted == nil {
				lastCompleted = b
			}
			if lastFailed == nil && b.Result == "FAILURE" {
				lastFailed = b
			}
			if lastSuccess == nil && b.Result == "SUCCESS" {
				lastSuccess = b
			}
		}
	}
	if len(job.Builds) > 0 {
		first = job.Builds[0]
	}
	if builds == nil {
		builds = []any{}
	}
	queued := func() *QueueItem {
		var q *QueueItem
		for _, it := range j.queue {
			if it.job == job && !it.placeholder {
				q = it
			}
		}
		return q
	}
	queueItem := thunk(func() any {
		if q := queued(); q != nil {
			return j.itemBean(q, whyCache{}, map[string]bool{})
		}
		return nil
	})
	props := []prop{
		p("actions", []any{}),
		p("description", job.Description),
		p("displayName", job.Name),
		p("displayNameOrNull", nil),
		p("fullDisplayName", job.Name),
		p("fullName", job.Name),
		pv("name", 999, job.Name),
		pv("url", 999, job.url(j.root)),
		p("buildable", !job.Disabled && !job.holdOff),
		p("builds", builds),
		pv("color", 2, job.color()),
		p("firstBuild", j.buildRef(first)),
		p("healthReport", []any{}),
		p("inQueue", thunk(func() any { return queued() != nil })),
		p("keepDependencies", false),
		p("lastBuild", j.buildRef(last)),
		p("lastCompletedBuild", j.buildRef(lastCompleted)),
		p("lastFailedBuild", j.buildRef(lastFailed)),
		p("lastStableBuild", j.buildRef(lastSuccess)),
		p("lastSuccessfulBuild", j.buildRef(lastSuccess)),
		p("lastUnstableBuild", nil),
		p("lastUnsuccessfulBuild", j.buildRef(lastFailed)),
		p("nextBuildNumber", job.NextBuildNumber),
		p("property", []any{}),
		p("queueItem", queueItem),
		p("concurrentBuild", job.Concurrent),
		p("disabled", job.Disabled),
		p("resumeBlocked", false),
	}
	if !job.Pipeline {
		var label any
		if !job.CanRoam {
			label = job.AssignedNode
		}
		props = append(props, p("labelExpression", label), p("downstreamProjects", []any{}), p("upstreamProjects", []any{}),
			p("scm", newBean("hudson.scm.NullSCM")))
	}
	return newBean(jobClass(job), props...)
}

func (j *Jenkins) buildBean(b *Build) *bean {
	var result any
	if !b.Building {
		result = b.Result
	}
	actions := []any{}
	if b.AbortedBy != "" {
		actions = append(actions, newBean("jenkins.model.InterruptedBuildAction",
			p("causes", []any{newBean("jenkins.model.CauseOfInterruption$UserInterruption", p("shortDescription", "Aborted by "+b.AbortedBy))})))
	}
	props := []prop{
		p("actions", actions),
		p("artifacts", []any{}),
		p("building", b.Building),
		p("description", nil),
		p("displayName", "#"+strconv.Itoa(b.Number)),
		p("duration", b.Duration),
		p("estimatedDuration", b.job.estimatedDuration()),
		p("executor", nil),
		p("fullDisplayName", b.job.Name+" #"+strconv.Itoa(b.Number)),
		p("id", strconv.Itoa(b.Number)),
		p("inProgress", b.Building),
		p("keepLog", false),
		pv("number", 2, b.Number),
		p("queueId", b.QueueID),
		p("result", result),
		p("timestamp", b.Timestamp),
		pv("url", 2, b.url(j.root)),
		p("changeSets", []any{}),
		p("culprits", []any{}),
	}
	if !b.job.Pipeline {
		props = append(props, p("builtOn", b.BuiltOn), p("changeSet", newBean("hudson.scm.EmptyChangeLogSet", p("items", []any{}), p("kind", nil))))
	}
	return newBean(buildClass(b), props...)
}

func (j *Jenkins) queueBean() *bean {
	cache, stuck := whyCache{}, map[string]bool{}
	lazy := make([]lazyItem, len(j.queue))
	for i, it := range j.queue {
		why, has := j.whyLocked(it, cache)
		lazy[i] = lazyItem{j: j, it: it, why: why, hasWhy: has, stuck: j.stuckLocked(it, stuck)}
	}
	// Waiting list, blocked, buildables (newest first), as Queue.getItems.
	items := make([]any, 0, len(j.queue))
	for _, state := range []itemState{waiting, blocked} {
		for i := range lazy {
			if lazy[i].it.state == state {
				items = append(items, &lazy[i])
			}
		}
	}
	var buildables []*lazyItem
	for i := range lazy {
		if lazy[i].it.state == buildable {
			buildables = append(buildables, &lazy[i])
		}
	}
	sort.SliceStable(buildables, func(a, b int) bool { return buildables[a].it.buildableSeq > buildables[b].it.buildableSeq })
	for _, l := range buildables {
		items = append(items, l)
	}
	return newBean("hudson.model.Queue", pInline("discoverableItems", []any{}), pInline("items", items))
}

var itemClasses = map[itemState]string{waiting: "hudson.model.Queue$WaitingItem", blocked: "hudson.model.Queue$BlockedItem", buildable: "hudson.model.Queue$BuildableItem", leftQueue: "hudson.model.Queue$LeftItem"}

// userCauseActions is the (immutable) CauseAction of a build started by
// the admin, shared by every item that carries it.
var userCauseActions = []any{newBean("hudson.model.CauseAction", pv("causes", 2, []any{
	newBean("hudson.model.Cause$UserIdCause", pv("shortDescription", 3, "Started by user admin"), pv("userId", 3, "admin"), pv("userName", 3, "admin")),
}))}

// itemBean is one queue item (GET /queue/item/N/api/json, a job's
// queueItem): the same lazily written object the queue lists.
func (j *Jenkins) itemBean(it *QueueItem, cache whyCache, stuck map[string]bool) lazyBean {
	why, has := j.whyLocked(it, cache)
	return &lazyItem{j: j, it: it, why: why, hasWhy: has, stuck: j.stuckLocked(it, stuck)}
}

func (j *Jenkins) placeholderTask(it *QueueItem) *bean {
	// PlaceholderTask: default visibility 1, so nothing but _class at depth 0.
	name := "part of " + it.job.Name + " #" + strconv.Itoa(it.run.Number)
	return newBean("org.jenkinsci.plugins.workflow.support.steps.ExecutorStepExecution$PlaceholderTask",
		p("name", name), p("fullDisplayName", name),
		p("url", "job/"+it.job.Name+"/"+strconv.Itoa(it.run.Number)+"/"))
}

func (j *Jenkins) executableOf(it *QueueItem) any {
	if it.executable == nil {
		return nil
	}
	if it.placeholder {
		return newBean("org.jenkinsci.plugins.workflow.support.steps.ExecutorStepExecution$PlaceholderTask$PlaceholderExecutable",
			p("number", it.executable.Number), p("url", it.executable.url(j.root)))
	}
	return j.buildRef(it.executable)
}

func (j *Jenkins) computerSetBean() *bean {
	busy, total := 0, 0
	var computers []any
	for _, n := range append([]*Node{j.builtin}, j.sortedNodes()...) {
		if !n.offline() {
			total += n.NumExecutors
			busy += n.NumExecutors - n.idleCount()
		}
		computers = append(computers, j.computerBean(n))
	}
	return newBean("hudson.model.ComputerSet", p("busyExecutors", busy), pInline("computer", computers), p("displayName", "Nodes"), p("totalExecutors", total))
}

func (j *Jenkins) computerBean(n *Node) *bean {
	// Node.getAssignedLabels: a TreeSet of the label string's atoms plus
	// the self-label, so each atom once, sorted by name.
	set := map[string]bool{}
	names := []string{}
	add := func(l string) {
		if !set[l] {
			set[l] = true
			names = append(names, l)
		}
	}
	for _, l := range n.labels {
		add(l)
	}
	if !n.builtin {
		add(n.Name)
	}
	sort.Strings(names)
	labels := []any{}
	for _, l := range names {
		labels = append(labels, nested(newBean("hudson.model.labels.LabelAtom", pv("name", 2, l))))
	}
	executors := []any{}
	for _, s := range n.slots {
		var cur any
		if s != nil {
			cur = j.buildRef(s.build)
		}
		executors = append(executors, nested(newBean("hudson.model.Executor", p("currentExecutable", cur), p("idle", s == nil), p("likelyStuck", false), p("number", len(executors)), p("progress", -1))))
	}
	// IComputer.getIcon: the offline cause's icon when there is one.
	icon := "symbol-computer"
	var cause any
	reason := ""
	switch {
	case n.TempOffline:
		icon = "symbol-computer-disconnected"
		// OfflineCause.UserCause: SlaveComputer.DisconnectedBy, "Disconnected by {0}{1}".
		desc := "Disconnected by " + n.offlineBy
		if n.OfflineCause != "" {
			desc += " : " + n.OfflineCause
		}
		cause = newBean("hudson.slaves.OfflineCause$UserCause", p("description", desc), p("timestamp", n.offlineSince))
		reason = html.EscapeString(n.OfflineCause)
	case n.offline():
		icon = "symbol-computer-offline"
	}
	class := "hudson.slaves.SlaveComputer"
	if n.builtin {
		class = "hudson.model.Hudson$MasterComputer"
	}
	idle := n.idleCount() == len(n.slots)
	props := []prop{
		p("actions", []any{}),
		p("assignedLabels", labels),
		p("description", n.Description),
		p("displayName", n.displayName()),
		p("executors", executors),
		p("icon", icon),
		p("iconClassName", icon),
		p("idle", idle),
		p("jnlpAgent", !n.builtin),
		p("launchSupported", n.builtin),
		p("loadStatistics", newBean("hudson.model.Label$1")),
		p("manualLaunchAllowed", true),
		p("monitorData", &rawMap{}),
		p("numExecutors", n.NumExecutors),
		p("offline", n.offline()),
		p("offlineCause", cause),
		p("offlineCauseReason", reason),
		p("oneOffExecutors", []any{}),
		p("temporarilyOffline", n.TempOffline),
	}
	if !n.builtin {
		var remote any
		if n.conn != nil {
			remote = n.RemoteFS
		}
		props = append(props, p("absoluteRemotePath", remote))
	}
	return newBean(class, props...)
}

func (j *Jenkins) labelBean(expr string, l *labelExpr) *bean {
	class := "hudson.model.labels.LabelAtom"
	if l != nil && !l.isAtom() {
		class = "hudson.model.labels.LabelExpression$" + map[labelOp]string{opAnd: "And", opOr: "Or", opNot: "Not", opImplies: "Implies", opIff: "Iff", opParen: "Paren"}[l.op]
	}
	busy, idle, total := 0, 0, 0
	nodes := []any{}
	offline := true
	var matching []*Node
	if l != nil {
		matching = j.labelNodesLocked(l)
	}
	for _, n := range matching {
		nc := "hudson.slaves.DumbSlave"
		if n.builtin {
			nc = "hudson.model.Hudson"
		}
		nodes = append(nodes, newBean(nc, pv("nodeName", 2, n.Name), p("nodeDescription", n.Description), p("numExecutors", n.NumExecutors), p("mode", n.Mode)))
		if !n.offline() {
			offline = false
			total += n.NumExecutors
			busy += n.NumExecutors - n.idleCount()
			idle += n.idleCount()
		}
	}
	var tied []any
	for _, name := range j.sortedJobNames() {
		job := j.jobs[name]
		if job.label != nil && job.label.String() == l.String() {
			tied = append(tied, j.jobRef(job))
		}
	}
	if tied == nil {
		tied = []any{}
	}
	var desc any
	if l != nil && !l.isAtom() && len(matching) == 0 {
		desc = "invalid label"
	}
	name := expr
	if l != nil {
		name = l.String()
	}
	props := []prop{
		p("actions", []any{}),
		p("busyExecutors", busy),
		p("clouds", []any{}),
		p("description", desc),
		p("idleExecutors", idle),
		p("loadStatistics", newBean("hudson.model.Label$1")),
		pv("name", 2, name),
		p("nodes", nodes),
		p("offline", offline),
		p("tiedJobs", tied),
		p("totalExecutors", total),
	}
	if class == "hudson.model.labels.LabelAtom" {
		props = append(props, p("propertiesList", []any{}))
	}
	return newBean(class, props...)
}

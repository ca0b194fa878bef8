package jenkinsemu

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

type itemState int

const (
	waiting itemState = iota
	blocked
	buildable
	leftQueue
)

// leftItemTTL is how long left items stay reachable (Queue.leftItems).
const leftItemTTL = 5 * time.Minute

// QueueItem is an item in (or recently out of) the queue.
type QueueItem struct {
	ID          int64
	job         *Job
	placeholder bool // a Pipeline node('...') block
	// shutdownBlocked: a Pipeline run that left its quiet period while
	// Jenkins quieted down (blocked "Jenkins is about to shut down").
	shutdownBlocked bool
	run             *Build // the Pipeline run a placeholder belongs to
	label           *labelExpr
	labelKey        string // label.String(), for per-request caches
	state           itemState
	inQueueSince    int64
	quietUntil      int64
	buildableSince  int64
	buildableSeq    int64 // position in Queue.buildables: earlier joins go first
	cancelled       bool
	executable      *Build
	leftAt          int64
}

// enqueueLocked schedules a job (Queue.schedule2): an item already waiting
// for the same job is reused, as Jenkins merges duplicate requests.
func (j *Jenkins) enqueueLocked(job *Job, quiet time.Duration) *QueueItem {
	for _, it := range j.queue {
		if it.job == job && !it.placeholder && it.state != leftQueue {
			return it
		}
	}
	j.nextQueueID++
	now := j.nowMillis()
	it := &QueueItem{ID: j.nextQueueID, job: job, state: waiting, inQueueSince: now, quietUntil: now + quiet.Milliseconds()}
	if !job.Pipeline {
		it.label, it.labelKey = job.label, job.labelKey
	}
	j.queue = append(j.queue, it)
	j.saveLocked()
	j.kickLocked()
	return it
}

func (j *Jenkins) enqueuePlaceholderLocked(run *Build, label *labelExpr) *QueueItem {
	j.nextQueueID++
	now := j.nowMillis()
	j.buildableSeq++
	it := &QueueItem{ID: j.nextQueueID, job: run.job, placeholder: true, run: run, label: label, labelKey: label.String(), state: buildable,
		inQueueSince: now, quietUntil: now, buildableSince: now, buildableSeq: j.buildableSeq}
	j.queue = append(j.queue, it)
	j.saveLocked()
	j.kickLocked()
	return it
}

// maintainLocked is Queue.maintain: left items expire; blocked items
// whose blockage ended join the buildables, then waiting items whose quiet
// period ended (or become blocked); buildables get idle executors in the
// order they joined, so an item that became buildable earlier starts
// before an older one unblocked later.
func (j *Jenkins) maintainLocked() {
	if j.restarting {
		return
	}
	now := j.nowMillis()
	for id, it := range j.left {
		if now-it.leftAt > leftItemTTL.Milliseconds() {
			delete(j.left, id)
		}
	}
	changed := false
	makeBuildable := func(it *QueueItem) {
		it.state = buildable
		it.buildableSince = now
		j.buildableSeq++
		it.buildableSeq = j.buildableSeq
		changed = true
	}
	for _, it := range j.queue {
		if it.state == blocked && !j.blockedLocked(it) && !(it.shutdownBlocked && j.quietDown != nil) {
			it.shutdownBlocked = false
			makeBuildable(it)
		}
	}
	var ready []*QueueItem
	for _, it := range j.queue {
		if it.state == waiting && now >= it.quietUntil {
			ready = append(ready, it)
		}
	}
	sort.SliceStable(ready, func(a, b int) bool { return ready[a].quietUntil < ready[b].quietUntil })
	for _, it := range ready {
		if j.quietDown != nil && it.job.Pipeline && !it.placeholder {
			// makeBuildable gives a flyweight task nothing while quieting
			// down: it is blocked "Jenkins is about to shut down".
			it.state = blocked
			it.buildableSince = now
			it.shutdownBlocked = true
			changed = true
			continue
		}
		if j.blockedLocked(it) {
			it.state = blocked
			it.buildableSince = now
			changed = true
		} else {
			makeBuildable(it)
		}
	}
	var buildables []*QueueItem
	for _, it := range j.queue {
		if it.state == buildable {
			buildables = append(buildables, it)
		}
	}
	sort.SliceStable(buildables, func(a, b int) bool { return buildables[a].buildableSeq < buildables[b].buildableSeq })
	free := j.idleSlotsLocked()
	if j.quietDown != nil {
		buildables = nil // BuildableItem.getCauseOfBlockage: about to shut down
	}
	for _, it := range buildables {
		if j.blockedLocked(it) { // one last check: a build may just have started
			it.state = blocked
			changed = true
			continue
		}
		if it.job.Pipeline && !it.placeholder {
			j.startPipelineLocked(it)
			changed = true
			continue
		}
		for k, fs := range free {
			if ok, _ := fs.node.canTake(it); ok {
				j.runLocked(fs.node, fs.index, it)
				free = append(free[:k], free[k+1:]...)
				changed = true
				break
			}
		}
	}
	kept := j.queue[:0]
	for _, it := range j.queue {
		if it.state != leftQueue {
			kept = append(kept, it)
		}
	}
	for i := len(kept); i < len(j.queue); i++ {
		j.queue[i] = nil
	}
	j.queue = kept
	if changed {
		j.saveLocked()
	}
}

// blockedLocked is the BlockedBecauseOfBuildInProgress check: a job that
// does not run concurrently waits for its running build.
func (j *Jenkins) blockedLocked(it *QueueItem) bool {
	return !it.placeholder && !it.job.Pipeline && !it.job.Concurrent && it.job.building()
}

type freeSlot struct {
	node  *Node
	index int
}

// idleSlotsLocked lists idle executors of online computers that accept
// tasks, built-in node first.
func (j *Jenkins) idleSlotsLocked() []freeSlot {
	var out []freeSlot
	add := func(n *Node) {
		if n.offline() {
			return
		}
		for i, s := range n.slots {
			if s == nil {
				out = append(out, freeSlot{n, i})
			}
		}
	}
	add(j.builtin)
	for _, n := range j.sortedNodes() {
		add(n)
	}
	return out
}

func (j *Jenkins) leaveLocked(it *QueueItem) {
	it.state = leftQueue
	it.leftAt = j.nowMillis()
	j.left[it.ID] = it
}

// startPipelineLocked: the Pipeline run itself starts as a flyweight task
// (no executor); its node('label') block becomes a queue item.
func (j *Jenkins) startPipelineLocked(it *QueueItem) {
	run := j.startBuildLocked(it.job, it, "")
	it.executable = run
	j.leaveLocked(it)
	label, hasNode, commands := pipelineNode(it.job.Script)
	if !hasNode {
		if len(commands) > 0 {
			run.Log = "Required context class hudson.FilePath is missing\nPerhaps you forgot to surround the code with a step that provides this, such as: node"
			j.finishBuildLocked(run, "FAILURE")
			return
		}
		j.finishBuildLocked(run, "SUCCESS")
		return
	}
	expr, err := parseLabelExpr(label)
	if err != nil {
		run.Log = err.Error()
		j.finishBuildLocked(run, "FAILURE")
		return
	}
	j.enqueuePlaceholderLocked(run, expr)
}

// cancelLocked is Queue.cancel: the item leaves the queue as cancelled.
func (j *Jenkins) cancelLocked(id int64) (found, cancellable bool) {
	for _, it := range j.queue {
		if it.ID == id && it.state != leftQueue {
			it.cancelled = true
			j.leaveLocked(it)
			j.saveLocked()
			j.maintainLocked()
			return true, true
		}
	}
	if _, ok := j.left[id]; ok {
		return true, false
	}
	return false, false
}

func (j *Jenkins) itemLocked(id int64) *QueueItem {
	for _, it := range j.queue {
		if it.ID == id {
			return it
		}
	}
	return j.left[id]
}

// whyCache memoises per-label answers within one request: 10,000 items
// waiting for one label cost one evaluation.
type whyCache map[string]string

// whyLocked is getCauseOfBlockage().getShortDescription(), with Jenkins'
// exact message templates and curly quotes.
func (j *Jenkins) whyLocked(it *QueueItem, cache whyCache) (string, bool) {
	var s string
	switch it.state {
	case leftQueue:
		return "", false
	case waiting:
		left := it.quietUntil - j.nowMillis()
		if left <= 0 {
			s = "Finished waiting"
		} else {
			s = "In the quiet period. Expires in " + timeSpan(left)
		}
	case blocked:
		if it.shutdownBlocked {
			s = shutdownWhy
			break
		}
		// BlockedBecauseOfBuildInProgress: the running build's number and
		// its executor's estimated remaining time.
		n, eta := 0, ""
		if b := it.job.runningBuild(); b != nil {
			n = b.Number
			eta = " (ETA: " + j.remainingLocked(b) + ")"
		}
		s = fmt.Sprintf("Build #%d is already in progress%s", n, eta)
	default:
		if j.quietDown != nil {
			s = shutdownWhy
			break
		}
		key := it.labelKey
		if it.label == nil {
			key = "\x00"
		}
		if cached, ok := cache[key]; ok {
			return cached, true
		}
		s = j.buildableWhyLocked(it)
		cache[key] = s
	}
	return s, true
}

// shutdownWhy is Messages.Queue_HudsonIsAboutToShutDown: every queued
// task's cause of blockage while Jenkins quiets down.
const shutdownWhy = "Jenkins is about to shut down"

func (j *Jenkins) buildableWhyLocked(it *QueueItem) string {
	label := it.label
	if len(j.nodes) == 0 {
		label = nil // no agents at all: the label is not considered
	}
	if label == nil {
		var refusals []string
		for _, n := range append([]*Node{j.builtin}, j.sortedNodes()...) {
			if n.offline() || n.idleCount() == 0 {
				continue
			}
			if ok, why := n.canTake(&QueueItem{label: label}); !ok && len(refusals) < 5 {
				refusals = append(refusals, why)
			}
		}
		if len(refusals) > 0 {
			return strings.Join(refusals, "; ")
		}
		return "Waiting for next available executor"
	}
	matching := j.labelNodesLocked(label)
	online := false
	for _, n := range matching {
		if !n.offline() {
			online = true
		}
	}
	name := label.String()
	if !online {
		switch len(matching) {
		case 0:
			return "There are no nodes with the label ‘" + name + "’"
		case 1:
			return "‘" + matching[0].displayName() + "’ is offline"
		}
		return "All nodes of label ‘" + name + "’ are offline"
	}
	if len(matching) == 1 {
		return "Waiting for next available executor on ‘" + matching[0].displayName() + "’"
	}
	return "Waiting for next available executor on ‘" + name + "’"
}

// stuckLocked: a buildable item is stuck as soon as its label is offline
// (no nodes counts), or after 24 h with no duration estimate.
func (j *Jenkins) stuckLocked(it *QueueItem, cache map[string]bool) bool {
	if it.state != buildable {
		return false
	}
	if it.label != nil {
		key := it.labelKey
		off, ok := cache[key]
		if !ok {
			off = true
			for _, n := range j.labelNodesLocked(it.label) {
				if !n.offline() {
					off = false
				}
			}
			cache[key] = off
		}
		if off {
			return true
		}
	}
	return j.nowMillis()-it.buildableSince > (24 * time.Hour).Milliseconds()
}

// timeSpan is Util.getTimeSpanString: "4.9 sec", "12 sec", "1 min 5 sec".
func timeSpan(ms int64) string {
	switch {
	case ms < 10_000:
		return strconv.FormatFloat(float64(ms)/1000, 'f', 1, 64) + " sec"
	case ms < 60_000:
		return strconv.FormatInt(ms/1000, 10) + " sec"
	case ms < 3_600_000:
		return fmt.Sprintf("%d min %d sec", ms/60_000, ms%60_000/1000)
	case ms < 86_400_000:
		return fmt.Sprintf("%d hr %d min", ms/3_600_000, ms%3_600_000/60_000)
	}
	return fmt.Sprintf("%d day %d hr", ms/86_400_000, ms%86_400_000/3_600_000)
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

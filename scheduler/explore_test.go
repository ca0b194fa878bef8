package scheduler

import (
	"flag"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/executor"
	jmproto "github.com/jenkins-mesos/jenkins-mesos/proto"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// The exhaustive check: a small world — 2 Mesos agents of 1 CPU, 2
// builds, one template of 0.5 CPU — modelled outside the core, and every
// interleaving of what that world can do explored up to a depth, with
// states hashed to prune. After every step the core's actions are checked
// against the world:
//
//   - no node is deleted, and no task killed, while a build runs on it;
//   - nothing is acknowledged before the framework ID it implies is
//     persisted;
//   - an ACCEPT uses a live offer of the current subscription and
//     launches no more than it holds;
//   - at most one task per node, and only on a node that exists;
//   - the core never asks to be woken at or before now (a spinning loop);
//
// and from every state a drain (builds end, Jenkins and Mesos answer,
// time passes the graces) must reach a world with no task without a node
// and no node without a task.
//
// go test ./scheduler -run TestExhaustive -explore.depth 10 goes deeper.

var exploreDepth = flag.Int("explore.depth", 9, "depth of the exhaustive check of the core (6 under the race detector unless set)")

func depth() int {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "explore.depth" })
	if raceDetector && !set {
		return 6
	}
	return *exploreDepth
}

type seqRand struct{ n uint64 }

func (r *seqRand) Uint64() uint64 {
	r.n++
	x := r.n * 0x9e3779b97f4a7c15
	return x ^ x>>29
}

const (
	sliceCPU = 0.5
	sliceMem = 256.0
	agentCPU = 1.0
	agentMem = 1024.0
	nAgents  = 2
	nBuilds  = 2
)

type wNode struct {
	online, offline bool   // connected; marked temporarily offline
	build           int    // the build running on it, -1 none
	labels          string // as created (space-separated)
}

type wTask struct {
	agent       int
	state       string // staging, running, unreachable
	killing     bool
	cpus, mem   float64
	agentUp     bool // the inbound agent process started (it connects once its node exists)
	adoptedFrom int  // the subscription it was launched in
}

type wBuild struct {
	state string // waiting, running, done, failed
	node  string
}

type wOffer struct {
	agent     int
	cpus, mem float64
	sub       int
}

// world is everything outside the core: Jenkins, Mesos, the store.
type world struct {
	now        time.Time
	subscribed bool
	sub        int
	suppressed bool
	persisted  string // the framework ID in the store
	restarts   int
	nodes      map[string]*wNode
	ops        []NodeOp // Jenkins operations in flight
	offers     map[string]*wOffer
	nextOffer  int
	free       [nAgents][2]float64
	tasks      map[string]*wTask
	builds     [nBuilds]*wBuild
	reconcile  bool // a RECONCILE was sent and not answered
	uuid       int
	violation  string
	maintOn    int // the agent Mesos asked back with an inverse offer (io<N>), -1 none
}

func newWorld() *world {
	w := &world{now: epoch, nodes: map[string]*wNode{}, offers: map[string]*wOffer{}, tasks: map[string]*wTask{}, maintOn: -1}
	for i := range w.free {
		w.free[i] = [2]float64{agentCPU, agentMem}
	}
	for i := range w.builds {
		w.builds[i] = &wBuild{state: "waiting"}
	}
	return w
}

func (w *world) clone() *world {
	n := *w
	n.nodes = make(map[string]*wNode, len(w.nodes))
	for k, v := range w.nodes {
		c := *v
		n.nodes[k] = &c
	}
	n.ops = append([]NodeOp(nil), w.ops...)
	n.offers = make(map[string]*wOffer, len(w.offers))
	for k, v := range w.offers {
		c := *v
		n.offers[k] = &c
	}
	n.tasks = make(map[string]*wTask, len(w.tasks))
	for k, v := range w.tasks {
		c := *v
		n.tasks[k] = &c
	}
	for i, b := range w.builds {
		c := *b
		n.builds[i] = &c
	}
	return &n
}

func (w *world) fail(format string, args ...any) {
	if w.violation == "" {
		w.violation = fmt.Sprintf(format, args...)
	}
}

func exploreConfig() Config {
	return Config{FrameworkName: "jenkins-mesos", JenkinsURL: "http://jenkins/", ProvisionDuringQuietPeriod: true,
		OrphanGrace: time.Minute, UnreachableGrace: 2 * time.Minute, HoldForCreate: time.Second,
		Templates: []Template{{Name: "m", Labels: []string{"mesos"}, CPUs: sliceCPU, Mem: sliceMem, ConnectTimeout: 2 * time.Minute,
			Container: executor.Container{Image: "jenkins/inbound-agent"}}}}
}

// sim is one state of the exploration: the core and its world.
type sim struct {
	cfg    Config   // the core's configuration (a restart starts from it)
	labels []string // each build's label expression ("mesos" when unset)
	core   *Core
	w      *world
	wrap   func(Ready) Ready // a deliberately broken core rewrites its Ready
	trace  []string
}

func (s *sim) clone() *sim {
	return &sim{cfg: s.cfg, labels: s.labels, core: cloneCore(s.core), w: s.w.clone(), wrap: s.wrap, trace: append([]string(nil), s.trace...)}
}

// step feeds events to the core and carries out what it asks, checking
// each action against the world.
func (s *sim) step(evs ...Event) {
	for _, ev := range evs {
		if err := s.core.Step(ev); err != nil {
			s.w.fail("core refused %T: %v", ev, err)
		}
	}
	for n := 0; s.core.HasReady(); n++ {
		if n > 50 {
			s.w.fail("the core keeps producing Readies")
			return
		}
		rd := s.core.Ready()
		if !rd.Wake.IsZero() && !rd.Wake.After(s.w.now) {
			s.w.fail("Ready asks to be woken %s from now, not after it: the driver would spin", rd.Wake.Sub(s.w.now))
		}
		if s.wrap != nil {
			rd = s.wrap(rd)
		}
		s.apply(rd)
		s.core.Advance(rd)
	}
}

func (s *sim) apply(rd Ready) {
	w := s.w
	if rd.Persist != nil {
		w.persisted = rd.Persist.GetFrameworkId()
	}
	for _, op := range rd.Jenkins {
		if op.Kind == NodeDelete {
			if n := w.nodes[op.Name]; n != nil && n.build >= 0 {
				w.fail("asked to delete node %s while build %d runs on it", op.Name, n.build)
			}
		}
		w.ops = append(w.ops, op)
	}
	for _, k := range rd.Calls {
		switch k.Type {
		case scheduler.Call_ACCEPT:
			s.accept(k)
		case scheduler.Call_DECLINE:
			for _, id := range k.Decline.OfferIDs {
				w.useOffer(id.Value)
			}
		case scheduler.Call_KILL:
			id := k.Kill.TaskID.Value
			if n := w.nodes[id]; n != nil && n.build >= 0 {
				w.fail("killed task %s while build %d runs on its node", id, n.build)
			}
			// The master does not kill an unreachable task (it answers
			// with a reconciliation); the task runs on if its agent
			// comes back.
			if t := w.tasks[id]; t != nil && t.state != "unreachable" {
				t.killing = true
			}
		case scheduler.Call_ACCEPT_INVERSE_OFFERS:
			for _, id := range k.AcceptInverseOffers.InverseOfferIDs {
				var a int
				fmt.Sscanf(id.Value, "io%d", &a)
				for i, b := range w.builds {
					if t := w.tasks[b.node]; b.state == "running" && t != nil && t.agent == a {
						w.fail("accepted the inverse offer for a%d while build %d runs there", a, i+1)
					}
				}
			}
		case scheduler.Call_ACKNOWLEDGE:
			if w.persisted != "fw-1" {
				w.fail("acknowledged an update of %s before the framework ID was persisted", k.Acknowledge.TaskID.Value)
			}
		case scheduler.Call_SUPPRESS:
			w.suppressed = true
		case scheduler.Call_REVIVE:
			w.suppressed = false
		case scheduler.Call_RECONCILE:
			w.reconcile = true
		}
	}
}

func (w *world) useOffer(id string) *wOffer {
	o := w.offers[id]
	if o == nil {
		return nil
	}
	delete(w.offers, id)
	w.free[o.agent][0] += o.cpus
	w.free[o.agent][1] += o.mem
	return o
}

func (s *sim) accept(k *scheduler.Call) {
	w := s.w
	if len(k.Accept.OfferIDs) != 1 {
		w.fail("ACCEPT of %d offers", len(k.Accept.OfferIDs))
		return
	}
	id := k.Accept.OfferIDs[0].Value
	o := w.offers[id]
	if o == nil {
		w.fail("ACCEPT of offer %s, which is not outstanding (used, rescinded or of an earlier subscription)", id)
		return
	}
	var cpus, mem float64
	for _, op := range k.Accept.Operations {
		if op.Launch == nil {
			continue
		}
		for _, ti := range op.Launch.TaskInfos {
			tid := ti.TaskID.Value
			if t := w.tasks[tid]; t != nil {
				w.fail("launched %s while its earlier task is still live", tid)
			}
			if w.nodes[tid] == nil {
				w.fail("launched %s, which has no Jenkins node", tid)
			}
			var tc, tm float64
			for _, r := range ti.Resources {
				switch r.Name {
				case "cpus":
					tc += r.GetScalar().GetValue()
				case "mem":
					tm += r.GetScalar().GetValue()
				}
			}
			cpus, mem = cpus+tc, mem+tm
			w.tasks[tid] = &wTask{agent: o.agent, state: "staging", cpus: tc, mem: tm, adoptedFrom: w.sub}
		}
	}
	if cpus > o.cpus+1e-9 || mem > o.mem+1e-9 {
		w.fail("ACCEPT of offer %s launches %.1f cpus / %.0f mem; it holds %.1f / %.0f", id, cpus, mem, o.cpus, o.mem)
	}
	w.useOffer(id)
	w.free[o.agent][0] -= cpus
	w.free[o.agent][1] -= mem
}

// action is one thing the world can do next.
type action struct {
	name string
	do   func(s *sim)
}

func (s *sim) update(id string, state mesos.TaskState, uuid bool) {
	w := s.w
	t := w.tasks[id]
	st := mesos.TaskStatus{TaskID: mesos.TaskID{Value: id}, State: state.Enum(), AgentID: &mesos.AgentID{Value: fmt.Sprintf("a%d", t.agent)}}
	if uuid {
		w.uuid++
		st.UUID = []byte(fmt.Sprintf("u%d", w.uuid))
	}
	if isTerminal(state) {
		w.free[t.agent][0] += t.cpus
		w.free[t.agent][1] += t.mem
		delete(w.tasks, id)
		w.agentGone(id)
	}
	s.step(Update{Status: st})
}

// agentGone: the inbound agent of node id stopped; a build on it fails
// as Jenkins fails a build whose agent vanished.
func (w *world) agentGone(id string) {
	if n := w.nodes[id]; n != nil {
		n.online = false
		if n.build >= 0 {
			w.builds[n.build].state = "failed"
			n.build = -1
		}
	}
}

func (s *sim) listNodes() {
	var ns []Node
	for _, name := range sortedKeys(s.w.nodes) {
		n := s.w.nodes[name]
		busy := 0
		if n.build >= 0 {
			busy = 1
		}
		ns = append(ns, Node{Name: name, Online: n.online, Busy: busy, Executors: 1, TemporarilyOffline: n.offline, Labels: append([]string{name}, strings.Fields(n.labels)...)})
	}
	s.step(NodesObserved{Nodes: ns})
}

func (s *sim) listQueue() {
	var items []QueueItem
	for i, b := range s.w.builds {
		if b.state == "waiting" {
			items = append(items, QueueItem{ID: int64(i + 1), Name: fmt.Sprintf("job%d", i+1), Label: s.label(i)})
		}
	}
	s.step(QueueObserved{Items: items})
}

// doOp carries out the Jenkins operation at i (ok false: it fails).
func (s *sim) doOp(i int, ok bool) {
	w := s.w
	op := w.ops[i]
	w.ops = append(w.ops[:i:i], w.ops[i+1:]...)
	done := NodeDone{Op: op}
	switch op.Kind {
	case NodeCreate:
		if ok {
			w.nodes[op.Name] = &wNode{build: -1, labels: op.Labels}
			done.Secret = "s"
			if t := w.tasks[op.Name]; t != nil {
				w.fail("node %s created after its task was launched", op.Name)
			}
		} else {
			done.Err = "503"
		}
	case NodeRetire:
		if n := w.nodes[op.Name]; n != nil {
			n.offline = true
		} else {
			done.Err = "404"
		}
	case NodeDelete:
		if n := w.nodes[op.Name]; n != nil {
			if n.build >= 0 {
				w.fail("deleted node %s while build %d ran on it", op.Name, n.build)
				w.builds[n.build].state = "failed"
			}
			delete(w.nodes, op.Name)
		} else {
			done.Err = "404"
		}
	}
	s.step(done)
}

// actions lists what the world can do in this state.
func (s *sim) actions(withFaults bool) []action {
	w := s.w
	var out []action
	add := func(name string, do func(*sim)) { out = append(out, action{name, do}) }
	for i, op := range w.ops {
		i, op := i, op
		add(fmt.Sprintf("jenkins %s %s ok", op.Kind, op.Name), func(s *sim) { s.doOp(i, true) })
		if withFaults && op.Kind == NodeCreate {
			add(fmt.Sprintf("jenkins %s %s fails", op.Kind, op.Name), func(s *sim) { s.doOp(i, false) })
		}
	}
	if w.subscribed && !w.suppressed {
		for a := 0; a < nAgents; a++ {
			a := a
			busy := false
			for _, o := range w.offers {
				busy = busy || o.agent == a
			}
			if !busy && w.free[a][0] >= sliceCPU-1e-9 && w.free[a][1] >= sliceMem {
				add(fmt.Sprintf("offer from a%d", a), func(s *sim) {
					w := s.w
					w.nextOffer++
					id := fmt.Sprintf("o%d", w.nextOffer)
					o := &wOffer{agent: a, cpus: w.free[a][0], mem: w.free[a][1], sub: w.sub}
					w.offers[id] = o
					w.free[a] = [2]float64{}
					s.step(Offers{Offers: []mesos.Offer{worldOffer(id, a, o.cpus, o.mem)}})
				})
			}
		}
	}
	if withFaults {
		for _, id := range sortedKeys(w.offers) {
			id := id
			add("rescind "+id, func(s *sim) { s.w.useOffer(id); s.step(Rescind{OfferID: id}) })
		}
	}
	for _, id := range sortedKeys(w.tasks) {
		id, t := id, w.tasks[id]
		switch {
		case t.killing:
			add("task "+id+" killed", func(s *sim) { s.update(id, mesos.TASK_KILLED, true) })
		case t.state == "staging":
			add("task "+id+" running", func(s *sim) {
				s.w.tasks[id].state = "running"
				s.w.tasks[id].agentUp = true
				s.update(id, mesos.TASK_RUNNING, true)
			})
		case t.state == "running" && !t.agentUp:
		case t.state == "unreachable":
			add("task "+id+" reachable again", func(s *sim) { s.w.tasks[id].state = "running"; s.update(id, mesos.TASK_RUNNING, false) })
		}
		if t.state == "running" && !t.killing {
			if n := w.nodes[id]; n != nil && !n.online && t.agentUp {
				add("agent "+id+" connects", func(s *sim) { s.w.nodes[id].online = true })
			}
		}
		if withFaults && !t.killing {
			add("task "+id+" fails", func(s *sim) { s.update(id, mesos.TASK_FAILED, true) })
			add("task "+id+" lost", func(s *sim) { s.update(id, mesos.TASK_LOST, false) })
			if t.state == "running" {
				add("agent of "+id+" unreachable", func(s *sim) {
					s.w.tasks[id].state = "unreachable"
					s.w.agentGone(id)
					s.update(id, mesos.TASK_UNREACHABLE, false)
				})
			}
		}
	}
	for i, b := range w.builds {
		i, b := i, b
		switch b.state {
		case "waiting":
			for _, name := range sortedKeys(w.nodes) {
				name := name
				if n := w.nodes[name]; n.online && !n.offline && n.build < 0 && s.takes(n, i) {
					add(fmt.Sprintf("build %d starts on %s", i+1, name), func(s *sim) {
						s.w.nodes[name].build = i
						s.w.builds[i].state, s.w.builds[i].node = "running", name
					})
				}
			}
		case "running":
			add(fmt.Sprintf("build %d ends", i+1), func(s *sim) {
				s.w.builds[i].state = "done"
				if n := s.w.nodes[b.node]; n != nil {
					n.build = -1
				}
			})
		}
	}
	add("nodes listed", func(s *sim) { s.listNodes() })
	add("queue read", func(s *sim) { s.listQueue() })
	if w.reconcile {
		add("reconciliation answered", func(s *sim) {
			s.w.reconcile = false
			for _, id := range sortedKeys(s.w.tasks) {
				t := s.w.tasks[id]
				st := map[string]mesos.TaskState{"staging": mesos.TASK_STAGING, "running": mesos.TASK_RUNNING, "unreachable": mesos.TASK_UNREACHABLE}[t.state]
				if _, ok := s.w.tasks[id]; ok {
					s.update(id, st, false)
				}
			}
		})
	}
	if w.subscribed && withFaults {
		add("event stream ends", func(s *sim) { s.w.disconnect(); s.step(Disconnected{}) })
	}
	if !w.subscribed {
		add("subscribed", func(s *sim) {
			s.w.subscribed, s.w.suppressed = true, false
			s.w.sub++
			s.step(Subscribed{FrameworkID: "fw-1", Heartbeat: 15 * time.Second})
		})
	}
	if withFaults && w.restarts == 0 {
		add("framework restarts", func(s *sim) { s.restart() })
	}
	if withFaults && w.subscribed && w.maintOn < 0 {
		// Maintenance scheduled once per world, for an agent that runs a
		// task of ours: Mesos sends an inverse offer.
		for _, id := range sortedKeys(w.tasks) {
			a := w.tasks[id].agent
			add(fmt.Sprintf("maintenance on a%d", a), func(s *sim) {
				s.w.maintOn = a
				s.step(InverseOffers{Offers: []mesos.InverseOffer{{OfferID: mesos.OfferID{Value: fmt.Sprintf("io%d", a)},
					FrameworkID: mesos.FrameworkID{Value: "fw-1"}, AgentID: &mesos.AgentID{Value: fmt.Sprintf("a%d", a)}}}})
			})
			break
		}
	}
	add("a minute passes", func(s *sim) { s.w.now = s.w.now.Add(61 * time.Second); s.step(Tick{Now: s.w.now}) })
	return out
}

func (w *world) disconnect() {
	w.subscribed = false
	for _, id := range sortedKeys(w.offers) {
		w.useOffer(id)
	}
	w.reconcile = false
}

// restart: the framework process dies and a new core starts from the
// store; Jenkins and Mesos keep what they have.
func (s *sim) restart() {
	w := s.w
	w.restarts++
	w.disconnect()
	// Jenkins operations in flight finish or not; here they are lost
	// with the process (the worse case for leaks).
	w.ops = nil
	var restored *jmproto.State
	if w.persisted != "" {
		restored = &jmproto.State{FrameworkId: w.persisted, FrameworkName: "jenkins-mesos"}
	}
	s.core = New(s.cfg, restored, &seqRand{n: 1000})
	s.step(Tick{Now: w.now})
}

func worldOffer(id string, agent int, cpus, mem float64) mesos.Offer {
	star := "*"
	sc := func(name string, v float64) mesos.Resource {
		return mesos.Resource{Name: name, Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: v}, Role: &star}
	}
	return mesos.Offer{ID: mesos.OfferID{Value: id}, FrameworkID: mesos.FrameworkID{Value: "fw-1"}, AgentID: mesos.AgentID{Value: fmt.Sprintf("a%d", agent)},
		Hostname: fmt.Sprintf("h%d", agent), Resources: []mesos.Resource{sc("cpus", cpus), sc("mem", mem)}}
}

// drain lets the world settle without faults: waiting builds are
// cancelled, running builds end, every answer comes, time passes every
// grace. It reports what is left that should not be.
func (s *sim) drain() string {
	for i, b := range s.w.builds {
		if b.state == "waiting" {
			s.w.builds[i].state = "cancelled"
		}
	}
	if !s.w.subscribed {
		s.w.subscribed, s.w.suppressed = true, false
		s.w.sub++
		s.step(Subscribed{FrameworkID: "fw-1", Heartbeat: 15 * time.Second})
	}
	for round := 0; round < 40 && s.w.violation == ""; round++ {
		progressed := false
		for _, a := range s.actions(false) {
			if strings.HasPrefix(a.name, "offer") || strings.HasPrefix(a.name, "build") && strings.Contains(a.name, "starts") {
				continue
			}
			if a.name == "a minute passes" || a.name == "nodes listed" || a.name == "queue read" {
				continue
			}
			a.do(s)
			progressed = true
			break
		}
		if !progressed && s.warmPool() {
			// A warm agent waits for an offer whatever the builds do:
			// give it one before letting time pass.
			for _, a := range s.actions(false) {
				if strings.HasPrefix(a.name, "offer") {
					a.do(s)
					progressed = true
					break
				}
			}
		}
		if !progressed {
			s.listQueue()
			s.listNodes()
			s.w.now = s.w.now.Add(61 * time.Second)
			s.step(Tick{Now: s.w.now})
		}
	}
	if s.w.violation != "" {
		return s.w.violation
	}
	var left []string
	for _, id := range sortedKeys(s.w.tasks) {
		if s.w.nodes[id] == nil {
			left = append(left, "task "+id+" has no node")
		}
	}
	for _, id := range sortedKeys(s.w.nodes) {
		if s.w.tasks[id] == nil {
			left = append(left, "node "+id+" has no task")
		}
	}
	if len(s.w.ops) > 0 {
		left = append(left, fmt.Sprintf("%d Jenkins operations never answered", len(s.w.ops)))
	}
	return strings.Join(left, "; ")
}

// label is build i's label expression.
func (s *sim) label(i int) string {
	if i < len(s.labels) && s.labels[i] != "" {
		return s.labels[i]
	}
	return "mesos"
}

// takes tells whether Jenkins would give build i to node n: the node has
// every label of the build's expression. The model's expressions are
// conjunctions (a && b), read here without the core's parser.
func (s *sim) takes(n *wNode, i int) bool {
	atoms := strings.Fields(n.labels)
	for _, want := range strings.Split(s.label(i), "&&") {
		if !slices.Contains(atoms, strings.TrimSpace(want)) {
			return false
		}
	}
	return true
}

// warmPool: some template keeps agents ahead of the builds.
func (s *sim) warmPool() bool {
	for _, t := range s.cfg.Templates {
		if t.MinIdle > 0 {
			return true
		}
	}
	return false
}

// fingerprint is the state for pruning: the world and the core's view.
func (s *sim) fingerprint() uint64 {
	h := fnv.New64a()
	w := s.w
	fmt.Fprintf(h, "%v|%v|%v|%s|%d|%v|%d|%d|", w.now.Sub(epoch), w.subscribed, w.suppressed, w.persisted, w.restarts, w.reconcile, len(w.offers), w.maintOn)
	for _, k := range sortedKeys(w.nodes) {
		fmt.Fprintf(h, "n%s%+v|", k, *w.nodes[k])
	}
	for _, op := range w.ops {
		fmt.Fprintf(h, "op%d%s|", op.Kind, op.Name)
	}
	for _, k := range sortedKeys(w.offers) {
		o := w.offers[k]
		fmt.Fprintf(h, "o%d%.1f|", o.agent, o.cpus)
	}
	for _, k := range sortedKeys(w.tasks) {
		t := w.tasks[k]
		fmt.Fprintf(h, "t%s%d%s%v%v|", k, t.agent, t.state, t.killing, t.agentUp)
	}
	for _, b := range w.builds {
		fmt.Fprintf(h, "b%s%s|", b.state, b.node)
	}
	c := s.core
	fmt.Fprintf(h, "C%v%v%v%v%v%v%d%d%v%d|", c.subscribed, c.suppressed, c.filtered, c.queueStale, c.nodesSeen, c.reviveDue, len(c.held), len(c.orphans), c.persist, len(c.inverse))
	for _, a := range c.sortedAgents() {
		fmt.Fprintf(h, "a%s%d%v%v%v%v%d%v%s|", a.name, a.state, a.nodeGone, a.taskLive, a.taskKilled, a.adopted, a.busy, a.unreachableSince.IsZero(), a.agentID)
	}
	for _, hl := range c.health {
		fmt.Fprintf(h, "h%d%d%v|", hl.createFails, hl.launchFails, hl.open)
	}
	return h.Sum64()
}

type exploreResult struct {
	states, transitions int
	failure             string
	trace               []string
}

// explore walks every interleaving up to depth, breadth first, pruning
// states already seen.
func explore(depth int, wrap func(Ready) Ready) exploreResult {
	return exploreWith(exploreConfig(), depth, wrap)
}

func exploreWith(cfg Config, depth int, wrap func(Ready) Ready, labels ...string) exploreResult {
	start := &sim{cfg: cfg, labels: labels, core: New(cfg, nil, &seqRand{}), w: newWorld(), wrap: wrap}
	start.step(Tick{Now: epoch})
	seen := map[uint64]bool{start.fingerprint(): true}
	frontier := []*sim{start}
	var res exploreResult
	res.states = 1
	check := func(s *sim) bool {
		if s.w.violation != "" {
			res.failure, res.trace = s.w.violation, s.trace
			return false
		}
		d := s.clone()
		if left := d.drain(); left != "" {
			res.failure, res.trace = "after the drain: "+left, s.trace
			return false
		}
		return true
	}
	if !check(start) {
		return res
	}
	for level := 0; level < depth && len(frontier) > 0; level++ {
		var next []*sim
		for _, s := range frontier {
			for _, a := range s.actions(true) {
				c := s.clone()
				c.trace = append(c.trace, a.name)
				a.do(c)
				res.transitions++
				fp := c.fingerprint()
				if seen[fp] {
					continue
				}
				seen[fp] = true
				res.states++
				if !check(c) {
					return res
				}
				next = append(next, c)
			}
		}
		frontier = next
	}
	return res
}

// exhaustive explores the world of cfg to depth d and fails on the first
// broken invariant, with its interleaving.
func exhaustive(t *testing.T, cfg Config, d int, labels ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("the exhaustive check takes a while; it runs in make test")
	}
	began := time.Now()
	res := exploreWith(cfg, d, nil, labels...)
	t.Logf("depth %d: %d states, %d transitions, %s", d, res.states, res.transitions, time.Since(began).Round(time.Millisecond))
	if res.failure != "" {
		t.Fatalf("%s\ninterleaving:\n  %s", res.failure, strings.Join(res.trace, "\n  "))
	}
}

func TestExhaustiveInterleavingsKeepTheInvariants(t *testing.T) {
	exhaustive(t, exploreConfig(), depth())
}

// The same world with a warm pool of one agent: agents are made ahead of
// the builds and kept past their unused timeout, and every invariant
// still holds (the drain gives the warm agent an offer).
func TestExhaustiveWarmPoolKeepsTheInvariants(t *testing.T) {
	cfg := exploreConfig()
	cfg.Templates[0].MinIdle = 1
	exhaustive(t, cfg, depth()-1)
}

// The same world where one build chooses its image (a template with
// images): the core derives a template for it, the world gives each build
// only to a node whose labels satisfy it, and every invariant holds.
func TestExhaustiveBuildsChoosingImagesKeepTheInvariants(t *testing.T) {
	cfg := exploreConfig()
	cfg.Templates[0].Images = []string{"maven:*"}
	exhaustive(t, cfg, depth()-1, "mesos && image=maven:1", "mesos")
}

// A core that deletes a one-shot node as soon as its build is seen
// running (instead of marking it offline and waiting for the build to
// end) must be caught, and the interleaving that shows it named.
func TestExhaustiveCatchesACoreThatDeletesABusyNode(t *testing.T) {
	broken := func(rd Ready) Ready {
		for i, op := range rd.Jenkins {
			if op.Kind == NodeRetire {
				rd.Jenkins[i].Kind = NodeDelete
			}
		}
		return rd
	}
	res := explore(max(depth(), 9), broken) // the shortest interleaving that shows it is 9 events long
	if !strings.Contains(res.failure, "while build") {
		t.Fatalf("the broken core was not caught (failure %q after %d states)", res.failure, res.states)
	}
	t.Logf("caught after %d states: %s\n  %s", res.states, res.failure, strings.Join(res.trace, "\n  "))
}

// A core that never deletes nodes leaves nodes behind: the drain sees it.
func TestExhaustiveCatchesACoreThatForgetsToDeleteNodes(t *testing.T) {
	broken := func(rd Ready) Ready {
		ops := rd.Jenkins[:0:0]
		for _, op := range rd.Jenkins {
			if op.Kind != NodeDelete {
				ops = append(ops, op)
			}
		}
		rd.Jenkins = ops
		return rd
	}
	res := explore(max(depth(), 9), broken) // the shortest interleaving that shows it is 9 events long
	if !strings.Contains(res.failure, "has no task") {
		t.Fatalf("the broken core was not caught (failure %q after %d states)", res.failure, res.states)
	}
	t.Logf("caught after %d states: %s\n  %s", res.states, res.failure, strings.Join(res.trace, "\n  "))
}

// A core that accepts an inverse offer the moment it arrives, whatever
// runs on the agent, must be caught.
func TestExhaustiveCatchesACoreThatAcceptsInverseOffersAtOnce(t *testing.T) {
	broken := func(rd Ready) Ready {
		for _, n := range rd.Notes {
			if n.Kind == "inverse_offer" {
				rd.Calls = append(rd.Calls, &scheduler.Call{Type: scheduler.Call_ACCEPT_INVERSE_OFFERS, AcceptInverseOffers: &scheduler.Call_AcceptInverseOffers{
					InverseOfferIDs: []mesos.OfferID{{Value: n.Fields["inverse_offer_id"]}}}})
			}
		}
		return rd
	}
	res := explore(max(depth(), 9), broken)
	if !strings.Contains(res.failure, "accepted the inverse offer") {
		t.Fatalf("the broken core was not caught (failure %q after %d states)", res.failure, res.states)
	}
	t.Logf("caught after %d states: %s\n  %s", res.states, res.failure, strings.Join(res.trace, "\n  "))
}

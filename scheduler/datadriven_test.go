package scheduler

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/jenkins-mesos/jenkins-mesos/executor"
	"github.com/jenkins-mesos/jenkins-mesos/offers"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// TestScenarios runs testdata/*.txt: commands in, the Ready printed out.
// go test ./scheduler -rewrite regenerates the expected output.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := &harness{t: t}
		datadriven.RunTest(t, path, h.handle)
	})
}

type harness struct {
	t    *testing.T
	cfg  Config
	core *Core
	now  time.Time
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func arg(d *datadriven.TestData, key, def string) string {
	for _, a := range d.CmdArgs {
		if a.Key == key && len(a.Vals) > 0 {
			return a.Vals[0]
		} else if a.Key == key {
			return "true"
		}
	}
	return def
}

// fields splits "name k=v k=v" lines.
func fields(line string) (string, map[string]string) {
	parts := strings.Fields(line)
	kv := map[string]string{}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			v = "true"
		}
		kv[k] = v
	}
	return parts[0], kv
}

func num(s string) float64 {
	v, _ := strconv.ParseFloat(s, 64)
	return v
}

func dur(s string) time.Duration {
	d, err := time.ParseDuration(strings.TrimPrefix(s, "+"))
	if err != nil {
		panic(err)
	}
	return d
}

func (h *harness) handle(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "init":
		h.cfg = Config{FrameworkName: "jenkins-mesos", JenkinsURL: "http://jenkins:8080/", ProvisionDuringQuietPeriod: arg(d, "quiet", "true") == "true"}
		h.cfg.MaxAgents, _ = strconv.Atoi(arg(d, "max-agents", "0"))
		h.cfg.MaintenanceHorizon = dur(arg(d, "maintenance-horizon", "0s"))
		if arg(d, "strategy", "spread") == "binpack" {
			h.cfg.Strategy = offers.Binpack
		}
		h.cfg.Templates = parseTemplates(t, d.Input)
		seed, _ := strconv.ParseUint(arg(d, "seed", "1"), 10, 64)
		h.core = New(h.cfg, nil, rand.New(rand.NewPCG(seed, seed)))
		h.now = epoch
		return h.step(t, Tick{Now: h.now})
	case "subscribed":
		return h.step(t, Subscribed{FrameworkID: arg(d, "framework", "fw-1"), Heartbeat: 15 * time.Second})
	case "reconfigure":
		cfg := h.cfg
		cfg.Templates = parseTemplates(t, d.Input)
		return h.step(t, Reconfigured{Config: cfg})
	case "disconnected":
		return h.step(t, Disconnected{})
	case "tick":
		h.now = h.now.Add(dur(d.CmdArgs[0].Key))
		return h.step(t, Tick{Now: h.now})
	case "queue":
		var items []QueueItem
		for _, line := range nonEmpty(d.Input) {
			name, kv := fields(line)
			id, _ := strconv.ParseInt(strings.TrimPrefix(name, "b"), 10, 64)
			items = append(items, QueueItem{ID: id, Name: "job" + strconv.FormatInt(id, 10), Label: kv["label"], LabelNode: kv["node"], Quiet: kv["quiet"] == "true", Blocked: kv["blocked"] == "true", ShuttingDown: kv["shutdown"] == "true"})
		}
		return h.step(t, QueueObserved{Items: items})
	case "node-done":
		kind := map[string]NodeOpKind{"create": NodeCreate, "retire": NodeRetire, "delete": NodeDelete}[d.CmdArgs[0].Key]
		var evs []Event
		// "*": every agent whose operation is outstanding (creating, or
		// deleting with its node still there).
		for _, name := range h.names(d.CmdArgs[1].Key, kind) {
			evs = append(evs, NodeDone{Op: NodeOp{Kind: kind, Name: name}, Secret: "secret-of-" + name, Err: strings.ReplaceAll(arg(d, "err", ""), "_", " ")})
		}
		return h.step(t, evs...)
	case "nodes":
		var nodes []Node
		for _, line := range nonEmpty(d.Input) {
			name, kv := fields(line)
			busy, _ := strconv.Atoi(kv["busy"])
			var builds []string
			if kv["builds"] != "" {
				builds = strings.Split(kv["builds"], ",")
			}
			nodes = append(nodes, Node{Name: name, Online: kv["online"] == "true", Busy: busy, Executors: 1, TemporarilyOffline: kv["offline"] == "true", Builds: builds})
		}
		return h.step(t, NodesObserved{Nodes: nodes})
	case "offers":
		var os []mesos.Offer
		for _, line := range nonEmpty(d.Input) {
			name, kv := fields(line)
			o := testOffer(name, kv)
			if m, ok := kv["maint"]; ok { // maint=+5m or maint=-1m: the window starts then (from now)
				start := h.now.Add(dur(m))
				if strings.HasPrefix(m, "-") {
					start = h.now.Add(-dur(m[1:]))
				}
				o.Unavailability = &mesos.Unavailability{Start: mesos.TimeInfo{Nanoseconds: start.UnixNano()}}
				if dd, ok := kv["maint-for"]; ok {
					o.Unavailability.Duration = &mesos.DurationInfo{Nanoseconds: int64(dur(dd))}
				}
			}
			os = append(os, o)
		}
		return h.step(t, Offers{Offers: os})
	case "inverse":
		var ios []mesos.InverseOffer
		for _, line := range nonEmpty(d.Input) {
			name, kv := fields(line)
			ios = append(ios, mesos.InverseOffer{OfferID: mesos.OfferID{Value: name}, FrameworkID: mesos.FrameworkID{Value: "fw-1"},
				AgentID: &mesos.AgentID{Value: kv["agent"]}, Unavailability: mesos.Unavailability{Start: mesos.TimeInfo{Nanoseconds: h.now.Add(time.Hour).UnixNano()}}})
		}
		return h.step(t, InverseOffers{Offers: ios})
	case "rescind-inverse":
		return h.step(t, RescindInverseOffer{ID: d.CmdArgs[0].Key})
	case "rescind":
		return h.step(t, Rescind{OfferID: d.CmdArgs[0].Key})
	case "output":
		return h.step(t, AgentOutput{Task: arg(d, "task", ""), Last: d.Input})
	case "status":
		s := h.core.Status()
		return fmt.Sprintf("subscribed=%v suppressed=%v framework=%s agents=%v\n", s.Subscribed, s.Suppressed, s.FrameworkID, s.Agents)
	case "update":
		var evs []Event
		for _, task := range h.names(arg(d, "task", ""), 0) {
			evs = append(evs, Update{Status: h.status(d, task)})
		}
		return h.step(t, evs...)
	}
	t.Fatalf("unknown command %q", d.Cmd)
	return ""
}

// status builds the TaskStatus of an update command for task.
func (h *harness) status(d *datadriven.TestData, task string) mesos.TaskStatus {
	st := mesos.TaskStatus{TaskID: mesos.TaskID{Value: task}, State: mesos.TaskState(mesos.TaskState_value[arg(d, "state", "")]).Enum()}
	if a := arg(d, "agent", ""); a != "" {
		st.AgentID = &mesos.AgentID{Value: a}
	} else if ag := h.core.agents[task]; ag != nil && ag.agentID != "" {
		st.AgentID = &mesos.AgentID{Value: ag.agentID}
	}
	if u := arg(d, "uuid", ""); u != "" {
		st.UUID = []byte(u)
	}
	if r := arg(d, "reason", ""); r != "" {
		st.Reason = mesos.TaskStatus_Reason(mesos.TaskStatus_Reason_value[r]).Enum()
	}
	if src := arg(d, "source", ""); src != "" {
		st.Source = mesos.TaskStatus_Source(mesos.TaskStatus_Source_value[src]).Enum()
	}
	if m := arg(d, "message", ""); m != "" {
		msg := strings.ReplaceAll(m, "_", " ")
		st.Message = &msg
	}
	return st
}

// parseTemplates reads "name labels=a,b cpus=.. mem=.. ..." lines.
func parseTemplates(t *testing.T, input string) []Template {
	var out []Template
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		if line == "" {
			continue
		}
		name, kv := fields(line)
		image := "jenkins/inbound-agent"
		if v, ok := kv["image"]; ok {
			image = v
		}
		tmpl := Template{Name: name, Labels: strings.Split(kv["labels"], ","), CPUs: num(kv["cpus"]), Mem: num(kv["mem"]),
			Container: executor.Container{Image: image}}
		if v, ok := kv["max"]; ok {
			tmpl.MaxInstances, _ = strconv.Atoi(v)
		}
		if v, ok := kv["executors"]; ok {
			tmpl.Executors, _ = strconv.Atoi(v)
		}
		if v, ok := kv["images"]; ok {
			tmpl.Images = strings.Split(v, ",")
		}
		if v, ok := kv["max-cpus"]; ok {
			tmpl.MaxCPUs = num(v)
		}
		if v, ok := kv["max-mem"]; ok {
			tmpl.MaxMem = num(v)
		}
		if v, ok := kv["min-idle"]; ok {
			tmpl.MinIdle, _ = strconv.Atoi(v)
		}
		if v, ok := kv["connect"]; ok {
			tmpl.ConnectTimeout = dur(v)
		}
		if v, ok := kv["retention"]; ok && v == "idle" {
			tmpl.Retention = RetainIdle
			tmpl.IdleTimeout = dur(kv["idle"])
		}
		if v, ok := kv["constraint"]; ok {
			k, err := offers.ParseConstraint(strings.ReplaceAll(v, "_", " "))
			if err != nil {
				t.Fatal(err)
			}
			tmpl.Constraints = append(tmpl.Constraints, k)
		}
		out = append(out, tmpl)
	}
	return out
}

func nonEmpty(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

func testOffer(id string, kv map[string]string) mesos.Offer {
	star := "*"
	sc := func(name string, v float64) mesos.Resource {
		return mesos.Resource{Name: name, Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: v}, Role: &star}
	}
	o := mesos.Offer{ID: mesos.OfferID{Value: id}, FrameworkID: mesos.FrameworkID{Value: "fw-1"}, AgentID: mesos.AgentID{Value: kv["agent"]}, Hostname: kv["host"],
		Resources: []mesos.Resource{sc("cpus", num(kv["cpus"])), sc("mem", num(kv["mem"]))}}
	if v, ok := kv["disk"]; ok {
		o.Resources = append(o.Resources, sc("disk", num(v)))
	}
	if v, ok := kv["rack"]; ok {
		o.Attributes = append(o.Attributes, mesos.Attribute{Name: "rack", Type: mesos.TEXT, Text: &mesos.Value_Text{Value: v}})
	}
	return o
}

// names expands "*": for a node operation, the agents it is outstanding
// for; for an update (kind 0), the agents whose task is live. Any other
// name stands for itself.
func (h *harness) names(name string, kind NodeOpKind) []string {
	if name != "*" {
		return []string{name}
	}
	var out []string
	for _, a := range h.core.sortedAgents() {
		switch {
		case kind == NodeCreate && a.state == stCreating,
			kind == NodeDelete && a.state == stDeleting && !a.nodeGone,
			kind == NodeRetire && a.state == stRetiring,
			kind == 0 && a.taskLive:
			out = append(out, a.name)
		}
	}
	return out
}

func (h *harness) step(t *testing.T, evs ...Event) string {
	for _, ev := range evs {
		if err := h.core.Step(ev); err != nil {
			return "error: " + err.Error() + "\n"
		}
	}
	var out strings.Builder
	for h.core.HasReady() {
		rd := h.core.Ready()
		if !rd.Wake.IsZero() && !rd.Wake.After(h.now) {
			t.Errorf("Ready asks to be woken at %s, not after now: the driver would spin", rd.Wake.Sub(h.now))
		}
		out.WriteString(DescribeReady(rd, h.now))
		h.core.Advance(rd)
	}
	if out.Len() == 0 {
		return "<empty Ready>\n"
	}
	return out.String()
}

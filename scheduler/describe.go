package scheduler

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/offers"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// DescribeReady renders a Ready as readable lines, one action each; the
// golden tests and the driver's debug log share it. Times are relative to
// now.
func DescribeReady(rd Ready, now time.Time) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	if rd.Persist != nil {
		line("persist framework_id=%s", rd.Persist.GetFrameworkId())
	}
	for _, op := range rd.Jenkins {
		switch op.Kind {
		case NodeCreate:
			line("jenkins CREATE %s labels=%q executors=%d", op.Name, op.Labels, op.Executors)
		case NodeRetire:
			line("jenkins RETIRE %s %q", op.Name, op.Message)
		default:
			line("jenkins %s %s", op.Kind, op.Name)
		}
	}
	for _, k := range rd.Calls {
		line("mesos %s", DescribeCall(k))
	}
	for _, w := range rd.Waiting {
		line("waiting %d %s %q", w.Build, w.Code, w.Reason)
	}
	if rd.Waiting != nil && len(rd.Waiting) == 0 {
		line("waiting none")
	}
	for _, t := range rd.Templates {
		line("template %s waiting=%d agents=%d %s %q", t.Template, t.Waiting, t.Agents, t.Code, t.Reason)
	}
	for _, n := range rd.Notes {
		keys := make([]string, 0, len(n.Fields))
		for k := range n.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var fs []string
		for _, k := range keys {
			if n.Fields[k] != "" {
				fs = append(fs, k+"="+n.Fields[k])
			}
		}
		line("note %s %s%q", n.Kind, strings.Join(append(fs, ""), " "), n.Text)
	}
	for _, o := range rd.Outputs {
		line("output %s agent=%s", o.Task, o.Agent)
	}
	if !rd.Wake.IsZero() {
		line("wake +%s", rd.Wake.Sub(now))
	}
	return b.String()
}

// DescribeCall is one Mesos call in a line.
func DescribeCall(k *scheduler.Call) string {
	switch k.Type {
	case scheduler.Call_ACCEPT:
		var parts []string
		for _, id := range k.Accept.OfferIDs {
			parts = append(parts, id.Value)
		}
		for _, op := range k.Accept.Operations {
			if op.Launch == nil {
				continue
			}
			for _, ti := range op.Launch.TaskInfos {
				parts = append(parts, fmt.Sprintf("LAUNCH task=%s agent=%s %s", ti.TaskID.Value, ti.AgentID.Value, describeResources(ti.Resources)))
			}
		}
		return "ACCEPT " + strings.Join(parts, " ") + refuseOf(k.Accept.Filters)
	case scheduler.Call_DECLINE:
		return "DECLINE " + joinIDs(k.Decline.OfferIDs) + refuseOf(k.Decline.Filters)
	case scheduler.Call_ACCEPT_INVERSE_OFFERS:
		return "ACCEPT_INVERSE_OFFERS " + joinIDs(k.AcceptInverseOffers.InverseOfferIDs) + refuseOf(k.AcceptInverseOffers.Filters)
	case scheduler.Call_DECLINE_INVERSE_OFFERS:
		return "DECLINE_INVERSE_OFFERS " + joinIDs(k.DeclineInverseOffers.InverseOfferIDs) + refuseOf(k.DeclineInverseOffers.Filters)
	case scheduler.Call_KILL:
		return fmt.Sprintf("KILL %s agent=%s", k.Kill.TaskID.Value, k.Kill.GetAgentID().GetValue())
	case scheduler.Call_ACKNOWLEDGE:
		return fmt.Sprintf("ACKNOWLEDGE %s agent=%s uuid=%x", k.Acknowledge.TaskID.Value, k.Acknowledge.AgentID.Value, k.Acknowledge.UUID)
	case scheduler.Call_RECONCILE:
		if len(k.Reconcile.Tasks) == 0 {
			return "RECONCILE implicit"
		}
		var ids []string
		for _, t := range k.Reconcile.Tasks {
			ids = append(ids, t.TaskID.Value)
		}
		sort.Strings(ids)
		return "RECONCILE " + strings.Join(ids, ",")
	}
	return k.Type.String()
}

func joinIDs(ids []mesos.OfferID) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.Value
	}
	return strings.Join(out, ",")
}

func refuseOf(f *mesos.Filters) string {
	if f == nil || f.RefuseSeconds == nil {
		return ""
	}
	return fmt.Sprintf(" refuse=%gs", f.GetRefuseSeconds())
}

func describeResources(rs []mesos.Resource) string {
	var parts []string
	for _, r := range rs {
		switch {
		case r.Scalar != nil:
			parts = append(parts, fmt.Sprintf("%s=%s", r.Name, offers.ToMilli(r.Scalar.Value)))
		case r.Ranges != nil:
			var rg []string
			for _, x := range r.Ranges.Range {
				rg = append(rg, fmt.Sprintf("%d-%d", x.Begin, x.End))
			}
			parts = append(parts, r.Name+"="+strings.Join(rg, ","))
		}
	}
	return strings.Join(parts, " ")
}

package mesosemu

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/sirupsen/logrus"
)

// Config describes an emulated Mesos cluster.
type Config struct {
	// Hostname the masters advertise (MasterInfo.hostname, redirects).
	Hostname string
	// Ports of the masters: master i listens on Port+i. 0 picks free ports.
	Port int
	// Masters is how many masters run (1 or more); they share the agents.
	Masters int
	// ZK is an optional zk://host:port[,host:port]/path URL for contention.
	ZK string

	Agents          int
	AgentResources  string // "cpus:4;mem:8192;disk:20000;ports:[31000-32000]"
	AgentAttributes string // "rack:r1;os:centos7"
	// AgentHostnamePrefix names simulated agents: prefix + index ("agent1").
	AgentHostnamePrefix string

	Heartbeat          time.Duration // 15 s, as hard-coded in Mesos
	AllocationInterval time.Duration // 1 s
	OfferTimeout       time.Duration // 0: offers never time out
	// ExecutorStartDelay is the emulated time an agent takes to start a
	// task's executor before TASK_STARTING.
	ExecutorStartDelay time.Duration
	// AgentReregisterDelay is how long agents take to re-register with a
	// newly elected master; until then they are "recovering".
	AgentReregisterDelay time.Duration
	TimeScale            float64

	// Images maps a Docker image (repository, or repository:tag) to the
	// program (and leading arguments) that stands in for its entrypoint.
	Images map[string][]string
	// PrivateImages maps an image (repository, or repository:tag) to the
	// user:password its registry wants: the Docker containerizer's pull
	// fails unless the sandbox holds a Docker config (fetched as a URI)
	// with them.
	PrivateImages map[string]string

	// SandboxRoot holds the agents' work directories. Empty: a temp dir.
	SandboxRoot string

	// MaxCompletedFrameworks bounds the completed list (Mesos default 50).
	MaxCompletedFrameworks int

	// Seed drives the allocator's randomness (the order agents are
	// visited in each cycle), so a failing allocation order can be
	// replayed. 0 picks one at random and logs it.
	Seed int64

	Log *logrus.Logger
}

// DefaultAgentResources is what a simulated agent offers unless told.
const DefaultAgentResources = "cpus:4;mem:8192;disk:20000;ports:[31000-32000]"

func (c *Config) withDefaults() Config {
	out := *c
	if out.Hostname == "" {
		out.Hostname = "127.0.0.1"
	}
	if out.Masters <= 0 {
		out.Masters = 1
	}
	if out.AgentResources == "" {
		out.AgentResources = DefaultAgentResources
	}
	if out.AgentHostnamePrefix == "" {
		out.AgentHostnamePrefix = "agent"
	}
	if out.Heartbeat <= 0 {
		out.Heartbeat = 15 * time.Second
	}
	if out.AllocationInterval <= 0 {
		out.AllocationInterval = time.Second
	}
	if out.ExecutorStartDelay <= 0 {
		out.ExecutorStartDelay = 100 * time.Millisecond
	}
	if out.AgentReregisterDelay <= 0 {
		out.AgentReregisterDelay = 500 * time.Millisecond
	}
	if out.TimeScale <= 0 {
		out.TimeScale = 1
	}
	if out.MaxCompletedFrameworks <= 0 {
		out.MaxCompletedFrameworks = 50
	}
	if out.Log == nil {
		out.Log = logrus.New()
		out.Log.SetOutput(io.Discard)
	}
	return out
}

// ParseResources parses Mesos' agent --resources text form:
// "cpus:4;mem:8192;disk:20000;ports:[31000-32000,33000-33010]".
// A name may carry a role: "cpus(jenkins):2".
func ParseResources(spec string) (mesos.Resources, error) {
	var out mesos.Resources
	for _, part := range strings.Split(spec, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("mesosemu: resource %q: expected name:value", part)
		}
		name = strings.TrimSpace(name)
		role := "*"
		if i := strings.IndexByte(name, '('); i >= 0 {
			if !strings.HasSuffix(name, ")") {
				return nil, fmt.Errorf("mesosemu: resource %q: expected name(role)", part)
			}
			role = name[i+1 : len(name)-1]
			name = name[:i]
		}
		if name == "" {
			return nil, fmt.Errorf("mesosemu: resource %q: empty name", part)
		}
		r := mesos.Resource{Name: name}
		if role != "*" {
			// Canonical (refinement) form: the reservation stack, no role.
			r.Reservations = []mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: &role}}
		}
		value = strings.TrimSpace(value)
		switch {
		case strings.HasPrefix(value, "["):
			if !strings.HasSuffix(value, "]") {
				return nil, fmt.Errorf("mesosemu: resource %q: ranges must be [a-b,...]", part)
			}
			var ranges mesos.Ranges
			for _, span := range strings.Split(value[1:len(value)-1], ",") {
				lo, hi, ok := strings.Cut(strings.TrimSpace(span), "-")
				b, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
				e, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 64)
				if !ok || err1 != nil || err2 != nil || e < b {
					return nil, fmt.Errorf("mesosemu: resource %q: bad range %q, expected begin-end", part, span)
				}
				ranges = append(ranges, mesos.Value_Range{Begin: b, End: e})
			}
			r.Type = mesos.RANGES.Enum()
			r.Ranges = &mesos.Value_Ranges{Range: ranges.Sort().Squash()}
		case strings.HasPrefix(value, "{"):
			if !strings.HasSuffix(value, "}") {
				return nil, fmt.Errorf("mesosemu: resource %q: sets must be {a,b}", part)
			}
			var items []string
			for _, it := range strings.Split(value[1:len(value)-1], ",") {
				if it = strings.TrimSpace(it); it != "" {
					items = append(items, it)
				}
			}
			r.Type = mesos.SET.Enum()
			r.Set = &mesos.Value_Set{Item: items}
		default:
			f, err := strconv.ParseFloat(value, 64)
			if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("mesosemu: resource %q: expected a non-negative number", part)
			}
			r.Type = mesos.SCALAR.Enum()
			r.Scalar = &mesos.Value_Scalar{Value: f}
		}
		out.Add1(r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("mesosemu: resources %q: no resources", spec)
	}
	return out, nil
}

// ParseAttributes parses the agent --attributes form "rack:r1;os:centos7".
// Numbers become SCALAR attributes, [a-b] RANGES, everything else TEXT.
func ParseAttributes(spec string) ([]mesos.Attribute, error) {
	var out []mesos.Attribute
	for _, part := range strings.Split(spec, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("mesosemu: attribute %q: expected name:value", part)
		}
		a := mesos.Attribute{Name: name}
		if f, err := strconv.ParseFloat(value, 64); err == nil {
			a.Type = mesos.SCALAR
			a.Scalar = &mesos.Value_Scalar{Value: f}
		} else {
			a.Type = mesos.TEXT
			a.Text = &mesos.Value_Text{Value: value}
		}
		out = append(out, a)
	}
	return out, nil
}

// ParseImageMapping parses one --image flag: "IMAGE=PROGRAM [ARGS...]".
func ParseImageMapping(s string) (string, []string, error) {
	image, prog, ok := strings.Cut(s, "=")
	image = strings.TrimSpace(image)
	fields := strings.Fields(prog)
	if !ok || image == "" || len(fields) == 0 {
		return "", nil, fmt.Errorf("mesosemu: --image %q: expected IMAGE=PROGRAM", s)
	}
	return image, fields, nil
}

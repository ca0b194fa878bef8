package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/executor"
	"github.com/jenkins-mesos/jenkins-mesos/offers"
)

// Retention says when an agent goes away.
type Retention int

const (
	// RetainOnce: one build per agent (the default). Once its node is
	// seen busy it is marked offline so nothing else lands on it; once
	// idle again it is deleted and its task killed.
	RetainOnce Retention = iota
	// RetainIdle keeps the agent for more builds until it has been idle
	// for IdleTimeout.
	RetainIdle
)

// Template is an agent template: the slice it asks Mesos for and how its
// Jenkins node and container look.
type Template struct {
	Name        string
	Labels      []string // the node's label set (atoms)
	CPUs        float64
	Mem         float64 // MB
	Disk        float64 // MB
	Ports       int     // host ports taken from the offer (mapped one to one on BRIDGE)
	Executors   int
	RemoteFS    string
	WebSocket   bool
	Container   executor.Container
	Constraints []offers.Constraint
	// MaxInstances caps this template's agents (0: only the global cap).
	MaxInstances int
	// MinIdle is the warm pool: this many agents' worth of executors are
	// kept free beyond the waiting builds (created ahead of demand, and
	// spared by the unused and idle timeouts), so that a new build starts
	// on an agent already online. 0: agents only for waiting builds.
	MinIdle        int
	Retention      Retention
	IdleTimeout    time.Duration
	ConnectTimeout time.Duration
	KillGrace      time.Duration
	Role           string // "" uses any offer the framework gets
	// Images lets a build choose its image: a build whose label
	// expression has an atom image=<ref>, with <ref> matching one of these
	// patterns ('*' matches any run of characters, '/' and ':' included),
	// and is satisfied by the template's labels plus that atom, gets an
	// agent of this template running <ref>, labelled with the atom too.
	// Empty: the template's Container.Image only.
	Images []string

	// MaxCPUs and MaxMem (MB) let a build choose its agent's size with a
	// cpus=<n> or mem=<MB> atom, up to these (0: builds cannot).
	MaxCPUs, MaxMem float64

	// A template derived for what builds chose (Images, MaxCPUs,
	// MaxMem): base is the index of the template it was derived from,
	// variant the atoms chosen.
	derived bool
	base    int
	variant []string
}

// choosable tells whether builds may choose their agent's image or size
// (Images, MaxCPUs, MaxMem) on this template.
func (t *Template) choosable() bool {
	return !t.derived && (len(t.Images) > 0 || t.MaxCPUs > 0 || t.MaxMem > 0)
}

// allows tells whether a template with Images lets a build run ref.
func (t *Template) allows(ref string) bool {
	for _, p := range t.Images {
		if globMatch(p, ref) {
			return true
		}
	}
	return false
}

// globMatch matches s against p, in which '*' stands for any run of
// characters (none included) and every other character for itself.
func globMatch(p, s string) bool {
	star := strings.IndexByte(p, '*')
	if star < 0 {
		return p == s
	}
	if !strings.HasPrefix(s, p[:star]) {
		return false
	}
	for i := star; i <= len(s); i++ {
		if globMatch(p[star+1:], s[i:]) {
			return true
		}
	}
	return false
}

// Config is everything the core needs to decide.
type Config struct {
	FrameworkName string
	JenkinsURL    string
	Templates     []Template
	// MaxAgents caps all agents together (0: no cap).
	MaxAgents int
	Strategy  offers.Strategy
	// ProvisionDuringQuietPeriod counts builds still in their quiet
	// period as demand, so the agent starts while Jenkins waits.
	ProvisionDuringQuietPeriod bool
	// RefuseLong is the DECLINE filter when nothing waits; RefuseShort
	// when demand exists that the offers did not fit.
	RefuseLong, RefuseShort time.Duration
	// ReviveDebounce is the least time between two REVIVE calls.
	ReviveDebounce time.Duration
	// OrphanGrace is how long after a subscription the core waits for
	// reconciliation and the node list before it kills tasks without a
	// node or deletes nodes without a task (launches in flight included).
	OrphanGrace time.Duration
	// SurplusGrace is how long a one-shot agent that is online, has run no
	// build and is wanted by no waiting build is kept before it steps down
	// (default 10 s): room for Jenkins to assign the build it came for.
	SurplusGrace time.Duration
	// ReconcileInterval is how often an implicit reconciliation asks the
	// master for every task of the framework (default 15 min), so that
	// tasks and nodes left without each other are found while running,
	// not only at a start.
	ReconcileInterval time.Duration
	// UnreachableGrace is how long an agent whose task is TASK_UNREACHABLE
	// (its Mesos agent partitioned) keeps its node: the agent may come
	// back with the task (PARTITION_AWARE). Then its task is killed and
	// its node deleted (default 5 min).
	UnreachableGrace time.Duration
	// MaintenanceHorizon: an offer whose agent is scheduled for
	// maintenance (its unavailability window) within this much of now, or
	// is in the window, gets no new agent and is declined: a build started
	// there would be cut when the machine goes down. 0 refuses only
	// windows that have begun (the 1.x plugin's rule); the program's
	// default (limits.maintenance_horizon) is 10 min.
	MaintenanceHorizon time.Duration
	// HoldForCreate is the longest an offer is kept while the nodes that
	// could use it are being created (default 2 s); then it is declined.
	HoldForCreate time.Duration
	// CreateBackoff is the first wait after a failed node creation; it
	// doubles per consecutive failure up to CreateBackoffMax.
	CreateBackoff, CreateBackoffMax time.Duration
	// LaunchBackoff is the wait after a template's launch fails (its task
	// ended before its agent connected, or it never connected); it
	// doubles per failure in a row up to LaunchBackoffMax (1 s → 1 min).
	LaunchBackoff, LaunchBackoffMax time.Duration
	// BreakerThreshold launch failures in a row (default 5) open the
	// template's circuit breaker: no agent is created for BreakerCooldown
	// (default 5 min), then one probe at a time until one connects. A
	// configuration error opens it at the first failure.
	BreakerThreshold int
	BreakerCooldown  time.Duration
}

// WithDefaults fills unset durations with the documented defaults.
func (c Config) WithDefaults() Config {
	if c.RefuseLong == 0 {
		c.RefuseLong = 300 * time.Second
	}
	if c.RefuseShort == 0 {
		c.RefuseShort = time.Second
	}
	if c.ReviveDebounce == 0 {
		c.ReviveDebounce = time.Second
	}
	if c.OrphanGrace == 0 {
		c.OrphanGrace = 60 * time.Second
	}
	if c.SurplusGrace == 0 {
		c.SurplusGrace = 10 * time.Second
	}
	if c.ReconcileInterval == 0 {
		c.ReconcileInterval = 15 * time.Minute
	}
	if c.UnreachableGrace == 0 {
		c.UnreachableGrace = 5 * time.Minute
	}
	if c.HoldForCreate == 0 {
		c.HoldForCreate = 2 * time.Second
	}
	if c.CreateBackoff == 0 {
		c.CreateBackoff = time.Second
	}
	if c.CreateBackoffMax == 0 {
		c.CreateBackoffMax = time.Minute
	}
	if c.LaunchBackoff == 0 {
		c.LaunchBackoff = time.Second
	}
	if c.LaunchBackoffMax == 0 {
		c.LaunchBackoffMax = time.Minute
	}
	if c.BreakerThreshold <= 0 {
		c.BreakerThreshold = 5
	}
	if c.BreakerCooldown == 0 {
		c.BreakerCooldown = 5 * time.Minute
	}
	for i := range c.Templates {
		t := &c.Templates[i]
		if t.Executors <= 0 {
			t.Executors = 1
		}
		if t.ConnectTimeout == 0 {
			t.ConnectTimeout = 3 * time.Minute
		}
		if t.RemoteFS == "" {
			t.RemoteFS = executor.DefaultWorkDir
		}
		if t.KillGrace == 0 {
			t.KillGrace = 30 * time.Second // SIGTERM, then SIGKILL after this
		}
		if t.Retention == RetainIdle && t.IdleTimeout == 0 {
			t.IdleTimeout = 10 * time.Minute
		}
	}
	return c
}

// Validate reports the first thing in the configuration the core cannot
// work with, naming it.
func (c Config) Validate() error {
	if len(c.Templates) == 0 {
		return fmt.Errorf("scheduler: templates: at least one template is required")
	}
	seen := map[string]bool{}
	for i, t := range c.Templates {
		switch {
		case t.Name == "":
			return fmt.Errorf("scheduler: templates[%d].name: required", i)
		case seen[t.Name]:
			return fmt.Errorf("scheduler: templates[%d].name %q: used twice", i, t.Name)
		case len(t.Labels) == 0:
			return fmt.Errorf("scheduler: templates[%d] (%s).labels: at least one label is required", i, t.Name)
		case t.CPUs <= 0 || t.Mem <= 0:
			return fmt.Errorf("scheduler: templates[%d] (%s): cpus and mem must be positive", i, t.Name)
		case t.Container.Image == "":
			return fmt.Errorf("scheduler: templates[%d] (%s).image: required", i, t.Name)
		case slices.Contains(t.Images, ""):
			return fmt.Errorf("scheduler: templates[%d] (%s).images: an empty pattern", i, t.Name)
		case t.MinIdle < 0 || (t.MaxInstances > 0 && t.MinIdle > t.MaxInstances):
			return fmt.Errorf("scheduler: templates[%d] (%s).min_idle %d: must be from 0 to max_instances (%d)", i, t.Name, t.MinIdle, t.MaxInstances)
		}
		seen[t.Name] = true
	}
	return nil
}

func (t *Template) need() offers.Amounts {
	return offers.Amounts{CPUs: offers.ToMilli(t.CPUs), Mem: offers.ToMilli(t.Mem), Disk: offers.ToMilli(t.Disk)}
}

// serves tells whether the template's label set satisfies expr.
func (t *Template) serves(expr *labelExpr) bool {
	return expr.matches(func(atom string) bool {
		for _, l := range t.Labels {
			if l == atom {
				return true
			}
		}
		return false
	})
}

package executor

import (
	"sort"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// Network is the Docker network mode of an agent container.
type Network string

const (
	// Host shares the Mesos agent's network: the inbound agent reaches
	// Jenkins as the host does. The default.
	Host Network = "host"
	// Bridge gives the container its own network; ports come from the
	// offer and are mapped one to one.
	Bridge Network = "bridge"
)

// Volume is a host path mounted into the container.
type Volume struct {
	HostPath      string
	ContainerPath string
	ReadOnly      bool
}

// Container is how an agent template runs: the image and its Docker
// options, the extra environment and what the Mesos fetcher puts in the
// sandbox first.
type Container struct {
	Image      string
	Network    Network
	Volumes    []Volume
	Parameters map[string]string // docker run --key=value
	ForcePull  bool
	// Env is added to the agent's environment after the JENKINS_*
	// variables the framework sets (which it may not name).
	Env map[string]string
	// URIs are fetched into the task's sandbox before the container
	// starts (mounted at $MESOS_SANDBOX inside it). A docker.tar.gz
	// holding .docker/config.json is how the Docker containerizer pulls
	// from a private registry.
	URIs []URI
}

// URI is one file for the Mesos fetcher (CommandInfo.URI). Extract is
// Mesos' default: an archive (.tar, .tgz, .tar.gz, .tar.bz2, .tar.xz,
// .zip, .gz) is unpacked into the sandbox.
type URI struct {
	Value      string
	Extract    bool
	Executable bool // chmod 755 (then it is not extracted)
	Cache      bool // through the agent's fetcher cache
	OutputFile string
}

// Reserved are the environment variables the framework sets on every
// agent; a template's Env may not set them.
var Reserved = []string{"JENKINS_URL", "JENKINS_SECRET", "JENKINS_AGENT_NAME", "JENKINS_AGENT_WORKDIR", "JENKINS_WEB_SOCKET"}

// Agent is one inbound agent to launch: everything the TaskInfo needs.
type Agent struct {
	Name          string // the Jenkins node name, also the Mesos task ID
	Template      string
	FrameworkName string
	AgentID       string // the Mesos agent the offer came from
	JenkinsURL    string
	Secret        string
	WorkDir       string
	WebSocket     bool
	Resources     mesos.Resources // what the placement took, with roles
	Ports         []uint64        // concrete ports taken (BRIDGE maps them)
	Container     Container
	KillGrace     time.Duration
}

// Label keys on every task, so tasks and nodes can be paired again from
// the two sources of truth.
const (
	LabelFramework = "jenkins-mesos.framework"
	LabelTemplate  = "jenkins-mesos.template"
	LabelNode      = "jenkins-mesos.node"
)

// DefaultWorkDir is the inbound-agent image's AGENT_WORKDIR.
const DefaultWorkDir = "/home/jenkins/agent"

// TaskInfo is the Mesos task of an inbound agent: a Docker container of
// the template's image whose entrypoint (shell=false keeps it) reads the
// JENKINS_* variables the jenkins/inbound-agent image documents.
func TaskInfo(a Agent) mesos.TaskInfo {
	workDir := a.WorkDir
	if workDir == "" {
		workDir = DefaultWorkDir
	}
	env := []mesos.Environment_Variable{
		envVar("JENKINS_URL", a.JenkinsURL),
		envVar("JENKINS_SECRET", a.Secret),
		envVar("JENKINS_AGENT_NAME", a.Name),
		envVar("JENKINS_AGENT_WORKDIR", workDir),
	}
	if a.WebSocket {
		env = append(env, envVar("JENKINS_WEB_SOCKET", "true"))
	}
	for _, k := range sortedKeys(a.Container.Env) {
		env = append(env, envVar(k, a.Container.Env[k]))
	}
	shell := false
	network := mesos.ContainerInfo_DockerInfo_HOST
	if a.Container.Network == Bridge {
		network = mesos.ContainerInfo_DockerInfo_BRIDGE
	}
	docker := &mesos.ContainerInfo_DockerInfo{Image: a.Container.Image, Network: &network}
	if a.Container.ForcePull {
		force := true
		docker.ForcePullImage = &force
	}
	if network == mesos.ContainerInfo_DockerInfo_BRIDGE {
		tcp := "tcp"
		for _, p := range a.Ports {
			docker.PortMappings = append(docker.PortMappings, mesos.ContainerInfo_DockerInfo_PortMapping{
				HostPort: uint32(p), ContainerPort: uint32(p), Protocol: &tcp})
		}
	}
	for _, k := range sortedKeys(a.Container.Parameters) {
		docker.Parameters = append(docker.Parameters, mesos.Parameter{Key: k, Value: a.Container.Parameters[k]})
	}
	ct := mesos.ContainerInfo_DOCKER
	ci := &mesos.ContainerInfo{Type: &ct, Docker: docker}
	if network != mesos.ContainerInfo_DockerInfo_HOST {
		host := a.Name // as the Jenkins Mesos plugin does, for non-HOST networks
		ci.Hostname = &host
	}
	for _, v := range a.Container.Volumes {
		mode := mesos.RW
		if v.ReadOnly {
			mode = mesos.RO
		}
		hp := v.HostPath
		ci.Volumes = append(ci.Volumes, mesos.Volume{Mode: &mode, ContainerPath: v.ContainerPath, HostPath: &hp})
	}
	ti := mesos.TaskInfo{
		Name:      a.Name,
		TaskID:    mesos.TaskID{Value: a.Name},
		AgentID:   mesos.AgentID{Value: a.AgentID},
		Resources: a.Resources,
		Command: &mesos.CommandInfo{
			Shell:       &shell,
			Environment: &mesos.Environment{Variables: env},
			URIs:        commandURIs(a.Container.URIs),
		},
		Container: ci,
		Labels: &mesos.Labels{Labels: []mesos.Label{
			label(LabelFramework, a.FrameworkName),
			label(LabelTemplate, a.Template),
			label(LabelNode, a.Name),
		}},
	}
	if a.KillGrace > 0 {
		ti.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: int64(a.KillGrace)}}
	}
	return ti
}

func commandURIs(us []URI) []mesos.CommandInfo_URI {
	var out []mesos.CommandInfo_URI
	for _, u := range us {
		cu := mesos.CommandInfo_URI{Value: u.Value, Extract: ptr(u.Extract)}
		if u.Executable {
			cu.Executable = ptr(true)
		}
		if u.Cache {
			cu.Cache = ptr(true)
		}
		if u.OutputFile != "" {
			cu.OutputFile = ptr(u.OutputFile)
		}
		out = append(out, cu)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func envVar(name, value string) mesos.Environment_Variable {
	t := mesos.Environment_Variable_VALUE
	return mesos.Environment_Variable{Name: name, Type: &t, Value: &value}
}

func label(k, v string) mesos.Label {
	return mesos.Label{Key: k, Value: &v}
}

// ParseNetwork reads a template's network: "host" (default) or "bridge".
func ParseNetwork(s string) (Network, bool) {
	switch strings.ToLower(s) {
	case "", "host":
		return Host, true
	case "bridge":
		return Bridge, true
	}
	return "", false
}

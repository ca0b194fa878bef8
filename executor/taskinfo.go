package executor

import (
	"slices"
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

// Containerizer is the Mesos containerizer that runs an agent's image.
type Containerizer string

const (
	// Docker is the Docker containerizer: `docker run` on the Mesos
	// agent, with the Docker options. The default.
	Docker Containerizer = "docker"
	// Mesos is the Mesos (universal) containerizer: the agent pulls the
	// Docker image itself and runs it without a Docker daemon. Host
	// network only; Docker options do not apply.
	Mesos Containerizer = "mesos"
)

// ParseContainerizer reads a template's containerizer: "docker"
// (default) or "mesos".
func ParseContainerizer(s string) (Containerizer, bool) {
	switch strings.ToLower(s) {
	case "", "docker":
		return Docker, true
	case "mesos":
		return Mesos, true
	}
	return "", false
}

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
	Containerizer Containerizer // "" is Docker
	Image         string
	Network       Network
	Volumes       []Volume
	Parameters    map[string]string // docker run --key=value
	ForcePull     bool
	// Env is added to the agent's environment after the JENKINS_*
	// variables the framework sets (which it may not name).
	Env map[string]string
	// CPUsLimit and MemLimit (MB) let the agent use more than its slice
	// when the Mesos agent has it to spare (TaskInfo.limits, Mesos 1.10):
	// 0 is no limit beyond the request, +Inf is unlimited.
	CPUsLimit, MemLimit float64
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
		Container: containerInfo(a),
		Labels: &mesos.Labels{Labels: []mesos.Label{
			label(LabelFramework, a.FrameworkName),
			label(LabelTemplate, a.Template),
			label(LabelNode, a.Name),
		}},
	}
	if a.Container.CPUsLimit > 0 || a.Container.MemLimit > 0 {
		ti.Limits = map[string]mesos.Value_Scalar{}
		if v := a.Container.CPUsLimit; v > 0 {
			ti.Limits["cpus"] = mesos.Value_Scalar{Value: v}
		}
		if v := a.Container.MemLimit; v > 0 {
			ti.Limits["mem"] = mesos.Value_Scalar{Value: v}
		}
	}
	if a.KillGrace > 0 {
		ti.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: int64(a.KillGrace)}}
	}
	return ti
}

// containerInfo runs the image: a DOCKER container with the Docker
// options, or a MESOS one whose image the agent provisions (shell=false
// and no command value: the image's entrypoint runs, as with Docker).
func containerInfo(a Agent) *mesos.ContainerInfo {
	var volumes []mesos.Volume
	for _, v := range a.Container.Volumes {
		mode := mesos.RW
		if v.ReadOnly {
			mode = mesos.RO
		}
		hp := v.HostPath
		volumes = append(volumes, mesos.Volume{Mode: &mode, ContainerPath: v.ContainerPath, HostPath: &hp})
	}
	if a.Container.Containerizer == Mesos {
		img := &mesos.Image{Type: mesos.Image_DOCKER.Enum(), Docker: &mesos.Image_Docker{Name: a.Container.Image}}
		if a.Container.ForcePull {
			img.Cached = ptr(false)
		}
		return &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), Mesos: &mesos.ContainerInfo_MesosInfo{Image: img}, Volumes: volumes}
	}
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
	ci := &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(), Docker: docker, Volumes: volumes}
	if network != mesos.ContainerInfo_DockerInfo_HOST {
		host := a.Name // as the Jenkins Mesos plugin does, for non-HOST networks
		ci.Hostname = &host
	}
	return ci
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
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // sort.Strings would box the slice: an allocation per TaskInfo
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

package mesosemu

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// procSpec is what an agent runs for a task.
type procSpec struct {
	path   string
	args   []string // argv, argv[0] included
	env    []string
	docker bool
}

// launchFailure is a containerizer error, reported as TASK_FAILED by the
// agent (these are not master validation errors).
type launchFailure struct {
	reason  mesos.TaskStatus_Reason
	message string
}

func containerFailure(format string, args ...any) *launchFailure {
	return &launchFailure{reason: mesos.REASON_CONTAINER_LAUNCH_FAILED, message: fmt.Sprintf(format, args...)}
}

// processSpecLocked turns a TaskInfo into a process, the way the command
// executor or the Docker containerizer would run it.
func (c *Cluster) processSpecLocked(t *Task) (*procSpec, *launchFailure) {
	info := t.info
	if info.Executor != nil && info.Command == nil {
		return nil, &launchFailure{reason: mesos.REASON_EXECUTOR_TERMINATED,
			message: "Custom executors are not supported by the emulated agent; use a CommandInfo task"}
	}
	cmd := info.Command
	if cmd == nil && info.Executor != nil {
		cmd = info.Executor.Command
	}
	if cmd == nil {
		cmd = &mesos.CommandInfo{}
	}
	ci := info.Container
	if ci != nil && ci.Type != nil && *ci.Type == mesos.ContainerInfo_DOCKER {
		return c.dockerSpecLocked(t, ci, cmd)
	}
	if ci != nil && ci.Mesos != nil && ci.Mesos.Image != nil && ci.Mesos.Image.Docker != nil {
		// The Mesos containerizer running a Docker image: same image stand-in.
		return c.imageSpecLocked(t, ci.Mesos.Image.Docker.Name, cmd, false)
	}
	env := append(os.Environ(), c.pathEnv())
	env = append(env, taskEnv(cmd)...)
	if cmd.GetShell() {
		if cmd.GetValue() == "" {
			return nil, &launchFailure{reason: mesos.REASON_COMMAND_EXECUTOR_FAILED, message: "Shell specified but no command value provided"}
		}
		return &procSpec{path: "/bin/sh", args: []string{"sh", "-c", cmd.GetValue()}, env: env}, nil
	}
	path, err := lookPathIn(cmd.GetValue(), c.pathEnv())
	if err != nil {
		return nil, &launchFailure{reason: mesos.REASON_COMMAND_EXECUTOR_FAILED, message: fmt.Sprintf("Failed to launch command: %v", err)}
	}
	args := cmd.Arguments
	if len(args) == 0 {
		args = []string{cmd.GetValue()}
	}
	return &procSpec{path: path, args: args, env: env}, nil
}

func (c *Cluster) pathEnv() string {
	return "PATH=" + c.shimDir + ":" + os.Getenv("PATH")
}

func taskEnv(cmd *mesos.CommandInfo) []string {
	var env []string
	if cmd.Environment != nil {
		for _, v := range cmd.Environment.Variables {
			env = append(env, v.Name+"="+v.GetValue())
		}
	}
	return env
}

func lookPathIn(name, pathEnv string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("no command value")
	}
	if strings.Contains(name, "/") {
		return exec.LookPath(name)
	}
	for _, dir := range strings.Split(strings.TrimPrefix(pathEnv, "PATH="), ":") {
		if p, err := exec.LookPath(dir + "/" + name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("executable file '%s' not found in $PATH", name)
}

// dockerSpecLocked applies the Docker containerizer's checks, then maps the
// image to its stand-in program with `docker run` entrypoint semantics.
func (c *Cluster) dockerSpecLocked(t *Task, ci *mesos.ContainerInfo, cmd *mesos.CommandInfo) (*procSpec, *launchFailure) {
	d := ci.Docker
	network := d.GetNetwork()
	for _, p := range d.Parameters {
		if p.Key == "net" || p.Key == "network" {
			switch p.Value {
			case "host":
				network = mesos.ContainerInfo_DockerInfo_HOST
			case "bridge":
				network = mesos.ContainerInfo_DockerInfo_BRIDGE
			case "none":
				network = mesos.ContainerInfo_DockerInfo_NONE
			default:
				network = mesos.ContainerInfo_DockerInfo_USER
			}
		}
	}
	if len(d.PortMappings) > 0 && network != mesos.ContainerInfo_DockerInfo_BRIDGE && network != mesos.ContainerInfo_DockerInfo_USER {
		return nil, containerFailure("Failed to launch container: Port mappings are only supported for bridge and user-defined networks")
	}
	for _, pm := range d.PortMappings {
		if !portInResources(t.resources, uint64(pm.HostPort)) {
			return nil, containerFailure("Failed to launch container: Port [%d] not included in resources", pm.HostPort)
		}
	}
	if ci.Hostname != nil && network == mesos.ContainerInfo_DockerInfo_HOST {
		return nil, containerFailure("Failed to launch container: Unable to set hostname with host network mode")
	}
	return c.imageSpecLocked(t, d.Image, cmd, true)
}

func (c *Cluster) imageSpecLocked(t *Task, image string, cmd *mesos.CommandInfo, docker bool) (*procSpec, *launchFailure) {
	if cmd.GetShell() && cmd.GetValue() == "" {
		return nil, containerFailure("Failed to launch container: Shell specified but no command value provided")
	}
	prog, ok := c.imageProgram(image)
	if !ok || c.consumeImageFault(image) {
		return nil, containerFailure("Failed to launch container: Failed to run 'docker -H unix:///var/run/docker.sock pull %s': exit status 1; stderr='Error response from daemon: pull access denied for %s, repository does not exist or may require 'docker login': denied: requested access to the resource is denied\n'", image, imageRepository(image))
	}
	env := []string{c.pathEnv(), "HOME=" + os.Getenv("HOME"), "MESOS_CONTAINER_NAME=mesos-" + uuidString(newUUID())}
	env = append(env, taskEnv(cmd)...)
	if cmd.GetShell() {
		// --entrypoint /bin/sh, arguments -c <value>.
		return &procSpec{path: "/bin/sh", args: []string{"sh", "-c", cmd.GetValue()}, env: env, docker: docker}, nil
	}
	args := append([]string(nil), prog...)
	if cmd.Value != nil {
		args = append(args, cmd.GetValue())
	}
	args = append(args, cmd.Arguments...)
	path, err := lookPathIn(prog[0], c.pathEnv())
	if err != nil {
		return nil, containerFailure("Failed to launch container: stand-in for image '%s': %v", image, err)
	}
	return &procSpec{path: path, args: args, env: env, docker: docker}, nil
}

// imageProgram finds the stand-in of an image: the exact name first, then
// the repository without its tag, with docker.io/ and library/ dropped.
func (c *Cluster) imageProgram(image string) ([]string, bool) {
	for _, name := range []string{image, imageRepository(image)} {
		if p, ok := c.cfg.Images[name]; ok {
			return p, true
		}
		short := strings.TrimPrefix(strings.TrimPrefix(name, "docker.io/"), "library/")
		if p, ok := c.cfg.Images[short]; ok {
			return p, true
		}
	}
	return nil, false
}

func imageRepository(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	slash := strings.LastIndexByte(image, '/')
	if colon := strings.LastIndexByte(image, ':'); colon > slash {
		return image[:colon]
	}
	return image
}

func (c *Cluster) consumeImageFault(image string) bool {
	for _, name := range []string{image, imageRepository(image)} {
		if n := c.imageFaults[name]; n != 0 {
			if n > 0 {
				c.imageFaults[name] = n - 1
			}
			return true
		}
	}
	return false
}

func portInResources(rs mesos.Resources, port uint64) bool {
	for _, r := range rs {
		if r.Name != "ports" || r.Ranges == nil {
			continue
		}
		for _, rg := range r.Ranges.Range {
			if port >= rg.Begin && port <= rg.End {
				return true
			}
		}
	}
	return false
}

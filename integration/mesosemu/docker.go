package mesosemu

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	// executor: the failure comes from the executor once it runs
	// (TASK_STARTING, then TASK_FAILED from SOURCE_EXECUTOR, no reason),
	// not from the containerizer before it.
	executor bool
}

// runOptionsFailure is the Docker executor failing to build `docker run`'s
// options (Docker::RunOptions::create): a configuration error.
func runOptionsFailure(format string, args ...any) *launchFailure {
	return &launchFailure{message: "Failed to create docker run options: " + fmt.Sprintf(format, args...), executor: true}
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
	cmd := taskCommand(&info)
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
			return nil, &launchFailure{message: "Shell specified but no command value provided", executor: true}
		}
		return &procSpec{path: "/bin/sh", args: []string{"sh", "-c", cmd.GetValue()}, env: env}, nil
	}
	path, err := lookPathIn(cmd.GetValue(), c.pathEnv())
	if err != nil {
		return nil, &launchFailure{message: fmt.Sprintf("Failed to launch command: %v", err), executor: true}
	}
	args := cmd.Arguments
	if len(args) == 0 {
		args = []string{cmd.GetValue()}
	}
	return &procSpec{path: path, args: args, env: env}, nil
}

// taskCommand is the CommandInfo that runs a task: its own, or its
// executor's.
func taskCommand(info *mesos.TaskInfo) *mesos.CommandInfo {
	cmd := info.Command
	if cmd == nil && info.Executor != nil {
		cmd = info.Executor.Command
	}
	if cmd == nil {
		cmd = &mesos.CommandInfo{}
	}
	return cmd
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

// dockerSpecLocked is the Docker containerizer: the image is pulled first
// (a failed pull is the containerizer's TASK_FAILED with
// REASON_CONTAINER_LAUNCH_FAILED); then the Docker executor builds the run
// options (src/docker/docker.cpp RunOptions::create) and runs the
// container; `docker run` refusing an unknown option exits 125.
func (c *Cluster) dockerSpecLocked(t *Task, ci *mesos.ContainerInfo, cmd *mesos.CommandInfo) (*procSpec, *launchFailure) {
	d := ci.Docker
	if fail := c.pullLocked(d.Image, t.sandbox, true); fail != nil {
		return nil, fail
	}
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
			break
		}
	}
	if ci.Hostname != nil && network == mesos.ContainerInfo_DockerInfo_HOST {
		return nil, runOptionsFailure("Unable to set hostname with host network mode")
	}
	if len(d.PortMappings) > 0 {
		if network == mesos.ContainerInfo_DockerInfo_HOST || network == mesos.ContainerInfo_DockerInfo_NONE {
			return nil, runOptionsFailure("Port mappings are only supported for bridge and user-defined networks")
		}
		if !hasPorts(t.resources) {
			return nil, runOptionsFailure("Port mappings require port resources")
		}
		for _, pm := range d.PortMappings {
			if !portInResources(t.resources, uint64(pm.HostPort)) {
				return nil, runOptionsFailure("Port [%d] not included in resources", pm.HostPort)
			}
		}
	}
	for _, v := range ci.Volumes {
		switch {
		case v.HostPath != nil:
			if !strings.HasPrefix(v.GetHostPath(), "/") && !strings.HasPrefix(v.ContainerPath, "/") {
				return nil, runOptionsFailure("Both host_path '%s' and container_path '%s' of a volume are relative", v.GetHostPath(), v.ContainerPath)
			}
		case v.Source == nil:
			return nil, runOptionsFailure("Host path or volume source is required")
		}
	}
	for _, p := range d.Parameters {
		if p.Key != "net" && p.Key != "network" && !dockerRunFlags[p.Key] {
			return nil, &launchFailure{message: "Container exited with status 125", executor: true}
		}
	}
	return c.imageSpecLocked(t, d.Image, cmd, true)
}

// dockerRunFlags are `docker run` options (long names) that parameters
// may name; any other key makes `docker run` fail with "unknown flag".
var dockerRunFlags = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(`add-host annotation attach blkio-weight cap-add cap-drop cgroup-parent cgroupns cidfile cpu-period
		cpu-quota cpu-rt-period cpu-rt-runtime cpu-shares cpus cpuset-cpus cpuset-mems detach device device-cgroup-rule
		device-read-bps device-write-bps dns dns-opt dns-option dns-search domainname entrypoint env env-file expose gpus
		group-add health-cmd health-interval health-retries health-start-period health-timeout hostname init interactive
		ip ip6 ipc isolation kernel-memory label label-file link link-local-ip log-driver log-opt mac-address memory
		memory-reservation memory-swap memory-swappiness mount name no-healthcheck oom-kill-disable oom-score-adj pid
		pids-limit platform privileged publish publish-all pull read-only restart rm runtime security-opt shm-size
		sig-proxy stop-signal stop-timeout storage-opt sysctl tmpfs tty ulimit user userns uts volume volume-driver
		volumes-from workdir`) {
		m[f] = true
	}
	return m
}()

// pullLocked is the containerizer's image pull: an image with no stand-in
// (or made unpullable by a fault) fails the launch, and so does a private
// one (Config.PrivateImages) unless home holds a Docker config with its
// registry's credentials. The Docker containerizer runs `docker pull`
// with HOME set to the sandbox (src/docker/docker.cpp Docker::pull), so a
// fetched .docker/config.json or .dockercfg is what logs it in.
//
// The Mesos containerizer (docker false) pulls with its own registry
// client (provisioner/docker/registry_puller.cpp, uri/fetchers/docker.cpp)
// and does not look in the sandbox: a registry that refuses it answers
// the manifest request with 401. Its credentials come from the agent's
// --docker_config, which the emulated agents do not have.
func (c *Cluster) pullLocked(image, home string, docker bool) *launchFailure {
	pullFailed := func(stderr string) *launchFailure {
		if !docker {
			return containerFailure("Failed to launch container: Unexpected HTTP response '401 Unauthorized' when trying to get the manifest")
		}
		return containerFailure("Failed to launch container: Failed to run 'docker -H unix:///var/run/docker.sock pull %s': exit status 1; stderr='%s\n'", image, stderr)
	}
	denied := "Error response from daemon: pull access denied for " + imageRepository(image) + ", repository does not exist or may require 'docker login': denied: requested access to the resource is denied"
	if _, ok := c.imageProgram(image); !ok || c.consumeImageFault(image) {
		return pullFailed(denied)
	}
	want, private := c.imageCredentials(image)
	if !private {
		return nil
	}
	if !docker {
		return pullFailed("")
	}
	registry := imageRegistry(image)
	switch got, found := dockerConfigAuth(home, registry); {
	case !found:
		return pullFailed(denied)
	case got != want:
		return pullFailed(fmt.Sprintf("Error response from daemon: Get \"https://%s/v2/\": unauthorized: incorrect username or password", registry))
	}
	return nil
}

// imageCredentials is the user:password a private image's registry wants.
func (c *Cluster) imageCredentials(image string) (string, bool) {
	for _, name := range []string{image, imageRepository(image)} {
		if v, ok := c.cfg.PrivateImages[name]; ok {
			return v, true
		}
	}
	return "", false
}

// imageRegistry is the registry host of an image reference, as the Docker
// CLI splits it: a first component with a dot or a port, or localhost.
func imageRegistry(image string) string {
	first, _, ok := strings.Cut(image, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first
	}
	return "docker.io"
}

// dockerConfigAuth reads the credentials for registry from the Docker CLI
// configuration under home: .docker/config.json ("auths") first, then the
// old .dockercfg; keys are compared by host, as the CLI does.
func dockerConfigAuth(home, registry string) (string, bool) {
	if home == "" {
		return "", false
	}
	type entry struct {
		Auth string `json:"auth"`
	}
	var auths map[string]entry
	if b, err := os.ReadFile(filepath.Join(home, ".docker", "config.json")); err == nil {
		var cfg struct {
			Auths map[string]entry `json:"auths"`
		}
		if json.Unmarshal(b, &cfg) == nil {
			auths = cfg.Auths
		}
	} else if b, err := os.ReadFile(filepath.Join(home, ".dockercfg")); err == nil {
		_ = json.Unmarshal(b, &auths)
	}
	for key, e := range auths {
		if registryHost(key) != registry {
			continue
		}
		dec, err := base64.StdEncoding.DecodeString(e.Auth)
		if err != nil {
			return "", true
		}
		return string(dec), true
	}
	return "", false
}

// registryHost turns a config key ("https://index.docker.io/v1/",
// "registry.example.com:5000") into the registry it names.
func registryHost(key string) string {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	key, _, _ = strings.Cut(key, "/")
	switch key {
	case "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return key
}

func (c *Cluster) imageSpecLocked(t *Task, image string, cmd *mesos.CommandInfo, docker bool) (*procSpec, *launchFailure) {
	if cmd.GetShell() && cmd.GetValue() == "" {
		if docker {
			return nil, runOptionsFailure("Shell specified but no command value provided")
		}
		return nil, containerFailure("Failed to launch container: Shell specified but no command value provided")
	}
	if !docker {
		if fail := c.pullLocked(image, "", false); fail != nil {
			return nil, fail
		}
	}
	prog, _ := c.imageProgram(image)
	env := []string{c.pathEnv(), "HOME=" + os.Getenv("HOME"), "MESOS_CONTAINER_NAME=mesos-" + t.containerID}
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

func hasPorts(rs mesos.Resources) bool {
	for _, r := range rs {
		if r.Name == "ports" && r.Ranges != nil {
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

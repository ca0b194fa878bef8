package executor

import (
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden TaskInfo files")

func scalar(name string, v float64) mesos.Resource {
	star := "*"
	return mesos.Resource{Name: name, Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: v}, Role: &star}
}

// TestTaskInfoGolden compares the produced TaskInfo JSON (as mesos-go's
// JSON codec writes it to the master) with testdata/*.json.
func TestTaskInfoGolden(t *testing.T) {
	base := Agent{
		Name: "mesos-8c2e11aa", Template: "mesos", FrameworkName: "jenkins-mesos", AgentID: "a1-S0",
		JenkinsURL: "http://jenkins:8080/", Secret: "0a1b2c", WebSocket: true,
		Resources: mesos.Resources{scalar("cpus", 0.2), scalar("mem", 30)},
		Container: Container{Image: "jenkins/inbound-agent"}, KillGrace: 30 * time.Second,
	}
	bridge := base
	bridge.Name = "docker-77f00001"
	bridge.Template = "docker"
	bridge.Ports = []uint64{31005}
	star := "*"
	bridge.Resources = append(append(mesos.Resources(nil), base.Resources...), mesos.Resource{Name: "ports", Type: mesos.RANGES.Enum(), Role: &star,
		Ranges: &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: 31005, End: 31005}}}})
	bridge.Container = Container{Image: "jenkins/inbound-agent:latest-jdk17", Network: Bridge, ForcePull: true,
		Volumes:    []Volume{{HostPath: "/var/run/docker.sock", ContainerPath: "/var/run/docker.sock"}, {HostPath: "/cache", ContainerPath: "/cache", ReadOnly: true}},
		Parameters: map[string]string{"init": "true", "add-host": "jenkins:10.0.0.1"}, CPUsLimit: 2, MemLimit: 1024,
		Env: map[string]string{"JAVA_OPTS": "-Xmx256m", "HTTPS_PROXY": "http://proxy:3128"},
		URIs: []URI{{Value: "https://files.example.com/docker.tar.gz", Extract: true},
			{Value: "file:///etc/tools/setup.sh", Executable: true, Cache: true, OutputFile: "bin/setup.sh"}}}
	ucr := base
	ucr.Name = "ucr-5d0c0002"
	ucr.Template = "ucr"
	ucr.Container = Container{Containerizer: Mesos, Image: "registry.example.com/ci/agent:1.4", ForcePull: true, MemLimit: 512,
		Volumes: []Volume{{HostPath: "/srv/cache", ContainerPath: "/cache", ReadOnly: true}},
		URIs:    []URI{{Value: "https://files.example.com/settings.xml"}}}
	for name, a := range map[string]Agent{"host": base, "bridge": bridge, "mesos": ucr} {
		b, err := json.MarshalIndent(TaskInfo(a), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", name+".json")
		if *rewrite {
			if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -rewrite to create it)", err)
		}
		if strings.TrimSpace(string(want)) != strings.TrimSpace(string(b)) {
			t.Errorf("%s: TaskInfo differs from %s:\n%s", name, path, b)
		}
	}
}

func TestTaskInfoKeepsTheEntrypointAndPassesTheAgentEnvironment(t *testing.T) {
	ti := TaskInfo(Agent{Name: "n1", JenkinsURL: "http://j/", Secret: "s", Container: Container{Image: "i"}})
	if ti.Command.Shell == nil || *ti.Command.Shell {
		t.Fatal("shell must be set to false explicitly: Mesos defaults to true, which replaces the entrypoint")
	}
	got := map[string]string{}
	for _, v := range ti.Command.Environment.Variables {
		got[v.Name] = v.GetValue()
	}
	want := map[string]string{"JENKINS_URL": "http://j/", "JENKINS_SECRET": "s", "JENKINS_AGENT_NAME": "n1", "JENKINS_AGENT_WORKDIR": DefaultWorkDir}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["JENKINS_WEB_SOCKET"]; ok {
		t.Error("JENKINS_WEB_SOCKET set although the agent does not use WebSocket")
	}
	if ti.TaskID.Value != "n1" || ti.Container.GetDocker().GetNetwork() != mesos.ContainerInfo_DockerInfo_HOST || ti.Container.Hostname != nil {
		t.Errorf("task %v: want task ID = node name, HOST network and no hostname", ti)
	}
}

func TestTaskInfoAddsTheTemplateEnvironmentAfterTheAgentsOwn(t *testing.T) {
	ti := TaskInfo(Agent{Name: "n1", JenkinsURL: "http://j/", Secret: "s", WebSocket: true,
		Container: Container{Image: "i", Env: map[string]string{"Z_LAST": "z", "A_FIRST": "a", "JAVA_OPTS": "-Xmx1g"}}})
	var names []string
	for _, v := range ti.Command.Environment.Variables {
		names = append(names, v.Name+"="+v.GetValue())
	}
	want := []string{"JENKINS_URL=http://j/", "JENKINS_SECRET=s", "JENKINS_AGENT_NAME=n1", "JENKINS_AGENT_WORKDIR=" + DefaultWorkDir,
		"JENKINS_WEB_SOCKET=true", "A_FIRST=a", "JAVA_OPTS=-Xmx1g", "Z_LAST=z"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("environment\n got %v\nwant %v", names, want)
	}
	for _, r := range Reserved {
		found := false
		for _, n := range want[:5] {
			found = found || strings.HasPrefix(n, r+"=")
		}
		if !found {
			t.Errorf("Reserved lists %s, which the framework does not set", r)
		}
	}
	if len(ti.Command.URIs) != 0 {
		t.Errorf("URIs %v without any in the template", ti.Command.URIs)
	}
}

func TestTaskInfoPassesURIsToTheFetcher(t *testing.T) {
	ti := TaskInfo(Agent{Name: "n1", Container: Container{Image: "i", URIs: []URI{
		{Value: "https://x/docker.tar.gz", Extract: true},
		{Value: "/opt/tool.bin", Executable: true, OutputFile: "tool"},
		{Value: "http://x/data.tgz", Extract: false, Cache: true},
	}}})
	u := ti.Command.URIs
	if len(u) != 3 {
		t.Fatalf("URIs %v, want 3", u)
	}
	if u[0].Value != "https://x/docker.tar.gz" || !u[0].GetExtract() || u[0].GetExecutable() || u[0].OutputFile != nil {
		t.Errorf("first URI %v", u[0])
	}
	if !u[1].GetExecutable() || u[1].GetOutputFile() != "tool" {
		t.Errorf("second URI %v", u[1])
	}
	// Mesos defaults extract to true: false must be sent, not left out.
	if u[2].Extract == nil || *u[2].Extract || !u[2].GetCache() {
		t.Errorf("third URI %v: extract must be an explicit false, cache true", u[2])
	}
}

func TestTaskInfoLimits(t *testing.T) {
	ti := TaskInfo(Agent{Name: "n1", Container: Container{Image: "i"}})
	if ti.Limits != nil {
		t.Errorf("limits %v without any in the template", ti.Limits)
	}
	ti = TaskInfo(Agent{Name: "n1", Container: Container{Image: "i", CPUsLimit: math.Inf(1)}})
	if len(ti.Limits) != 1 || !math.IsInf(ti.Limits["cpus"].Value, 1) {
		t.Errorf("limits %v, want only an infinite cpus limit", ti.Limits)
	}
	b, err := ti.Marshal() // protobuf carries the infinity (JSON cannot)
	if err != nil {
		t.Fatal(err)
	}
	var back mesos.TaskInfo
	if err := back.Unmarshal(b); err != nil || !math.IsInf(back.Limits["cpus"].Value, 1) {
		t.Errorf("protobuf round trip: %v %v", back.Limits, err)
	}
}

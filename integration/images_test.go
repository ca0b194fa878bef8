package integration

import (
	"math"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBuildsChooseTheirImage: a template with images lets each job name
// its agent's image in its label (image=<ref>): the maven job runs on an
// agent of maven:3.9 (the master shows the task's Docker image), the
// plain job on the template's own image, and a job naming an image the
// template does not allow waits with that reason in /status. With
// max_cpus a job chooses its agent's CPUs (cpus=1.5) likewise.
func TestBuildsChooseTheirImage(t *testing.T) {
	agent := filepath.Join(binaries(t), "jenkins-emulator") + " agent"
	w := newWorld(t, worldOpts{
		images: []string{"maven:3.9=" + agent},
		templates: `
  - name: mesos
    labels: mesos
    cpus: 0.2
    mem: 30
    image: jenkins/inbound-agent
    images: ["maven:*"]
    max_cpus: 2
    max_instances: 10
    connect_timeout: 3m`})
	w.freestyle("maven-build", "mesos && image=maven:3.9", 20)
	w.freestyle("plain-build", "mesos", 20)
	w.freestyle("node-build", "mesos && image=node:20", 20)
	w.freestyle("big-build", "mesos && cpus=1.5", 20)
	for _, j := range []string{"maven-build", "node-build", "big-build"} {
		w.build(j)
	}
	imageOf := map[string]string{} // task ID → Docker image
	cpusOf := map[string]float64{}
	w.waitFor("the maven and plain builds", 90*time.Second, func() bool {
		for _, tk := range w.masterTasks() {
			imageOf[tk.ID] = tk.Container.Docker.Image
			cpusOf[tk.ID], _ = tk.Resources["cpus"].(float64)
		}
		if w.allSucceeded("maven-build", "big-build") && w.result("plain-build").Result == "" && len(w.nodes()) == 0 {
			// Queued once the other agents are gone: an agent made for a
			// choice carries the template's labels too, so Jenkins may
			// give it a plain build (the README says so).
			w.build("plain-build")
		}
		return w.allSucceeded("maven-build", "plain-build", "big-build")
	})
	if big := w.result("big-build").BuiltOn; cpusOf[big] != 1.5 || cpusOf[w.result("plain-build").BuiltOn] != 0.2 {
		t.Errorf("the cpus=1.5 build ran on %s with %v CPUs (want 1.5); the plain one with %v (want 0.2)", big, cpusOf[big], cpusOf[w.result("plain-build").BuiltOn])
	}
	maven, plain := w.result("maven-build").BuiltOn, w.result("plain-build").BuiltOn
	if imageOf[maven] != "maven:3.9" || imageOf[plain] != "jenkins/inbound-agent" {
		t.Errorf("maven build on %s (image %q), plain build on %s (image %q); want maven:3.9 and jenkins/inbound-agent", maven, imageOf[maven], plain, imageOf[plain])
	}
	if !strings.HasPrefix(maven, "mesos-") || len(maven) != len("mesos-")+17 {
		t.Errorf("maven agent %q: want mesos-<image hash>-<id>", maven)
	}
	st := w.status()
	found := false
	for _, wt := range st.Waiting {
		if wt.Code == "image_not_allowed" && strings.Contains(wt.Reason, "image node:20 is not allowed by template mesos (images: maven:*)") {
			found = true
		}
	}
	if !found {
		t.Errorf("/status waiting = %+v; want the node build waiting with image_not_allowed", st.Waiting)
	}
}

// TestAgentOfAChosenSizeIsAdoptedAfterKill9: a build that chose its size
// (cpus=1.5) runs on an agent of a derived template when the framework
// is killed with SIGKILL. The restarted framework adopts that agent as
// the derived template (read back from its node's labels), launches
// nothing new, reclaims it when the build ends, and accounts for what it
// held under the derived template's name: 1.5 CPU-seconds per second.
func TestAgentOfAChosenSizeIsAdoptedAfterKill9(t *testing.T) {
	w := newWorld(t, worldOpts{templates: `
  - name: mesos
    labels: mesos
    cpus: 0.2
    mem: 30
    image: jenkins/inbound-agent
    max_cpus: 2
    max_instances: 4
    connect_timeout: 3m`})
	w.freestyle("big-build", "mesos && cpus=1.5", 200) // 10 s at time scale 20
	w.build("big-build")
	w.waitFor("the big build running", 60*time.Second, func() bool { return w.allRunning("big-build") })
	node := w.result("big-build").BuiltOn
	tmpl := node[:strings.LastIndexByte(node, '-')]
	if tmpl == "mesos" {
		t.Fatalf("the cpus=1.5 build runs on %s, not on an agent of a derived template", node)
	}
	if err := w.framework.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = w.framework.cmd.Wait()
	w.restartFramework()
	w.framework.await(t, "the adoption", regexp.MustCompile(`"msg":"adopted node `+regexp.QuoteMeta(node)))
	w.waitFor("the agent's task to report", 30*time.Second, func() bool {
		return w.metrics(w.httpListen)[`jenkins_mesos_agent_seconds_total{template="`+tmpl+`"}`] > 0
	})
	w.waitSucceeded("the big build", 60*time.Second, "big-build")
	w.waitClean()
	if n := countLaunches(w.framework.output()); n != 0 {
		t.Errorf("%d launches after the restart; want none (the agent adopted)", n)
	}
	m := w.metrics(w.httpListen)
	secs := m[`jenkins_mesos_agent_seconds_total{template="`+tmpl+`"}`]
	cpu := m[`jenkins_mesos_agent_reserved_cpu_seconds_total{template="`+tmpl+`"}`]
	if secs <= 0 || math.Abs(cpu-1.5*secs) > 1e-6*secs {
		t.Errorf("after the restart, %s: %v agent-seconds, %v CPU-seconds; want 1.5 CPU-seconds per agent-second", tmpl, secs, cpu)
	}
	if v, ok := m[`jenkins_mesos_agent_seconds_total{template="mesos"}`]; ok {
		t.Errorf("the adopted agent was counted under the base template too (%v s)", v)
	}
}

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTwoControllersShareOneCluster: two Jenkins controllers on one Mesos
// cluster, each with its own jenkins-mesos (its own framework name, role,
// state and token). Both controllers' builds get agents from the same
// agents; each framework creates nodes only in its own Jenkins and tasks
// only as itself, and both clean up.
func TestTwoControllersShareOneCluster(t *testing.T) {
	w := newWorld(t, worldOpts{})
	token2 := "tok2-" + fmt.Sprint(time.Now().UnixNano())
	j2 := start(t, []string{"JENKINS_EMULATOR_TOKEN=" + token2}, "jenkins-emulator", "--listen", "127.0.0.1:0", "--user", "admin", "--time-scale", "20")
	jenkins2 := j2.await(t, "the second Jenkins emulator", regexp.MustCompile(`at (http://\S+/) `))[1]
	cfg := strings.Replace(w.config, "url: "+w.jenkins, "url: "+jenkins2, 1)
	cfg = strings.Replace(cfg, "framework_name: jenkins-mesos", "framework_name: jenkins-mesos-ci2", 1)
	cfg = strings.Replace(cfg, `role: "*"`, `role: "ci2"`, 1)
	cfg = strings.Replace(cfg, "listen: "+w.httpListen, "listen: "+freeAddr(t), 1)
	dir := t.TempDir()
	cfg = regexp.MustCompile(`dir: \S+`).ReplaceAllString(cfg, "dir: "+filepath.Join(dir, "state"))
	path := filepath.Join(dir, "ci2.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	f2 := start(t, []string{"JENKINS_MESOS_JENKINS_TOKEN=" + token2}, "jenkins-mesos", "run", "--config", path)
	f2.await(t, "the second framework to subscribe", regexp.MustCompile(`subscribed as framework`))

	second := &world{t: t, token: token2, jenkins: jenkins2, mesos: w.mesos}
	for i := 1; i <= 3; i++ {
		w.freestyle(fmt.Sprintf("a-%d", i), "mesos", 60) // 3 s at time scale 20
		w.build(fmt.Sprintf("a-%d", i))
		second.freestyle(fmt.Sprintf("b-%d", i), "mesos", 60)
		second.build(fmt.Sprintf("b-%d", i))
	}
	w.waitFor("both controllers' builds", 90*time.Second, func() bool {
		return w.allSucceeded(numbered("a", 3)...) && second.allSucceeded(numbered("b", 3)...)
	})
	for _, c := range []struct {
		w    *world
		jobs []string
	}{{w, numbered("a", 3)}, {second, numbered("b", 3)}} {
		for _, j := range c.jobs {
			if n := c.w.result(j).BuiltOn; !strings.HasPrefix(n, "mesos-") {
				t.Errorf("%s ran on %q at %s; want an agent of that controller's framework", j, n, c.w.jenkins)
			}
		}
	}
	if a, b := countLaunches(w.framework.output()), countLaunches(f2.output()); a != 3 || b != 3 {
		t.Errorf("launches: %d by the first framework, %d by the second; want 3 each", a, b)
	}
	names := map[string]bool{}
	for _, fw := range w.state().Frameworks {
		names[fw.Name] = true
	}
	if !names["jenkins-mesos"] || !names["jenkins-mesos-ci2"] {
		t.Errorf("frameworks registered: %v; want both", names)
	}
	w.waitFor("both clean", 30*time.Second, func() bool {
		return len(w.nodes()) == 0 && len(second.nodes()) == 0 && w.liveTasks() == 0
	})
}

package scheduler

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/executor"
)

// stepper steps a core through events, handing out each Ready.
func stepper(t *testing.T, c *Core) func(Event) Ready {
	return func(ev Event) Ready {
		t.Helper()
		if err := c.Step(ev); err != nil {
			t.Fatal(err)
		}
		rd := c.Ready()
		c.Advance(rd)
		return rd
	}
}

// subscribedImagesCore is a core of imagesConfig, subscribed, with the
// nodes listed (so that demand is acted on).
func subscribedImagesCore(t *testing.T) (*Core, func(Event) Ready) {
	c := New(imagesConfig(), nil, rand.New(rand.NewPCG(1, 1)))
	step := stepper(t, c)
	step(Tick{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	step(Subscribed{FrameworkID: "fw-1"})
	step(NodesObserved{})
	return c, step
}

func imagesConfig() Config {
	return Config{FrameworkName: "jenkins-mesos", JenkinsURL: "http://jenkins/", Templates: []Template{
		{Name: "mesos", Labels: []string{"mesos"}, CPUs: 0.2, Mem: 30, Images: []string{"maven:*"}, MaxCPUs: 2, Container: executor.Container{Image: "jenkins/inbound-agent"}},
		{Name: "mesos-big", Labels: []string{"big"}, CPUs: 2, Mem: 4096, Container: executor.Container{Image: "jenkins/inbound-agent"}},
	}}
}

// The TaskInfo of a build that chose its image runs that image; the
// node's labels carry the image atom, so Jenkins gives the build to it.
func TestBuildChoosesItsImage(t *testing.T) {
	_, step := subscribedImagesCore(t)
	rd := step(QueueObserved{Items: []QueueItem{{ID: 1, Name: "j", Label: "mesos && image=maven:3.9"}}})
	if len(rd.Jenkins) != 1 || rd.Jenkins[0].Labels != "mesos image=maven:3.9" {
		t.Fatalf("node operations %+v, want one node labelled mesos image=maven:3.9", rd.Jenkins)
	}
	name := rd.Jenkins[0].Name
	step(NodeDone{Op: rd.Jenkins[0], Secret: "s"})
	rd = step(Offers{Offers: benchOffers(1)})
	var images []string
	for _, k := range rd.Calls {
		for _, op := range k.GetAccept().GetOperations() {
			for _, ti := range op.GetLaunch().GetTaskInfos() {
				if ti.TaskID.Value == name {
					images = append(images, ti.GetContainer().GetDocker().GetImage())
				}
			}
		}
	}
	if len(images) != 1 || images[0] != "maven:3.9" {
		t.Fatalf("launched images %v for %s, want [maven:3.9]", images, name)
	}
}

// After a restart the core knows no derived template until a build asks
// for its image: a node of that shape is of no template (its image is
// unknown), and the longest template name wins over a shorter prefix.
func TestTemplateOfNodeAfterARestart(t *testing.T) {
	c := New(imagesConfig(), nil, rand.New(rand.NewPCG(1, 1)))
	for name, want := range map[string]int{
		"mesos-d63e908a":          0,
		"mesos-6c1276f1-4982744f": -1, // derived for an image, not known yet
		"mesos-big-0a1b2c3d":      1,  // longest prefix, not "mesos"
		"other-0a1b2c3d":          -1,
	} {
		if got := c.templateOfNode(Node{Name: name}); got != want {
			t.Errorf("templateOfNode(%s) = %d, want %d", name, got, want)
		}
	}
	expr, _ := parseLabelExpr("mesos && image=maven:3.9")
	d := c.variantTemplate(0, "mesos && image=maven:3.9", expr)
	name := c.cfg.Templates[d].Name + "-4982744f"
	if got := c.templateOfNode(Node{Name: name}); got != d {
		t.Errorf("templateOfNode(%s) = %d, want the derived template %d", name, got, d)
	}
}

func TestImagePatterns(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"maven:*", "maven:3.9-eclipse-temurin-21", true},
		{"maven:*", "maven", false},
		{"registry.example.com/ci/*", "registry.example.com/ci/team/agent:1", true},
		{"registry.example.com/ci/*", "registry.example.com/other/agent:1", false},
		{"*/agent:*", "corp/agent:2", true},
		{"node:20", "node:20", true},
		{"node:20", "node:20-alpine", false},
		{"*", "anything/at:all", true},
	} {
		if got := globMatch(c.p, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}

// Builds that each name a new image tag do not grow the templates
// without end: unused derived templates are dropped past a bound, and
// the agents of the ones in use keep theirs.
func TestUnusedImageTemplatesAreDropped(t *testing.T) {
	c, step := subscribedImagesCore(t)
	rd := step(QueueObserved{Items: []QueueItem{{ID: 1, Name: "keep", Label: "mesos && image=maven:keep"}}})
	kept := rd.Jenkins[0].Name
	for i := 0; i < 100; i++ {
		// A build for a new tag comes and goes (cancelled before its node exists).
		label := fmt.Sprintf("mesos && image=maven:%d", i)
		rd := step(QueueObserved{Items: []QueueItem{{ID: 1, Name: "keep", Label: "mesos && image=maven:keep"}, {ID: int64(i + 2), Name: "j", Label: label}}})
		for _, op := range rd.Jenkins {
			step(NodeDone{Op: op, Secret: "s"})
		}
		rd = step(QueueObserved{Items: []QueueItem{{ID: 1, Name: "keep", Label: "mesos && image=maven:keep"}}})
		for _, op := range rd.Jenkins { // the withdrawn agent's node
			step(NodeDone{Op: op})
		}
	}
	// 2 configured, 1 in use, at most 32 idle kept, and the last one-off.
	if n := len(c.cfg.Templates); n > 36 {
		t.Fatalf("%d templates after 100 one-off image tags, want at most 36", n)
	}
	a := c.agents[kept]
	if a == nil || a.tmpl < 0 || c.cfg.Templates[a.tmpl].Container.Image != "maven:keep" {
		t.Fatalf("the kept agent %s lost its template: %+v", kept, a)
	}
}

// A restarted core adopts an agent made for a build's choice with that
// choice: its node's labels say what was chosen.
func TestRestartAdoptsAChosenAgentWithItsChoice(t *testing.T) {
	_, step := subscribedImagesCore(t)
	rd := step(QueueObserved{Items: []QueueItem{{ID: 1, Name: "j", Label: "mesos && image=maven:3.9 && cpus=1"}}})
	if len(rd.Jenkins) != 1 {
		t.Fatalf("node operations %+v, want one", rd.Jenkins)
	}
	name, labels := rd.Jenkins[0].Name, strings.Fields(rd.Jenkins[0].Labels)
	c, step := subscribedImagesCore(t) // the restart: nothing derived yet
	step(NodesObserved{Nodes: []Node{{Name: name, Online: true, Busy: 1, Executors: 1, Labels: append([]string{name}, labels...)}}})
	a := c.agents[name]
	if a == nil || a.tmpl < 0 {
		t.Fatalf("agent %s adopted as %+v, want the derived template", name, a)
	}
	if tm := c.cfg.Templates[a.tmpl]; tm.Container.Image != "maven:3.9" || tm.CPUs != 1 {
		t.Errorf("adopted with template %s (image %s, %g cpus), want maven:3.9 and 1 cpu", tm.Name, tm.Container.Image, tm.CPUs)
	}
	// Labels that do not give the name back are of no template.
	c, step = subscribedImagesCore(t)
	step(NodesObserved{Nodes: []Node{{Name: name, Online: true, Busy: 1, Executors: 1, Labels: []string{name, "mesos", "image=maven:4"}}}})
	if a := c.agents[name]; a == nil || a.tmpl != -1 {
		t.Errorf("agent %s with other labels adopted as %+v, want no template", name, a)
	}
}

// A template that lets builds choose only their size is read back after
// a restart as well: the node's cpus= atom gives its derived template.
func TestRestartAdoptsASizedAgentOfATemplateWithoutImages(t *testing.T) {
	cfg := imagesConfig()
	cfg.Templates[0].Images = nil
	c := New(cfg, nil, rand.New(rand.NewPCG(1, 1)))
	step := stepper(t, c)
	step(Tick{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	step(Subscribed{FrameworkID: "fw-1"})
	step(NodesObserved{})
	rd := step(QueueObserved{Items: []QueueItem{{ID: 1, Name: "j", Label: "mesos && cpus=2"}}})
	name, labels := rd.Jenkins[0].Name, strings.Fields(rd.Jenkins[0].Labels)
	restarted := New(cfg, nil, rand.New(rand.NewPCG(2, 2)))
	step = stepper(t, restarted)
	step(Tick{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	step(Subscribed{FrameworkID: "fw-1"})
	step(NodesObserved{Nodes: []Node{{Name: name, Online: true, Busy: 1, Executors: 1, Labels: append([]string{name}, labels...)}}})
	a := restarted.agents[name]
	if a == nil || a.tmpl < 0 || restarted.cfg.Templates[a.tmpl].CPUs != 2 {
		t.Fatalf("agent %s adopted as %+v, want the 2-CPU derived template", name, a)
	}
}

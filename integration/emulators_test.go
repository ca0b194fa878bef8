package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/integration/jenkinsemu"
	"github.com/jenkins-mesos/jenkins-mesos/integration/mesosemu"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// The two emulators compose the way the real systems do: a Mesos Docker
// task of the jenkins/inbound-agent image, mapped to the jenkins-emulator
// binary's `agent` command, reads JENKINS_URL/SECRET/AGENT_NAME like the
// image's entrypoint, connects to the emulated Jenkins and runs a build.
func TestInboundAgentImageOnMesosRunsAJenkinsBuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "jenkins-emulator")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/jenkins-emulator").CombinedOutput(); err != nil {
		t.Fatalf("building jenkins-emulator: %v\n%s", err, out)
	}
	jk, err := jenkinsemu.New(jenkinsemu.Config{Listen: "127.0.0.1:0", User: "admin", Token: "tok", TimeScale: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer jk.Close()
	mc, err := mesosemu.NewCluster(mesosemu.Config{Agents: 2, TimeScale: 20, SandboxRoot: t.TempDir(),
		Images: map[string][]string{"jenkins/inbound-agent": {bin, "agent"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()

	jreq := func(method, path, body string) *http.Response {
		req, _ := http.NewRequest(method, jk.URL()+path, strings.NewReader(body))
		req.SetBasicAuth("admin", "tok")
		if body != "" {
			req.Header.Set("Content-Type", "application/xml") // createItem refuses a body without one, as Jenkins does
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	jreq("POST", "createItem?name=sleepy", `<project><assignedNode>mesos</assignedNode><canRoam>false</canRoam><builders><hudson.tasks.Shell><command>sleep 20</command></hudson.tasks.Shell></builders></project>`).Body.Close()
	form := `{"name":"mesos-e2e","numExecutors":"1","remoteFS":"/home/jenkins/agent","labelString":"mesos","mode":"EXCLUSIVE","launcher":{"stapler-class":"hudson.slaves.JNLPLauncher","webSocket":true}}`
	if r := jreq("POST", "computer/doCreateItem?name=mesos-e2e&type=hudson.slaves.DumbSlave&json="+urlEscape(form), ""); r.StatusCode != 302 {
		t.Fatalf("creating the node: %d", r.StatusCode)
	}
	jreq("POST", "job/sleepy/build", "").Body.Close()

	// A v1 scheduler, by hand: subscribe, take an offer, launch the agent.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fi := mesos.FrameworkInfo{User: "jenkins", Name: "e2e"}
	body, _ := json.Marshal(&scheduler.Call{Type: scheduler.Call_SUBSCRIBE, Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: &fi}})
	req, _ := http.NewRequestWithContext(ctx, "POST", mc.Leader()+"/api/v1/scheduler", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	stream := resp.Header.Get("Mesos-Stream-Id")
	events := bufio.NewReader(resp.Body)
	next := func() *scheduler.Event {
		line, err := events.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		n, _ := strconv.Atoi(strings.TrimSpace(line))
		buf := make([]byte, n)
		if _, err := io.ReadFull(events, buf); err != nil {
			t.Fatal(err)
		}
		ev := &scheduler.Event{}
		if err := json.Unmarshal(buf, ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	var fid string
	var offer mesos.Offer
	for offer.ID.Value == "" {
		ev := next()
		switch ev.Type {
		case scheduler.Event_SUBSCRIBED:
			fid = ev.Subscribed.FrameworkID.Value
		case scheduler.Event_OFFERS:
			offer = ev.Offers.Offers[0]
		}
	}
	env := func(k, v string) mesos.Environment_Variable { return mesos.Environment_Variable{Name: k, Value: &v} }
	noShell := false
	task := mesos.TaskInfo{
		Name: "mesos-e2e", TaskID: mesos.TaskID{Value: "mesos-e2e"}, AgentID: offer.AgentID,
		Resources: []mesos.Resource{
			{Name: "cpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 0.2}},
			{Name: "mem", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 30}},
		},
		Command: &mesos.CommandInfo{Shell: &noShell, Environment: &mesos.Environment{Variables: []mesos.Environment_Variable{
			env("JENKINS_URL", jk.URL()), env("JENKINS_SECRET", jk.Secret("mesos-e2e")),
			env("JENKINS_AGENT_NAME", "mesos-e2e"), env("JENKINS_WEB_SOCKET", "true"),
		}}},
		Container: &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(), Docker: &mesos.ContainerInfo_DockerInfo{Image: "jenkins/inbound-agent:latest-jdk17"}},
	}
	accept, _ := json.Marshal(&scheduler.Call{Type: scheduler.Call_ACCEPT, FrameworkID: &mesos.FrameworkID{Value: fid}, Accept: &scheduler.Call_Accept{
		OfferIDs: []mesos.OfferID{offer.ID}, Operations: []mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH, Launch: &mesos.Offer_Operation_Launch{TaskInfos: []mesos.TaskInfo{task}}}}}})
	areq, _ := http.NewRequest("POST", mc.Leader()+"/api/v1/scheduler", bytes.NewReader(accept))
	areq.Header.Set("Content-Type", "application/json")
	areq.Header.Set("Mesos-Stream-Id", stream)
	if r, err := http.DefaultClient.Do(areq); err != nil || r.StatusCode != 202 {
		t.Fatalf("ACCEPT: %v %v", r, err)
	}
	post := func(c *scheduler.Call) {
		b, _ := json.Marshal(c)
		r, _ := http.NewRequest("POST", mc.Leader()+"/api/v1/scheduler", bytes.NewReader(b))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Mesos-Stream-Id", stream)
		if resp, err := http.DefaultClient.Do(r); err != nil || resp.StatusCode != 202 {
			t.Fatalf("%v: %v %v", c.Type, resp, err)
		}
	}
	for {
		ev := next()
		if ev.Type == scheduler.Event_UPDATE && len(ev.Update.Status.UUID) > 0 {
			st := ev.Update.Status
			post(&scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE, FrameworkID: &mesos.FrameworkID{Value: fid},
				Acknowledge: &scheduler.Call_Acknowledge{AgentID: *st.AgentID, TaskID: st.TaskID, UUID: st.UUID}})
		}
		if ev.Type == scheduler.Event_UPDATE && ev.Update.Status.GetState() == mesos.TASK_RUNNING {
			break
		}
		if ev.Type == scheduler.Event_UPDATE && ev.Update.Status.GetState() != mesos.TASK_STARTING {
			t.Fatalf("agent task: %v %s", ev.Update.Status.GetState(), ev.Update.Status.GetMessage())
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := jreq("GET", "job/sleepy/1/api/json", "")
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if strings.Contains(string(b), `"result":"SUCCESS"`) && strings.Contains(string(b), `"builtOn":"mesos-e2e"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the build never succeeded on the Mesos-launched agent: %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func urlEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strconv.FormatUint(uint64(c)>>4, 16) + strconv.FormatUint(uint64(c)&15, 16))
		}
	}
	return b.String()
}

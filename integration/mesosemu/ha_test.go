package mesosemu

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/jenkins-mesos/jenkins-mesos/integration/zktest"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

func TestMasterFailoverKeepsTasksAndFrameworksResubscribe(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1, Masters: 3})
	url := c.Leader()
	fi := frameworkInfo("ha", mesos.FrameworkInfo_Capability_PARTITION_AWARE)
	fi.FailoverTimeout = f64(3600)
	s := subscribeRaw(t, url, fi)
	runningTask(t, s, url, "survivor")
	fid := s.fwID

	if err := c.FailoverMaster(); err != nil {
		t.Fatal(err)
	}
	s.waitClosed() // the crashed master's connections are gone
	newLeader := c.Leader()
	if newLeader == url || newLeader == "" {
		t.Fatalf("leader after failover %q, want another master than %q", newLeader, url)
	}
	// The old leader restarted as a standby and redirects.
	r := postJSON(t, url, "", map[string]any{"type": "SUBSCRIBE"})
	if r.code != 307 || !strings.HasSuffix(r.header.Get("Location"), newLeader[len("http://"):]+"/api/v1/scheduler") {
		t.Fatalf("old leader answered %d %q, want 307 to %s", r.code, r.header.Get("Location"), newLeader)
	}
	// Re-subscribe with the same ID to the new leader: accepted as-is.
	fi.ID = &mesos.FrameworkID{Value: fid}
	s2 := subscribeRaw(t, newLeader, fi)
	if ev := s2.next(scheduler.Event_SUBSCRIBED); ev.Subscribed.FrameworkID.Value != fid {
		t.Fatalf("re-subscribed as %s, want %s", ev.Subscribed.FrameworkID.Value, fid)
	}
	// The task survived and is known to the new master once the agent
	// re-registered.
	waitFor(t, "the agent to re-register", func() bool {
		s2.mustCall(newLeader, &scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{Tasks: []scheduler.Call_Reconcile_Task{{TaskID: mesos.TaskID{Value: "survivor"}}}}})
		select {
		case ev := <-s2.events:
			return ev.Type == scheduler.Event_UPDATE && ev.Update.Status.GetState() == mesos.TASK_RUNNING
		case <-time.After(200 * time.Millisecond):
			return false
		}
	})
	if state, ok := c.TaskState(fid, "survivor"); !ok || state != mesos.TASK_RUNNING {
		t.Fatalf("task after failover: %v %v", state, ok)
	}
}

func TestNoLeaderAnswers503(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	c.mu.Lock()
	c.setLeaderLocked(nil)
	c.mu.Unlock()
	r := postJSON(t, c.Masters()[0], "", map[string]any{"type": "SUBSCRIBE"})
	if r.code != 503 || r.body != "No leader elected" {
		t.Fatalf("got %d %q, want 503 No leader elected", r.code, r.body)
	}
}

// zookeeper starts a real ZooKeeper server (Debian's package, which
// `make test` installs) on a free port for the test.
func zkMembers(t *testing.T, conn *zk.Conn, root string) []string {
	t.Helper()
	children, _, err := conn.Children(root)
	if err != nil {
		t.Fatalf("children of %s: %v", root, err)
	}
	sort.Strings(children)
	return children
}

func TestZooKeeperContentionLikeMesosMasters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real ZooKeeper")
	}
	addr := zktest.Start(t)
	c := newTestCluster(t, Config{Agents: 1, Masters: 3, ZK: "zk://" + addr + "/mesos"})
	conn, _, err := zk.Connect([]string{addr}, 5*time.Second, zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A sibling that is not a master must be ignored by detection.
	_, _ = conn.Create("/mesos/log_replicas", nil, 0, zk.WorldACL(zk.PermAll))
	members := zkMembers(t, conn, "/mesos")
	var infos []string
	for _, m := range members {
		if strings.HasPrefix(m, "json.info_") {
			if len(m) != len("json.info_0000000000") {
				t.Fatalf("member %q: want json.info_ and a 10-digit sequence", m)
			}
			infos = append(infos, m)
		}
	}
	if len(infos) != 3 {
		t.Fatalf("members %v, want three json.info_ nodes", members)
	}
	data, stat, err := conn.Get("/mesos/" + infos[0])
	if err != nil {
		t.Fatal(err)
	}
	if stat.EphemeralOwner == 0 {
		t.Fatalf("%s is not ephemeral", infos[0])
	}
	if strings.Contains(string(data), "null") {
		t.Fatalf("MasterInfo JSON in ZooKeeper has null fields (JSON::protobuf omits unset ones): %s", data)
	}
	var lowest mesos.MasterInfo
	if err := json.Unmarshal(data, &lowest); err != nil {
		t.Fatalf("node data is not MasterInfo JSON: %v: %s", err, data)
	}
	leader := c.Leader()
	if want := fmt.Sprintf("http://%s:%d", lowest.GetHostname(), lowest.GetPort()); leader != want {
		t.Fatalf("leader %s, want the lowest sequence's master %s", leader, want)
	}
	if lowest.Address == nil || lowest.Address.GetIP() != "127.0.0.1" || lowest.IP != 16777343 || !strings.HasPrefix(lowest.GetPID(), "master@127.0.0.1:") {
		t.Fatalf("MasterInfo JSON %s lacks Mesos' fields", data)
	}

	// A framework subscribed to the leader; then the leader fails over.
	fi := frameworkInfo("zk-fw")
	fi.FailoverTimeout = f64(3600)
	s := subscribeRaw(t, leader, fi)
	runningTask(t, s, leader, "zk-task")
	if err := c.FailoverMaster(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var next string
	for next == "" || next == leader {
		if ctx.Err() != nil {
			t.Fatalf("no new leader after failover (still %q)", next)
		}
		next = c.Leader()
		time.Sleep(20 * time.Millisecond)
	}
	after := zkMembers(t, conn, "/mesos")
	for _, m := range after {
		if m == infos[0] {
			t.Fatalf("the crashed leader's node %s is still there: %v", m, after)
		}
	}
	if len(after) != 4 { // two survivors, the restarted master, log_replicas
		t.Fatalf("members after failover %v, want 3 masters and log_replicas", after)
	}
	fi.ID = &mesos.FrameworkID{Value: s.fwID}
	s2 := subscribeRaw(t, next, fi)
	s2.next(scheduler.Event_SUBSCRIBED)
	if state, ok := c.TaskState(s.fwID, "zk-task"); !ok || state != mesos.TASK_RUNNING {
		t.Fatalf("task after a ZooKeeper failover: %v %v", state, ok)
	}
}

func TestTwoEmulatorProcessesShareOneZooKeeperGroup(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real ZooKeeper")
	}
	addr := zktest.Start(t)
	first := newTestCluster(t, Config{Agents: 1, ZK: "zk://" + addr + "/mesos"})
	second := startCluster(t, Config{Agents: 1, ZK: "zk://" + addr + "/mesos"}, false)
	leader := first.Leader()
	waitFor(t, "the second cluster to detect the first's leader", func() bool {
		li := second.LeaderInfo()
		return li != nil && fmt.Sprintf("http://%s:%d", li.GetHostname(), li.GetPort()) == leader
	})
	if second.Leader() != "" {
		t.Fatalf("two leaders: %s and %s", leader, second.Leader())
	}
	r := postJSON(t, second.Masters()[0], "", map[string]any{"type": "SUBSCRIBE"})
	if r.code != 307 || r.header.Get("Location") != "//"+leader[len("http://"):]+"/api/v1/scheduler" {
		t.Fatalf("standby in another process: %d %q", r.code, r.header.Get("Location"))
	}
}

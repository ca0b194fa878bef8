package ha

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/jenkins-mesos/jenkins-mesos/integration/zktest"
	"github.com/jenkins-mesos/jenkins-mesos/proto"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/driver"
)

func dial(t *testing.T, addr string) *Conn { return dialAs(t, addr, "") }

func dialAs(t *testing.T, addr, creds string) *Conn {
	t.Helper()
	c, err := Dial("zk://"+addr+"/jenkins-mesos", 4*time.Second, creds)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// One of two instances leads; the other waits, naming the leader, and
// leads once the first goes. The state written by the first is read by
// the second; the deposed one can no longer write.
func TestOneLeaderThenHandoverWithFencedWrites(t *testing.T) {
	addr := zktest.Start(t)
	a, b := dial(t, addr), dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lostA, err := a.Campaign(ctx, "instance-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store().Save(&proto.State{SchemaVersion: 1, FrameworkId: "fw-from-a"}); err != nil {
		t.Fatal(err)
	}
	standby := make(chan string, 10)
	bLeads := make(chan (<-chan struct{}), 1)
	go func() {
		lost, err := b.Campaign(ctx, "instance-b", func(leader string) { standby <- leader })
		if err == nil {
			bLeads <- lost
		}
	}()
	select {
	case l := <-standby:
		if l != "instance-a" {
			t.Fatalf("the standby names %q as leader; want instance-a", l)
		}
	case <-bLeads:
		t.Fatal("two leaders at once")
	case <-ctx.Done():
		t.Fatal("the standby never reported the leader")
	}
	a.Resign()
	select {
	case <-lostA:
	default:
		t.Fatal("resigning did not end a's leadership")
	}
	if err := a.Store().Save(&proto.State{SchemaVersion: 1, FrameworkId: "fw-stale"}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a deposed leader's write: %v; want ErrNotLeader", err)
	}
	select {
	case <-bLeads:
	case <-ctx.Done():
		t.Fatal("b did not take over")
	}
	st, err := b.Store().Load()
	if err != nil || st.GetFrameworkId() != "fw-from-a" {
		t.Fatalf("b loads %v, %v; want the state a wrote", st, err)
	}
}

// A leader whose session is gone (the ensemble expired it) stops leading
// and its writes are refused, even if it is told nothing else.
func TestExpiredSessionEndsTheLeadership(t *testing.T) {
	addr := zktest.Start(t)
	a, b := dial(t, addr), dial(t, addr)
	lost := lead(t, a)
	// Delete a's member node from outside, as the ensemble does when the
	// session expires: the fenced write must fail.
	a.mu.Lock()
	me := a.me
	a.mu.Unlock()
	if err := b.zk.Delete(me, -1); err != nil {
		t.Fatal(err)
	}
	if err := a.Store().Save(&proto.State{SchemaVersion: 1, FrameworkId: "x"}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("write after the member node went: %v; want ErrNotLeader", err)
	}
	a.onEvent(zkExpired())
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("an expired session did not end the leadership")
	}
}

// lead campaigns until c leads (30 s at most) and returns its lost channel.
func lead(t *testing.T, c *Conn) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lost, err := c.Campaign(ctx, "instance", nil)
	if err != nil {
		t.Fatalf("campaign: %v", err)
	}
	return lost
}

func zkExpired() zk.Event { return zk.Event{Type: zk.EventSession, State: zk.StateExpired} }

// A leadership that ended while the session survived (disconnected for a
// session timeout, then reconnected): the old member node is deleted
// before joining again, so it does not go on leading with nobody behind
// it, and this instance can lead again.
func TestLeadershipLostWithTheSessionAliveLeadsAgain(t *testing.T) {
	addr := zktest.Start(t)
	a := dial(t, addr)
	lost := lead(t, a)
	a.mu.Lock()
	old := a.me
	a.loseLocked() // what the disconnect timer does
	a.mu.Unlock()
	<-lost
	lead(t, a) // and it leads again
	if ok, _, _ := a.zk.Exists(old); ok {
		t.Fatalf("the old member node %s is still there", old)
	}
	if err := a.Store().Save(&proto.State{SchemaVersion: 1, FrameworkId: "again"}); err != nil {
		t.Fatalf("a write in the new term: %v", err)
	}
}

// With credentials, the nodes the instances create can be changed only
// with those credentials: a session without them (or with others) reads
// the state but cannot overwrite it, delete the leader's member node or
// join the election; instances sharing the credentials lead and hand over
// as without them. The password never shows in an error.
func TestCredentialsGuardTheStateAndTheElection(t *testing.T) {
	addr := zktest.Start(t)
	const creds = "jenkins-mesos:s3cret-zk-pass"
	a, b := dialAs(t, addr, creds), dialAs(t, addr, creds)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := a.Campaign(ctx, "instance-a", nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Store().Save(&proto.State{SchemaVersion: 1, FrameworkId: "fw-guarded"}); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	member := a.me
	a.mu.Unlock()

	raw, _, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogger(driver.QuietZK{}))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, _, err := raw.Get("/jenkins-mesos/state"); err != nil {
		t.Fatalf("reading the state without credentials: %v; want it readable", err)
	}
	if _, err := raw.Set("/jenkins-mesos/state", []byte("garbage"), -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("overwriting the state without credentials: %v; want ErrNoAuth", err)
	}
	if err := raw.Delete(member, -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("deleting the leader's member node without credentials: %v; want ErrNoAuth", err)
	}
	if _, err := raw.Create("/jenkins-mesos/leader/member-0000000000", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("joining the election without credentials: %v; want ErrNoAuth", err)
	}
	acl, _, err := raw.GetACL("/jenkins-mesos/state")
	if err != nil || len(acl) != 2 || acl[0].Scheme != "digest" || acl[0].Perms != zk.PermAll || acl[1].Scheme != "world" || acl[1].Perms != zk.PermRead {
		t.Fatalf("the state's ACL %+v (%v); want digest all + world read", acl, err)
	}

	if _, err := Dial("zk://"+addr+"/jenkins-mesos", 4*time.Second, "jenkins-mesos:wrong-pass"); err == nil {
		t.Fatal("an instance with other credentials joined")
	} else if !errors.Is(err, zk.ErrNoAuth) || !strings.Contains(err.Error(), "JENKINS_MESOS_STATE_ZK_CREDENTIALS") || strings.Contains(err.Error(), "wrong-pass") {
		t.Fatalf("other credentials: %v; want ErrNoAuth naming where credentials come from, without the password", err)
	}
	if _, err := Dial("zk://"+addr+"/jenkins-mesos", 4*time.Second, "no-colon-here"); err == nil || strings.Contains(err.Error(), "no-colon-here") {
		t.Fatalf("malformed credentials: %v; want an error that does not repeat them", err)
	}

	bLeads := make(chan (<-chan struct{}), 1)
	go func() {
		if lost, err := b.Campaign(ctx, "instance-b", nil); err == nil {
			bLeads <- lost
		}
	}()
	a.Resign()
	select {
	case <-bLeads:
	case <-ctx.Done():
		t.Fatal("b, with the same credentials, did not take over")
	}
	if err := b.Store().Save(&proto.State{SchemaVersion: 1, FrameworkId: "fw-from-b"}); err != nil {
		t.Fatalf("the new leader's write: %v", err)
	}
}

// docs/operations.md: nodes made without credentials are guarded later
// with zkCli.sh's addauth and setAcl -R, keeping the state (and so the
// framework ID). Run here against the real ZooKeeper as written there.
func TestOpenNodesGuardedWithSetAclAsDocumented(t *testing.T) {
	addr := zktest.Start(t)
	open := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := open.Campaign(ctx, "open", nil); err != nil {
		t.Fatal(err)
	}
	if err := open.Store().Save(&proto.State{SchemaVersion: 1, FrameworkId: "fw-kept"}); err != nil {
		t.Fatal(err)
	}
	open.Resign()
	cli := exec.Command("/usr/share/zookeeper/bin/zkCli.sh", "-server", addr)
	cli.Stdin = strings.NewReader("addauth digest jenkins-mesos:later-pass\nsetAcl -R /jenkins-mesos auth::cdrwa,world:anyone:r\nquit\n")
	if out, err := cli.CombinedOutput(); err != nil {
		t.Fatalf("zkCli.sh: %v\n%s", err, out)
	}
	raw, _, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogger(driver.QuietZK{}))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Set("/jenkins-mesos/state", []byte("x"), -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("changing the state without credentials after setAcl: %v; want ErrNoAuth", err)
	}
	guarded := dialAs(t, addr, "jenkins-mesos:later-pass")
	if _, err := guarded.Campaign(ctx, "guarded", nil); err != nil {
		t.Fatal(err)
	}
	if st, err := guarded.Store().Load(); err != nil || st.GetFrameworkId() != "fw-kept" {
		t.Fatalf("the guarded instance loads %v, %v; want the framework ID kept", st, err)
	}
	if err := guarded.Store().Save(&proto.State{SchemaVersion: 1, FrameworkId: "fw-kept"}); err != nil {
		t.Fatalf("the guarded instance's write: %v", err)
	}
}

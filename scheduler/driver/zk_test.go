package driver

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/jenkins-mesos/jenkins-mesos/integration/zktest"
)

// A masters' group that only authenticated sessions may read (Mesos run
// with zk://user:password@…): the detector finds the leader only with the
// digest credentials, and names the refusal without them.
func TestDetectorAuthenticatesToAProtectedGroup(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real ZooKeeper")
	}
	addr := zktest.Start(t)
	admin, _, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogger(QuietZK{}))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.AddAuth("digest", []byte("mesos:group-pass")); err != nil {
		t.Fatal(err)
	}
	locked := zk.DigestACL(zk.PermAll, "mesos", "group-pass")
	if _, err := admin.Create("/mesos-locked", nil, 0, locked); err != nil {
		t.Fatal(err)
	}
	info := `{"id":"m1","ip":16777343,"port":5050,"hostname":"master1.example","address":{"hostname":"master1.example","ip":"127.0.0.1","port":5050}}`
	if _, err := admin.Create("/mesos-locked/json.info_0000000003", []byte(info), 0, locked); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	without, err := newZKDetector([]string{addr}, "/mesos-locked", "")
	if err != nil {
		t.Fatal(err)
	}
	defer without.close()
	if _, _, err := without.leader(ctx); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("without credentials: %v; want ErrNoAuth", err)
	}

	with, err := newZKDetector([]string{addr}, "/mesos-locked", "mesos:group-pass")
	if err != nil {
		t.Fatal(err)
	}
	defer with.close()
	leader, _, err := with.leader(ctx)
	if err != nil || leader != "http://master1.example:5050" {
		t.Fatalf("with credentials: %q, %v; want http://master1.example:5050", leader, err)
	}
}

func TestZKURLCredentialsAreRefusedAndRedacted(t *testing.T) {
	_, _, err := ParseZK("zk://mesos:topsecret@zk1:2181,zk2:2181/mesos")
	if err == nil || strings.Contains(err.Error(), "topsecret") || !strings.Contains(err.Error(), "zk://***@zk1:2181,zk2:2181/mesos") {
		t.Fatalf("ParseZK of a URL with credentials: %v; want a refusal that shows the URL redacted", err)
	}
	if got := RedactURL("zk://zk1:2181/mesos"); got != "zk://zk1:2181/mesos" {
		t.Fatalf("RedactURL without credentials: %q", got)
	}
	for _, bad := range []string{"", "alice", "alice:", ":pw9"} {
		if err := CheckZKCredentials(bad); err == nil || (bad != "" && strings.Contains(err.Error(), bad)) {
			t.Fatalf("CheckZKCredentials(%q): %v; want an error that does not repeat the value", bad, err)
		}
	}
	if err := CheckZKCredentials("user:pa:ss"); err != nil {
		t.Fatalf("a password with a colon: %v", err)
	}
}

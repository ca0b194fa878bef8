// Package zktest starts a real ZooKeeper (Debian's package, which `make
// test` installs) for tests: the emulator's master contention and the
// framework's master detection both run against it.
package zktest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// Jar is where Debian's zookeeper package puts the server.
const Jar = "/usr/share/java/zookeeper.jar"

type silent struct{}

func (silent) Printf(string, ...any) {}

// Logger is a zk.Logger that says nothing.
var Logger zk.Logger = silent{}

// Start runs a standalone ZooKeeper on a free loopback port until the
// test ends, and returns its host:port once it opens sessions. The
// server's own log is printed when the test fails.
func Start(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Jar); err != nil {
		t.Fatalf("ZooKeeper is not installed (%s missing): run `make test`, which installs Debian's zookeeper package", Jar)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf("tickTime=200\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nmaxSessionTimeout=20000\n4lw.commands.whitelist=ruok,srvr\n", filepath.Join(dir, "data"), port)
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	classpath := "/etc/zookeeper/conf:" + Jar
	if _, err := os.Stat("/usr/share/java/slf4j-simple.jar"); err == nil {
		classpath += ":/usr/share/java/slf4j-simple.jar"
	}
	cmd := exec.Command("java", "-cp", classpath, "-Xmx128m", "org.apache.zookeeper.server.quorum.QuorumPeerMain", filepath.Join(dir, "zoo.cfg"))
	logPath := filepath.Join(dir, "zk.log")
	logf, _ := os.Create(logPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ZooKeeper: %v", err)
	}
	tail := func() string {
		b, _ := os.ReadFile(logPath)
		if len(b) > 8000 {
			b = b[len(b)-8000:]
		}
		return string(b)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			t.Logf("ZooKeeper log (tail):\n%s", tail())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_, _ = conn.Write([]byte("ruok"))
			buf := make([]byte, 4)
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := conn.Read(buf)
			conn.Close()
			// "imok" means running, not serving: wait for a real session.
			if string(buf[:n]) == "imok" && sessionOpens(addr) {
				return addr
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("ZooKeeper did not start serving on %s:\n%s", addr, tail())
	return ""
}

func sessionOpens(addr string) bool {
	conn, events, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogger(Logger))
	if err != nil {
		return false
	}
	defer conn.Close()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

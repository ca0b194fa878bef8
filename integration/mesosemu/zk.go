package mesosemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// zkSessionTimeout is Mesos' ZOOKEEPER_SESSION_TIMEOUT.
const zkSessionTimeout = 10 * time.Second

const zkLabel = "json.info_"

// zkContention makes each master contend in ZooKeeper exactly as Mesos
// masters do (an EPHEMERAL|SEQUENTIAL json.info_NNNNNNNNNN node holding the
// MasterInfo JSON, lowest sequence leads) and detects the leader the way
// Mesos' detector does. Each master has its own session, so a crash ends
// its membership like a dead process's would.
type zkContention struct {
	c       *Cluster
	servers []string
	root    string

	mu    sync.Mutex
	conns map[*Master]*zk.Conn
	det   *zk.Conn
	done  chan struct{}
	wg    sync.WaitGroup
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// ParseZK splits zk://host:port[,host:port]/path into servers and path.
func ParseZK(url string) ([]string, string, error) {
	rest, ok := strings.CutPrefix(url, "zk://")
	if !ok {
		return nil, "", fmt.Errorf("mesosemu: --zk %q: expected zk://host:port[,host:port]/path", url)
	}
	hosts, p, ok := strings.Cut(rest, "/")
	if !ok || hosts == "" || p == "" {
		return nil, "", fmt.Errorf("mesosemu: --zk %q: expected zk://host:port[,host:port]/path", url)
	}
	if at := strings.LastIndexByte(hosts, '@'); at >= 0 {
		return nil, "", fmt.Errorf("mesosemu: --zk %q: ZooKeeper credentials are not supported by the emulator", url)
	}
	return strings.Split(hosts, ","), "/" + strings.TrimSuffix(p, "/"), nil
}

func newZKContention(c *Cluster, url string) (*zkContention, error) {
	servers, root, err := ParseZK(url)
	if err != nil {
		return nil, err
	}
	z := &zkContention{c: c, servers: servers, root: root, conns: map[*Master]*zk.Conn{}, done: make(chan struct{})}
	det, err := z.connect()
	if err != nil {
		return nil, err
	}
	z.det = det
	if err := ensurePath(det, root); err != nil {
		det.Close()
		return nil, err
	}
	for _, m := range c.masters {
		if err := z.contend(m); err != nil {
			z.close()
			return nil, err
		}
	}
	z.wg.Add(1)
	go z.detect()
	return z, nil
}

// connect opens a ZooKeeper session. A client that has no session after a
// session timeout is closed and a fresh one tried, up to three times: on a
// loaded machine a first attempt has been seen to stall.
func (z *zkContention) connect() (*zk.Conn, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		conn, events, err := zk.Connect(z.servers, zkSessionTimeout, zk.WithLogger(quietLogger{}))
		if err != nil {
			return nil, fmt.Errorf("mesosemu: zookeeper %v: %w", z.servers, err)
		}
		if waitSession(events, zkSessionTimeout) {
			go func() {
				for range events {
				}
			}()
			return conn, nil
		}
		conn.Close()
		lastErr = fmt.Errorf("mesosemu: zookeeper %v: no session within %s (%d attempts)", z.servers, zkSessionTimeout, attempt+1)
	}
	return nil, lastErr
}

func waitSession(events <-chan zk.Event, within time.Duration) bool {
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return false
			}
			if ev.State == zk.StateHasSession {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

func ensurePath(conn *zk.Conn, p string) error {
	cur := ""
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		cur += "/" + part
		_, err := conn.Create(cur, nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("mesosemu: zookeeper create %s: %w", cur, err)
		}
	}
	return nil
}

// contend joins the group with the master's current MasterInfo.
func (z *zkContention) contend(m *Master) error {
	conn, err := z.connect()
	if err != nil {
		return err
	}
	z.c.mu.Lock()
	data, err := json.Marshal(&m.info)
	z.c.mu.Unlock()
	// Mesos writes JSON::protobuf(info): unset fields are simply absent.
	data = stripNulls(data)
	if err != nil {
		conn.Close()
		return err
	}
	name, err := conn.Create(path.Join(z.root, zkLabel), data, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		conn.Close()
		return fmt.Errorf("mesosemu: zookeeper contend: %w", err)
	}
	seq, _ := strconv.Atoi(strings.TrimPrefix(path.Base(name), zkLabel))
	z.c.mu.Lock()
	m.seq = seq
	z.c.mu.Unlock()
	z.mu.Lock()
	z.conns[m] = conn
	z.mu.Unlock()
	return nil
}

// recontend ends a crashed master's session (its node goes) and joins
// again with its new identity.
func (z *zkContention) recontend(m *Master) error {
	z.mu.Lock()
	old := z.conns[m]
	delete(z.conns, m)
	z.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return z.contend(m)
}

// detect follows the group: the member with the lowest sequence leads.
func (z *zkContention) detect() {
	defer z.wg.Done()
	for {
		children, _, ch, err := z.det.ChildrenW(z.root)
		if err != nil {
			select {
			case <-z.done:
				return
			case <-time.After(200 * time.Millisecond):
				continue
			}
		}
		info := z.leaderOf(children)
		z.c.mu.Lock()
		if !z.c.closed {
			z.c.setLeaderLocked(info)
		}
		z.c.mu.Unlock()
		select {
		case <-z.done:
			return
		case <-ch:
		}
	}
}

func (z *zkContention) leaderOf(children []string) *mesos.MasterInfo {
	var members []string
	for _, ch := range children {
		if strings.HasPrefix(ch, zkLabel) {
			members = append(members, ch)
		}
	}
	sort.Slice(members, func(i, j int) bool {
		a, _ := strconv.ParseUint(strings.TrimPrefix(members[i], zkLabel), 10, 64)
		b, _ := strconv.ParseUint(strings.TrimPrefix(members[j], zkLabel), 10, 64)
		return a < b
	})
	for _, name := range members {
		data, _, err := z.det.Get(path.Join(z.root, name))
		if err != nil {
			continue // gone between list and read: the next one leads
		}
		var info mesos.MasterInfo
		if err := json.Unmarshal(data, &info); err != nil {
			continue
		}
		return &info
	}
	return nil
}

func (z *zkContention) close() {
	select {
	case <-z.done:
		return
	default:
		close(z.done)
	}
	z.mu.Lock()
	for m, conn := range z.conns {
		conn.Close()
		delete(z.conns, m)
	}
	z.mu.Unlock()
	if z.det != nil {
		z.det.Close()
	}
	z.wg.Wait()
}

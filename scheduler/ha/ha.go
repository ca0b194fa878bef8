// Package ha runs several jenkins-mesos instances safely: the state is
// kept in ZooKeeper and one instance leads (state.zk).
//
// Under the configured path:
//
//	<path>/state            the framework state (protobuf), written only
//	                        by the leader
//	<path>/leader/member-N  one ephemeral sequential node per instance
//	                        (its data: the instance's address); the lowest
//	                        N leads, each other instance watches the one
//	                        just before it
//
// A leader is no longer one when its node goes (its session expired) or
// when it has been disconnected from ZooKeeper for a whole session
// timeout (the server will have expired the session by then, and a
// standby may lead). Every state write is fenced: it succeeds only while
// the writer's member node exists, so a deposed leader cannot overwrite
// its successor's state.
package ha

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	gproto "github.com/golang/protobuf/proto"
	"github.com/jenkins-mesos/jenkins-mesos/proto"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/driver"
)

// ErrNotLeader: a state write by an instance that no longer leads.
var ErrNotLeader = errors.New("ha: this instance no longer leads (its ZooKeeper member node is gone); the write was refused")

// Conn is one instance's ZooKeeper session.
type Conn struct {
	zk             *zk.Conn
	root           string
	sessionTimeout time.Duration
	acl            []zk.ACL // of every node this session creates

	mu    sync.Mutex
	me    string        // our member node, "" when none
	stale string        // a member node of ours from a leadership that ended, to delete
	lost  chan struct{} // closed when the leadership ends
	timer *time.Timer   // runs while disconnected
}

// Dial connects to the ZooKeeper ensemble of url (zk://h:p,.../path).
// With creds (user:password) the session authenticates with the digest
// scheme and every node it creates may be changed only by those
// credentials (anyone may read it: nothing stored is secret); without,
// nodes are open to all.
func Dial(url string, sessionTimeout time.Duration, creds string) (*Conn, error) {
	servers, root, err := driver.ParseZK(url)
	if err != nil {
		return nil, fmt.Errorf("ha: state.zk: %w", err)
	}
	c := &Conn{root: root, sessionTimeout: sessionTimeout, acl: zk.WorldACL(zk.PermAll)}
	if creds != "" {
		if err := driver.CheckZKCredentials(creds); err != nil {
			return nil, fmt.Errorf("ha: state.zk credentials: %w", err)
		}
		user, pass, _ := strings.Cut(creds, ":")
		c.acl = append(zk.DigestACL(zk.PermAll, user, pass), zk.WorldACL(zk.PermRead)...)
	}
	conn, err := driver.DialZK(servers, sessionTimeout, creds, c.onEvent)
	if err != nil {
		return nil, fmt.Errorf("ha: state.zk: %w", err)
	}
	c.zk = conn
	for _, p := range []string{root, path.Join(root, "leader")} {
		if err := c.ensure(p); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return c, nil
}

// ensure creates p and its parents (persistent, with the session's ACL).
func (c *Conn) ensure(p string) error {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	cur := ""
	for _, part := range parts {
		cur += "/" + part
		_, err := c.zk.Create(cur, nil, 0, c.acl)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return c.zkError("creating "+cur, err)
		}
	}
	return nil
}

// zkError names what failed; a refusal for want of permission says where
// the credentials come from.
func (c *Conn) zkError(what string, err error) error {
	if errors.Is(err, zk.ErrNoAuth) {
		return fmt.Errorf("ha: %s in ZooKeeper: %w (the node belongs to other credentials: check JENKINS_MESOS_STATE_ZK_CREDENTIALS or state.zk_credentials_file)", what, err)
	}
	return fmt.Errorf("ha: %s in ZooKeeper: %w", what, err)
}

// onEvent follows the session: a whole session timeout disconnected, or
// an expired session, ends the leadership.
func (c *Conn) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ev.State {
	case zk.StateDisconnected:
		if c.timer == nil && c.lost != nil {
			c.timer = time.AfterFunc(c.sessionTimeout, func() {
				c.mu.Lock()
				defer c.mu.Unlock()
				c.loseLocked()
			})
		}
	case zk.StateHasSession:
		if c.timer != nil {
			c.timer.Stop()
			c.timer = nil
		}
	case zk.StateExpired:
		c.loseLocked()
	}
}

func (c *Conn) loseLocked() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if c.lost != nil {
		close(c.lost)
		c.lost = nil
	}
	if c.me != "" {
		// If the session survives after all (it reconnected), this node
		// would still lead with nobody behind it: delete it before joining
		// again.
		c.stale = c.me
	}
	c.me = ""
}

// Campaign joins the election with data (how other instances can name
// this one) and returns once this instance leads, with a channel closed
// when it stops leading. onStandby, when set, is told the leader's data
// each time it changes while waiting.
func (c *Conn) Campaign(ctx context.Context, data string, onStandby func(leader string)) (<-chan struct{}, error) {
	prefix := path.Join(c.root, "leader", "member-")
	for {
		c.mu.Lock()
		me, stale := c.me, c.stale
		c.mu.Unlock()
		if stale != "" {
			if err := c.zk.Delete(stale, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
				if err := sleep(ctx, time.Second); err != nil {
					return nil, err
				}
				continue
			}
			c.mu.Lock()
			if c.stale == stale {
				c.stale = ""
			}
			c.mu.Unlock()
		}
		if me == "" {
			p, err := c.zk.CreateProtectedEphemeralSequential(prefix, []byte(data), c.acl)
			if err != nil {
				if err := sleep(ctx, time.Second); err != nil {
					return nil, err
				}
				continue
			}
			c.mu.Lock()
			c.me = p
			c.mu.Unlock()
			me = p
		}
		children, _, err := c.zk.Children(path.Join(c.root, "leader"))
		if err != nil {
			if err := sleep(ctx, time.Second); err != nil {
				return nil, err
			}
			continue
		}
		sort.Slice(children, func(i, j int) bool { return memberSeq(children[i]) < memberSeq(children[j]) })
		mine := path.Base(me)
		idx := -1
		for i, ch := range children {
			if ch == mine {
				idx = i
			}
		}
		switch {
		case idx < 0:
			// Our node is gone (the session expired): join again.
			c.mu.Lock()
			c.me = ""
			c.mu.Unlock()
			continue
		case idx == 0:
			c.mu.Lock()
			if c.me != me {
				c.mu.Unlock()
				continue
			}
			c.lost = make(chan struct{})
			lost := c.lost
			c.mu.Unlock()
			return lost, nil
		}
		if onStandby != nil {
			if b, _, err := c.zk.Get(path.Join(c.root, "leader", children[0])); err == nil {
				onStandby(string(b))
			}
		}
		ok, _, watch, err := c.zk.ExistsW(path.Join(c.root, "leader", children[idx-1]))
		if err != nil || !ok {
			continue
		}
		select {
		case <-ctx.Done():
			c.Resign()
			return nil, ctx.Err()
		case <-watch:
		case <-time.After(c.sessionTimeout):
			// Re-check now and then: a session event may have made us
			// lose our node without the watch firing.
		}
	}
}

// memberSeq is the sequence number at the end of a member node's name.
func memberSeq(name string) int64 {
	i := strings.LastIndex(name, "member-")
	if i < 0 {
		return 1 << 62
	}
	n, err := strconv.ParseInt(name[i+len("member-"):], 10, 64)
	if err != nil {
		return 1 << 62
	}
	return n
}

// Resign leaves the election (deletes our member node) and ends any
// leadership.
func (c *Conn) Resign() {
	c.mu.Lock()
	me := c.me
	c.loseLocked()
	c.mu.Unlock()
	if me != "" && c.zk.Delete(me, -1) == nil {
		c.mu.Lock()
		if c.stale == me {
			c.stale = ""
		}
		c.mu.Unlock()
	}
}

// Close resigns and ends the session.
func (c *Conn) Close() {
	c.Resign()
	c.zk.Close()
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// Store returns the state store under <path>/state.
func (c *Conn) Store() *Store { return &Store{c: c, path: path.Join(c.root, "state")} }

// Store keeps the framework state in ZooKeeper.
type Store struct {
	c    *Conn
	path string
}

// Load returns the saved state, or nil when there is none yet.
func (s *Store) Load() (*proto.State, error) {
	b, _, err := s.c.zk.Get(s.path)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ha: reading %s: %w", s.path, err)
	}
	st := &proto.State{}
	if err := gproto.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("ha: %s is corrupt: %w", s.path, err)
	}
	if st.GetSchemaVersion() > 1 {
		return nil, fmt.Errorf("ha: %s has schema version %d; this jenkins-mesos reads version 1", s.path, st.GetSchemaVersion())
	}
	return st, nil
}

// Save writes the state, fenced by this instance's member node: the write
// fails with ErrNotLeader once another instance may lead.
func (s *Store) Save(st *proto.State) error {
	b, err := gproto.Marshal(st)
	if err != nil {
		return fmt.Errorf("ha: %w", err)
	}
	s.c.mu.Lock()
	me, leading := s.c.me, s.c.lost != nil
	s.c.mu.Unlock()
	if me == "" || !leading {
		return ErrNotLeader
	}
	if _, err := s.c.zk.Create(s.path, nil, 0, s.c.acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return s.c.zkError("creating "+s.path, err)
	}
	mr, err := s.c.zk.Multi(&zk.CheckVersionRequest{Path: me, Version: 0}, &zk.SetDataRequest{Path: s.path, Data: b, Version: -1})
	fenced := func(e error) bool { return errors.Is(e, zk.ErrNoNode) || errors.Is(e, zk.ErrBadVersion) }
	if fenced(err) || (err != nil && len(mr) > 0 && fenced(mr[0].Error)) {
		return ErrNotLeader
	}
	if err != nil {
		return s.c.zkError("writing "+s.path, err)
	}
	return nil
}

package mesosemu

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/maintenance"
	"github.com/sirupsen/logrus"
)

// Version is the Mesos version the emulator reports. mesos-go v0.0.11
// carries the 1.10 protos, so the emulator speaks 1.10.
const Version = "1.10.0"

// Cluster is a set of emulated masters sharing simulated agents. All state
// is guarded by one mutex: the emulator values being obviously right over
// being parallel, and one lock makes every transition atomic like the
// master's single actor.
type Cluster struct {
	cfg   Config
	clock *Clock
	log   *logrus.Logger

	mu           sync.Mutex
	masters      []*Master
	leader       *Master // the elected master in this process, if any
	leaderInfo   *mesos.MasterInfo
	agents       []*Agent
	agentByID    map[string]*Agent
	taskIndex    map[string]*Task
	nextAgent    int
	rng          *mrand.Rand
	imageFaults  map[string]int // image → launches still to fail
	schedule     maintenance.Schedule
	sandboxRoot  string
	ownSandbox   bool
	shimDir      string
	zk           *zkContention
	allocTrigger chan struct{}
	cycles       uint64 // allocation cycles run by the leader
	nextSeq      int    // local contention sequence when no ZooKeeper is used
	closed       bool
	everElected  bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewCluster builds a cluster, starts its masters' listeners and registers
// its agents with the leader. Close stops everything.
func NewCluster(cfg Config) (*Cluster, error) {
	cfg = cfg.withDefaults()
	if cfg.Seed == 0 {
		cfg.Seed = time.Now().UnixNano()
		cfg.Log.WithField("seed", cfg.Seed).Infof("allocator seed %d chosen at random (replay with Seed / --seed %d)", cfg.Seed, cfg.Seed)
	}
	res, err := ParseResources(cfg.AgentResources)
	if err != nil {
		return nil, err
	}
	attrs, err := ParseAttributes(cfg.AgentAttributes)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{
		cfg:          cfg,
		clock:        NewClock(cfg.TimeScale),
		log:          cfg.Log,
		agentByID:    map[string]*Agent{},
		taskIndex:    map[string]*Task{},
		rng:          mrand.New(mrand.NewSource(cfg.Seed)),
		imageFaults:  map[string]int{},
		allocTrigger: make(chan struct{}, 1),
		ctx:          ctx,
		cancel:       cancel,
	}
	if err := c.setupSandbox(); err != nil {
		cancel()
		return nil, err
	}
	for i := 0; i < cfg.Masters; i++ {
		m, err := newMaster(c, i)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.masters = append(c.masters, m)
	}
	for i := 0; i < cfg.Agents; i++ {
		c.addAgentLocked(resPlus(nil, res...), attrs)
	}
	if cfg.ZK != "" {
		zc, err := newZKContention(c, cfg.ZK)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.zk = zc
	} else {
		c.mu.Lock()
		for _, m := range c.masters {
			c.nextSeq++
			m.seq = c.nextSeq
		}
		c.electLocalLocked()
		c.mu.Unlock()
	}
	for _, m := range c.masters {
		m.serve()
	}
	c.wg.Add(1)
	go c.allocationLoop()
	return c, nil
}

func (c *Cluster) setupSandbox() error {
	c.sandboxRoot = c.cfg.SandboxRoot
	if c.sandboxRoot == "" {
		d, err := os.MkdirTemp("", "mesos-emulator-")
		if err != nil {
			return fmt.Errorf("mesosemu: sandbox root: %w", err)
		}
		c.sandboxRoot = d
		c.ownSandbox = true
	}
	c.shimDir = filepath.Join(c.sandboxRoot, "bin")
	if err := os.MkdirAll(c.shimDir, 0o755); err != nil {
		return fmt.Errorf("mesosemu: sandbox root: %w", err)
	}
	return writeSleepShim(c.shimDir, c.clock.Scale())
}

// writeSleepShim puts a `sleep` first on the tasks' PATH that divides its
// argument by the time scale, so `sleep 100` in a task lasts 100 emulated
// seconds. Commands that call /bin/sleep by absolute path are not scaled.
func writeSleepShim(dir string, scale float64) error {
	script := `#!/bin/sh
# mesos-emulator: sleep in emulated time (scale ` + strconv.FormatFloat(scale, 'g', -1, 64) + `)
total=0
for a in "$@"; do
  total=$(awk -v t="$total" -v a="$a" 'BEGIN{n=a+0; u=substr(a,length(a)); m=1; if(u=="m")m=60; else if(u=="h")m=3600; else if(u=="d")m=86400; printf "%.6f", t+n*m}')
done
exec /bin/sleep "$(awk -v t="$total" -v k="` + strconv.FormatFloat(scale, 'g', -1, 64) + `" 'BEGIN{printf "%.6f", t/k}')"
`
	return os.WriteFile(filepath.Join(dir, "sleep"), []byte(script), 0o755)
}

// Clock is the cluster's emulated time.
func (c *Cluster) Clock() *Clock { return c.clock }

// Seed is the allocator's seed (Config.Seed, or the one chosen at random).
func (c *Cluster) Seed() int64 { return c.cfg.Seed }

// Masters lists the masters' scheduler endpoints ("http://host:port").
func (c *Cluster) Masters() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.masters))
	for i, m := range c.masters {
		out[i] = m.URL()
	}
	return out
}

// Leader returns the URL of the master elected in this process, or "".
func (c *Cluster) Leader() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leader == nil {
		return ""
	}
	return c.leader.URL()
}

// LeaderInfo returns the detected leading master's info, or nil.
func (c *Cluster) LeaderInfo() *mesos.MasterInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leaderInfo == nil {
		return nil
	}
	li := *c.leaderInfo
	return &li
}

// WaitLeader blocks until a master of this process leads or ctx ends.
func (c *Cluster) WaitLeader(ctx context.Context) (string, error) {
	for {
		if u := c.Leader(); u != "" {
			return u, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Close stops the masters, kills every task process and removes the
// sandbox root if the cluster created it.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.cancel()
	for _, a := range c.agents {
		a.shutdownLocked()
	}
	// End the event streams, so that their handlers return and the HTTP
	// servers shut down at once instead of waiting for them.
	for _, m := range c.masters {
		for _, fw := range m.frameworks {
			if fw.sub != nil {
				fw.sub.close("")
			}
		}
	}
	masters := append([]*Master(nil), c.masters...)
	agents := append([]*Agent(nil), c.agents...)
	c.mu.Unlock()
	for _, m := range masters {
		m.stop()
	}
	for _, a := range agents {
		if a.srv != nil {
			_ = a.srv.Close()
		}
	}
	if c.zk != nil {
		c.zk.close()
	}
	c.wg.Wait()
	if c.ownSandbox {
		_ = os.RemoveAll(c.sandboxRoot)
	}
	return nil
}

// electLocalLocked picks the leader among local masters when there is no
// ZooKeeper: the lowest contention sequence among running masters wins,
// as with ZooKeeper's json.info_ nodes.
func (c *Cluster) electLocalLocked() {
	var best *Master
	for _, m := range c.masters {
		if !m.running {
			continue
		}
		if best == nil || m.seq < best.seq {
			best = m
		}
	}
	if best == nil {
		c.setLeaderLocked(nil)
		return
	}
	info := best.info
	c.setLeaderLocked(&info)
}

// setLeaderLocked records the detected leader. A local master whose ID it
// carries becomes elected; the others become standbys.
func (c *Cluster) setLeaderLocked(info *mesos.MasterInfo) {
	var next *Master
	if info != nil {
		for _, m := range c.masters {
			if m.running && m.info.ID == info.ID {
				next = m
			}
		}
	}
	c.leaderInfo = info
	if next == c.leader {
		return
	}
	prev := c.leader
	c.leader = next
	if prev != nil && prev.running {
		// A master that loses leadership aborts (Mesos exits, and its
		// supervisor restarts it as a fresh standby).
		prev.crashLocked("lost leadership")
		prev.restartLocked()
	}
	if next != nil {
		next.electedLocked()
	}
}

// FailoverMaster crashes the leading master; it restarts as a fresh standby
// with a new ID and contends again. Another master (or the same one, if it
// is alone) is elected, agents re-register with it keeping their tasks, and
// frameworks must re-subscribe.
func (c *Cluster) FailoverMaster() error {
	c.mu.Lock()
	m := c.leader
	if m == nil {
		c.mu.Unlock()
		return errors.New("mesosemu: no leading master in this process")
	}
	m.crashLocked("failover requested")
	c.leader = nil
	c.leaderInfo = nil
	zk := c.zk
	if zk == nil {
		m.restartLocked()
		c.nextSeq++
		m.seq = c.nextSeq
		m.running = true
		c.electLocalLocked()
		c.mu.Unlock()
		return nil
	}
	m.restartLocked()
	c.mu.Unlock()
	// With ZooKeeper the crashed master's session ends (its ephemeral node
	// goes) and it re-joins the group with a new, higher sequence.
	return zk.recontend(m)
}

func newUUID() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return b
}

func uuidString(b []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ipUint32 packs an IPv4 address the way MasterInfo.ip does: network order
// bytes read as a little-endian integer (127.0.0.1 → 16777343).
func ipUint32(ip net.IP) uint32 {
	v4 := ip.To4()
	if v4 == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(v4)
}

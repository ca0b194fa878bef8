package mesosemu

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// Master is one emulated Mesos master. Only the elected one serves the
// scheduler API; standbys redirect to it.
type Master struct {
	c    *Cluster
	ln   net.Listener
	srv  *http.Server
	host string
	port int

	// Guarded by c.mu.
	info        mesos.MasterInfo
	seq         int // contention sequence (lowest leads)
	running     bool
	elected     bool
	startTime   time.Time
	electedTime time.Time
	frameworks  map[string]*Framework
	completed   []*Framework // most recent last, bounded
	offers      map[string]*Offer
	maint       map[string]*agentMaint // agent ID → maintenance view (maintenance.go)
	nextFw      int
	nextOffer   int
}

func newMaster(c *Cluster, index int) (*Master, error) {
	addr := net.JoinHostPort(c.cfg.Hostname, "0")
	if c.cfg.Port != 0 {
		addr = net.JoinHostPort(c.cfg.Hostname, strconv.Itoa(c.cfg.Port+index))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mesosemu: master %d: %w", index, err)
	}
	m := &Master{c: c, ln: ln, host: c.cfg.Hostname, port: ln.Addr().(*net.TCPAddr).Port}
	m.resetLocked()
	m.running = true
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/scheduler", m.leaderOnly(m.handleScheduler))
	m.registerOperatorRoutes(mux)
	m.registerAdminRoutes(mux)
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return m, nil
}

// resetLocked gives the master a fresh identity and empty in-memory state,
// as a (re)started Mesos master has.
func (m *Master) resetLocked() {
	id := uuidString(newUUID())
	ip := net.ParseIP(m.host)
	if ip == nil {
		if addrs, err := net.LookupIP(m.host); err == nil && len(addrs) > 0 {
			ip = addrs[0]
		} else {
			ip = net.IPv4(127, 0, 0, 1)
		}
	}
	port := uint32(m.port)
	host := m.host
	pid := "master@" + ip.String() + ":" + strconv.Itoa(m.port)
	ver := Version
	ipStr := ip.String()
	m.info = mesos.MasterInfo{
		ID:       id,
		IP:       ipUint32(ip),
		Port:     &port,
		PID:      &pid,
		Hostname: &host,
		Version:  &ver,
		Address:  &mesos.Address{Hostname: &host, IP: &ipStr, Port: int32(m.port)},
	}
	m.frameworks = map[string]*Framework{}
	m.completed = nil
	m.offers = map[string]*Offer{}
	m.maint = nil
	m.nextFw = 0
	m.nextOffer = 0
	m.elected = false
	m.startTime = m.c.clock.Now()
}

func (m *Master) serve() {
	m.c.wg.Add(1)
	go func() {
		defer m.c.wg.Done()
		_ = m.srv.Serve(m.ln)
	}()
}

// shutdownGrace bounds how long stopping a master waits for open
// connections; event streams are ended first, so it is never reached.
var shutdownGrace = 2 * time.Second

func (m *Master) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	_ = m.srv.Shutdown(ctx)
	_ = m.srv.Close()
}

// URL is the master's base URL, e.g. http://127.0.0.1:5050.
func (m *Master) URL() string {
	return "http://" + net.JoinHostPort(m.host, strconv.Itoa(m.port))
}

// ID is the master's current MasterInfo ID.
func (m *Master) ID() string {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	return m.info.ID
}

// crashLocked drops everything a master process holds in memory: its
// frameworks' connections close (no ERROR is sent: the process is gone),
// its offers vanish, its timers stop.
func (m *Master) crashLocked(why string) {
	m.c.log.WithField("master", m.info.ID).Infof("master crashed: %s", why)
	for _, fw := range m.frameworks {
		if fw.sub != nil {
			fw.sub.close("")
			fw.sub = nil
		}
		if fw.failoverTimer != nil {
			fw.failoverTimer.Stop()
		}
	}
	for id, o := range m.offers {
		if o.timer != nil {
			o.timer.Stop()
		}
		delete(m.offers, id)
	}
	m.elected = false
	m.running = false
	for _, a := range m.c.agents {
		a.offered = nil
	}
}

// restartLocked brings a crashed master back as a fresh standby.
func (m *Master) restartLocked() {
	m.resetLocked()
	m.running = true
}

// electedLocked makes this master the leader. Agents re-register with it
// after a short delay (they are "recovering" until then), bringing their
// tasks; frameworks come back by re-subscribing.
func (m *Master) electedLocked() {
	m.elected = true
	m.electedTime = m.c.clock.Now()
	m.c.log.WithField("master", m.info.ID).Info("elected leading master")
	if !m.c.everElected {
		// The cluster's first leader: agents register with it directly.
		m.c.everElected = true
		return
	}
	for _, a := range m.c.agents {
		if a.removed {
			continue
		}
		a.recovering = true
		a.offered = nil
	}
	gen := m.info.ID
	m.c.clock.AfterFunc(m.c.cfg.AgentReregisterDelay, func() {
		m.c.mu.Lock()
		defer m.c.mu.Unlock()
		if m.info.ID != gen || !m.elected {
			return
		}
		for _, a := range m.c.agents {
			if a.recovering {
				a.reregisteredLocked(m)
			}
		}
		m.c.allocateSoonLocked()
	})
}

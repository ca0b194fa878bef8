package offers

// Matcher matches offers to demanded slices. Its buffers are reused from
// one Match to the next, so a long-lived Matcher allocates almost nothing;
// a Result it returns is valid until its next Match.
type Matcher struct {
	// order[k] is the offer at canonical position k, and st[k] its
	// matching state; only a prefix of the offers may be ordered (see
	// order.go).
	order []int32
	st    []offerState
	keys  []uint64 // every offer's key: in input order, then permuted by ordering
	// sel holds selected or remaining keys while ordering.
	sel       []uint64
	tmpKeys   []uint64
	active    []int32 // spread: positions that may still take a slice
	scratch   []int32 // radix sort bucket counts
	idxBits   uint
	idxMask   uint64
	complete  bool   // every offer is in order
	threshold uint64 // while !complete: the largest key ordered
	orderAll  bool   // tests: never select a prefix
	general   bool   // tests: never take spread's plain path
	// eagerPorts: some class wants ports and every offer will be visited,
	// so offers' port ranges are read as the offers are laid out (one pass
	// whose cache misses overlap) rather than at first use.
	eagerPorts bool
	elig       []uint8 // class*len(offers)+position: 0 unknown, 1 eligible, 2 not
	rem        []int
	counters   [][]*counter
	open       []bool // class may use any offer: skip the eligibility cache
	// explainBuf: the offers a class's role, static constraints and all
	// constraints allow, while explaining unmet demand.
	explainBuf [3][]int32
	res        Result
}

type offerState struct {
	resv, unres Amounts
	portRange   int32
	placed      int32
	portNext    uint64
	portEnd     uint64 // end of the current range
	// portsLeft is -1 until a class with ports looks at the offer: the
	// ranges live in their own memory, and most cycles never need them.
	portsLeft int
}

// Match places the wanted slices on the offers. The result does not depend
// on the order of the offers.
func Match(req *Request) Result {
	var m Matcher
	return m.Match(req)
}

// Match places the wanted slices on the offers, reusing m's buffers.
func (m *Matcher) Match(req *Request) Result {
	n := len(req.Offers)
	nc := len(req.Classes)
	m.prepare(req)
	demand := 0
	m.eagerPorts = false
	for c := 0; c < nc; c++ {
		w := 0
		if c < len(req.Wanted) && req.Wanted[c] > 0 {
			w = req.Wanted[c]
		}
		m.rem[c] = w
		demand += w
		m.eagerPorts = m.eagerPorts || (w > 0 && req.Classes[c].Ports > 0)
	}
	// Eager reading pays where every offer is visited; with fewer slices
	// than offers most are never asked for ports.
	m.eagerPorts = m.eagerPorts && demand >= n
	if demand == 0 || n == 0 {
		// Nothing to place: no order is needed.
		m.order, m.st, m.complete = m.order[:0], m.st[:0], true
		for i := range req.Offers {
			m.res.Decline = append(m.res.Decline, int32(i))
		}
	} else {
		m.computeKeys(req)
		m.beginOrder(req, demand)
		m.reserve(req, demand)
		if req.Strategy == Binpack {
			m.binpack(req, demand)
		} else {
			m.spread(req, demand)
		}
		for k, oi := range m.order {
			if m.st[k].placed == 0 {
				m.res.Decline = append(m.res.Decline, oi)
			}
		}
		if !m.complete {
			for _, k := range m.keys {
				if k > m.threshold {
					m.res.Decline = append(m.res.Decline, int32(k&m.idxMask))
				}
			}
		}
	}
	for c := 0; c < nc; c++ {
		if m.rem[c] > 0 {
			m.more(req) // demand left: the loops have visited every offer
			m.res.Unmet = append(m.res.Unmet, m.explain(req, c))
		}
	}
	return m.res
}

// reset sets the state to the offer's before anything is placed, field by
// field: a composite literal is built on the stack and copied in 16-byte
// moves that cannot forward from its 8-byte stores (a stall per offer).
func (s *offerState) reset(o *Offer) {
	s.resv, s.unres = o.Reserved, o.Unreserved
	s.portRange, s.placed, s.portNext, s.portEnd, s.portsLeft = 0, 0, 1, 0, 0
	if len(o.Ports) > 0 {
		s.portsLeft = -1 // read on first use: see readPorts
	}
}

// portsReady reads the port ranges of the offer at position k the first
// time a class that needs ports considers it.
func (m *Matcher) portsReady(req *Request, k int32) {
	if m.st[k].portsLeft < 0 {
		m.readPorts(req, k)
	}
}

// readPorts is the cold path of portsReady and fitsAt, kept out of line so
// that fitsAt inlines into the matching loops.
//
//go:noinline
func (m *Matcher) readPorts(req *Request, k int32) {
	m.st[k].loadPorts(&req.Offers[m.order[k]])
}

// loadPorts reads the offer's port ranges: where the next port is and how
// many are left.
func (s *offerState) loadPorts(o *Offer) {
	s.portNext, s.portEnd = o.Ports[0].Begin, o.Ports[0].End
	s.portsLeft = 0
	for _, r := range o.Ports {
		s.portsLeft += int(r.End - r.Begin + 1)
	}
}

func (m *Matcher) prepare(req *Request) {
	n, nc := len(req.Offers), len(req.Classes)
	m.res = Result{Placements: m.res.Placements[:0], Decline: m.res.Decline[:0], Unmet: nil,
		ports: m.res.ports[:0], resv: m.res.resv[:0], needs: m.res.needs[:0], nports: m.res.nports[:0]}
	for c := range req.Classes {
		m.res.needs = append(m.res.needs, req.Classes[c].Need)
		m.res.nports = append(m.res.nports, int32(max(req.Classes[c].Ports, 0)))
	}
	if cap(m.rem) < nc {
		m.rem = make([]int, nc)
	}
	m.rem = m.rem[:nc]
	m.counters = m.counters[:0]
	m.open = m.open[:0]
	for c := range req.Classes {
		// A class with no role and no constraints may use every offer.
		m.open = append(m.open, req.Classes[c].Role == "" && len(req.Classes[c].Constraints) == 0)
		var ks []*counter
		for j := range req.Classes[c].Constraints {
			k := &req.Classes[c].Constraints[j]
			if k.dynamic() {
				ks = append(ks, newCounter(k))
			}
		}
		m.counters = append(m.counters, ks)
	}
	closed := false
	for _, open := range m.open {
		closed = closed || !open
	}
	if closed {
		if cap(m.elig) < n*nc {
			m.elig = make([]uint8, n*nc)
		}
		m.elig = m.elig[:n*nc]
		clear(m.elig)
	}
	for _, r := range req.Running {
		if r.Class < 0 || r.Class >= nc {
			continue
		}
		for _, k := range m.counters[r.Class] {
			if v, ok := fieldValue(k.c.Field, r.Hostname, r.Attributes); ok {
				k.add(v)
			}
		}
	}
}

// reserve sizes the placement buffer to an upper bound of what can be
// placed, so placing never reallocates.
func (m *Matcher) reserve(req *Request, demand int) {
	var minNeed Amounts
	first := true
	for c := range req.Classes {
		if m.rem[c] == 0 {
			continue
		}
		need := req.Classes[c].Need
		if first {
			minNeed, first = need, false
			continue
		}
		minNeed.CPUs = min(minNeed.CPUs, need.CPUs)
		minNeed.Mem = min(minNeed.Mem, need.Mem)
		minNeed.Disk = min(minNeed.Disk, need.Disk)
	}
	bound := 0
	for i := range req.Offers {
		t := req.Offers[i].Total()
		fit := demand
		if minNeed.CPUs > 0 {
			fit = min(fit, int(t.CPUs/minNeed.CPUs))
		}
		if minNeed.Mem > 0 {
			fit = min(fit, int(t.Mem/minNeed.Mem))
		}
		if minNeed.Disk > 0 {
			fit = min(fit, int(t.Disk/minNeed.Disk))
		}
		bound += fit
		if bound >= demand {
			bound = demand
			break
		}
	}
	if cap(m.res.Placements) < bound {
		m.res.Placements = make([]Placement, 0, bound)
	}
}

// eligible tells whether class c may use offer oi at all: role and the
// constraints that do not depend on other slices. Cached per match.
func (m *Matcher) eligible(req *Request, c int, k int32) bool {
	if m.open[c] {
		return true
	}
	i := c*len(req.Offers) + int(k)
	switch m.elig[i] {
	case 1:
		return true
	case 2:
		return false
	}
	oi := m.order[k]
	ok := roleOK(&req.Classes[c], &req.Offers[oi]) && staticOK(&req.Classes[c], &req.Offers[oi])
	if ok {
		m.elig[i] = 1
	} else {
		m.elig[i] = 2
	}
	return ok
}

func roleOK(c *Class, o *Offer) bool { return c.Role == "" || o.Role == "" || c.Role == o.Role }

func staticOK(c *Class, o *Offer) bool {
	for j := range c.Constraints {
		if !c.Constraints[j].staticOK(o) {
			return false
		}
	}
	return true
}

// fitsAt is fits for the offer at position k, reading its ports first
// when the class needs some.
func (m *Matcher) fitsAt(req *Request, k int32, c *Class) bool {
	s := &m.st[k]
	if c.Ports > 0 && s.portsLeft < 0 {
		m.readPorts(req, k)
	}
	return s.fits(c)
}

// fits tells whether one more slice of the class fits what is left (its
// ports read, if the class needs ports).
func (s *offerState) fits(c *Class) bool {
	need := c.Need
	return need.CPUs <= s.resv.CPUs+s.unres.CPUs && need.Mem <= s.resv.Mem+s.unres.Mem &&
		need.Disk <= s.resv.Disk+s.unres.Disk && (c.Ports == 0 || c.Ports <= s.portsLeft)
}

func (m *Matcher) dynamicOK(req *Request, c int, oi int32) bool {
	o := &req.Offers[oi]
	for _, k := range m.counters[c] {
		v, _ := fieldValue(k.c.Field, o.Hostname, o.Attributes)
		if !k.ok(v) {
			return false
		}
	}
	return true
}

// takeFrom takes need from the reservation first, then unreserved, and
// returns the reserved part.
func takeFrom(resv, unres *Milli, need Milli) Milli {
	r := min(need, *resv)
	*resv -= r
	*unres -= need - r
	return r
}

func (m *Matcher) place(req *Request, c int, k int32) {
	s := &m.st[k]
	cl := &req.Classes[c]
	// Filled in place (see appendOrdered on composite literals).
	if n := len(m.res.Placements); n < cap(m.res.Placements) {
		m.res.Placements = m.res.Placements[:n+1] // reserve sized it
	} else {
		m.res.Placements = append(m.res.Placements, Placement{})
	}
	p := &m.res.Placements[len(m.res.Placements)-1]
	p.Offer, p.Class, p.portsOff, p.resv = m.order[k], int32(c), 0, 0
	if s.resv == (Amounts{}) {
		s.unres.CPUs -= cl.Need.CPUs
		s.unres.Mem -= cl.Need.Mem
		s.unres.Disk -= cl.Need.Disk
	} else {
		m.takeReserved(p, s, cl.Need)
	}
	if cl.Ports > 0 {
		m.takePorts(req, p, s, cl.Ports)
	}
	s.placed++
	m.rem[c]--
	if len(m.counters[c]) > 0 {
		m.countPlaced(req, c, p.Offer)
	}
}

// takeReserved takes need from the offer's reservation first, then from
// unreserved resources, and records the reserved part.
func (m *Matcher) takeReserved(p *Placement, s *offerState, need Amounts) {
	r := Amounts{
		CPUs: takeFrom(&s.resv.CPUs, &s.unres.CPUs, need.CPUs),
		Mem:  takeFrom(&s.resv.Mem, &s.unres.Mem, need.Mem),
		Disk: takeFrom(&s.resv.Disk, &s.unres.Disk, need.Disk),
	}
	if r != (Amounts{}) {
		m.res.resv = append(m.res.resv, r)
		p.resv = int32(len(m.res.resv))
	}
}

// countPlaced adds a placed slice to its class's constraint counters.
func (m *Matcher) countPlaced(req *Request, c int, oi int32) {
	o := &req.Offers[oi]
	for _, k := range m.counters[c] {
		v, _ := fieldValue(k.c.Field, o.Hostname, o.Attributes)
		k.add(v)
	}
}

// takePorts gives a placement the next n free ports of its offer.
func (m *Matcher) takePorts(req *Request, p *Placement, s *offerState, n int) {
	p.portsOff = int32(len(m.res.ports))
	for k := 0; k < n; k++ {
		if s.portNext > s.portEnd {
			// The current range is used up: move to the next one (the
			// only time the offer's own memory is read here).
			s.portRange++
			r := req.Offers[p.Offer].Ports[s.portRange]
			s.portNext, s.portEnd = r.Begin, r.End
		}
		m.res.ports = append(m.res.ports, s.portNext)
		s.portNext++
	}
	s.portsLeft -= n
}

// spread deals slices round by round, one per offer per round, most-free
// offers first: no offer gets a second extra slice while another eligible
// one still has room for the first. The first round walks the canonical
// order (ordering more of it as it goes); later rounds revisit the offers
// that took a slice or may still take one.
func (m *Matcher) spread(req *Request, demand int) {
	active := m.active[:0]
	next := 0 // the class to try first, rotated so classes interleave
	progress := false
	// plain: no class has a role or constraints (the common case), so a
	// slice only needs room.
	plain := !m.general
	for c := range req.Classes {
		plain = plain && m.open[c]
	}
	for pos := 0; demand > 0; pos++ {
		if pos == len(m.order) && !m.more(req) {
			break
		}
		var placed, keep bool
		if plain {
			placed = m.spreadPlain(req, int32(pos), &next)
		} else {
			placed, keep = m.spreadOne(req, int32(pos), &next)
		}
		if placed {
			demand--
			progress = true
		}
		if placed || keep {
			active = append(active, int32(pos))
		}
	}
	if plain && progress {
		m.plainRounds(req, active, demand, next)
		m.active = active[:0]
		return
	}
	for demand > 0 && progress && len(active) > 0 {
		w := 0
		progress = false
		for _, pos := range active {
			placed, keep := m.spreadOne(req, pos, &next)
			if placed || keep {
				active[w] = pos
				w++
			}
			if placed {
				demand--
				progress = true
				if demand == 0 {
					break
				}
			}
		}
		active = active[:w]
	}
	m.active = active[:0]
}

// spreadOne offers the position one slice, trying classes from *next on.
// keep: a dynamic constraint refused it, which may change as other slices
// land.
func (m *Matcher) spreadOne(req *Request, pos int32, next *int) (placed, keep bool) {
	nc := len(req.Classes)
	for k := 0; k < nc; k++ {
		c := *next + k
		if c >= nc {
			c -= nc
		}
		if m.rem[c] == 0 {
			continue
		}
		cl := &req.Classes[c]
		if !m.open[c] && !m.eligible(req, c, pos) {
			continue
		}
		// fitsAt, spelled out: it is over the inliner's budget, and a call
		// here costs 5–15% of the 8-class rows (BENCHMARKS.md).
		if cl.Ports > 0 {
			m.portsReady(req, pos)
		}
		if !m.st[pos].fits(cl) {
			continue
		}
		if len(m.counters[c]) > 0 && !m.dynamicOK(req, c, m.order[pos]) {
			keep = true
			continue
		}
		m.place(req, c, pos)
		if *next = c + 1; *next == nc {
			*next = 0
		}
		return true, keep
	}
	return false, keep
}

// spreadPlain is spreadOne when no class has a role or constraints: a
// slice without ports on an offer without a reservation only needs room,
// checked and taken here; the others go through place.
func (m *Matcher) spreadPlain(req *Request, pos int32, next *int) bool {
	s := &m.st[pos]
	needs, nports := m.res.needs, m.res.nports
	c := *next
	for k := 0; k < len(needs); k++ {
		if m.rem[c] > 0 {
			n := &needs[c]
			if s.resv != (Amounts{}) || nports[c] > 0 {
				if nports[c] > 0 {
					m.portsReady(req, pos)
				}
				if s.fits(&req.Classes[c]) {
					m.place(req, c, pos)
					m.advance(next, c)
					return true
				}
			} else if n.CPUs <= s.unres.CPUs && n.Mem <= s.unres.Mem && n.Disk <= s.unres.Disk {
				s.unres.CPUs -= n.CPUs
				s.unres.Mem -= n.Mem
				s.unres.Disk -= n.Disk
				s.placed++
				m.rem[c]--
				i := len(m.res.Placements)
				if i < cap(m.res.Placements) {
					m.res.Placements = m.res.Placements[:i+1] // reserve sized it
				} else {
					m.res.Placements = append(m.res.Placements, Placement{})
				}
				p := &m.res.Placements[i]
				p.Offer, p.Class, p.portsOff, p.resv = m.order[pos], int32(c), 0, 0
				m.advance(next, c)
				return true
			}
		}
		if c++; c == len(needs) {
			c = 0
		}
	}
	return false
}

// plainRounds is spread's later rounds for a plain request: the dealing
// of spreadPlain, with the loop's state held in locals rather than
// reloaded through m at every slice. active holds the positions that took
// a slice in the round before. The dealing is spelled out again rather
// than shared with spreadPlain: a call per slice here measured up to 30%
// slower in the 1-class rows with many rounds (1,000 × 10,000: 71 → 92
// µs, alternating runs).
func (m *Matcher) plainRounds(req *Request, active []int32, demand, next int) {
	ps, st, order, needs, nports, rem := m.res.Placements, m.st, m.order, m.res.needs, m.res.nports, m.rem
	nc := len(needs)
	for demand > 0 && len(active) > 0 {
		w := 0
		for _, pos := range active {
			s := &st[pos]
			c := next
			placed := false
			for k := 0; k < nc && !placed; k++ {
				if rem[c] > 0 {
					n := &needs[c]
					if s.resv != (Amounts{}) || nports[c] > 0 {
						if nports[c] > 0 {
							m.portsReady(req, pos)
						}
						if s.fits(&req.Classes[c]) {
							m.res.Placements = ps
							m.place(req, c, pos)
							ps = m.res.Placements
							placed = true
						}
					} else if n.CPUs <= s.unres.CPUs && n.Mem <= s.unres.Mem && n.Disk <= s.unres.Disk {
						s.unres.CPUs -= n.CPUs
						s.unres.Mem -= n.Mem
						s.unres.Disk -= n.Disk
						rem[c]--
						i := len(ps)
						if i < cap(ps) {
							ps = ps[:i+1] // reserve sized it
						} else {
							ps = append(ps, Placement{})
						}
						p := &ps[i]
						p.Offer, p.Class, p.portsOff, p.resv = order[pos], int32(c), 0, 0
						placed = true
					}
					if placed {
						if next = c + 1; next == nc {
							next = 0
						}
						break
					}
				}
				if c++; c == nc {
					c = 0
				}
			}
			if placed {
				active[w] = pos
				w++
				if demand--; demand == 0 {
					break
				}
			}
		}
		active = active[:w]
	}
	m.res.Placements = ps
}

// advance makes the class after c the next to try.
func (m *Matcher) advance(next *int, c int) {
	if *next = c + 1; *next == len(m.rem) {
		*next = 0
	}
}

// binpack fills each offer, least free first, before the next, with the
// classes taking turns.
func (m *Matcher) binpack(req *Request, demand int) {
	nc := len(req.Classes)
	// next is the class whose turn it is. The offer is filled before the
	// next one, but one slice per class in turn, and the turn carries on
	// to the next offer: classes short of room share it slice by slice
	// instead of the first in the list taking it all.
	next := 0
	for demand > 0 {
		progress, blocked := false, false
		for k := 0; demand > 0; k++ {
			if k == len(m.order) && !m.more(req) {
				break
			}
			pos := int32(k)
			for round := true; round && demand > 0; {
				round = false
				start := next
				for i := 0; i < nc && demand > 0; i++ {
					c := start + i
					if c >= nc {
						c -= nc
					}
					cl := &req.Classes[c]
					if m.rem[c] == 0 || !m.eligible(req, c, pos) || !m.fitsAt(req, pos, cl) {
						continue
					}
					if len(m.counters[c]) > 0 && !m.dynamicOK(req, c, m.order[pos]) {
						blocked = true
						continue
					}
					m.place(req, c, pos)
					demand--
					progress, round = true, true
					m.advance(&next, c)
				}
			}
		}
		if !progress || !blocked {
			return
		}
	}
}

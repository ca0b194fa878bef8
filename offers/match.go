package offers

// Matcher matches offers to demanded slices. Its buffers are reused from
// one Match to the next, so a long-lived Matcher allocates almost nothing;
// a Result it returns is valid until its next Match.
type Matcher struct {
	order    []int32
	keys     []uint64
	tmpOrder []int32
	tmpKeys  []uint64
	st       []offerState
	elig     []uint8 // class*len(offers)+offer: 0 unknown, 1 eligible, 2 not
	rem      []int
	counters [][]*counter
	res      Result
}

type offerState struct {
	resv, unres Amounts
	portRange   int32
	portNext    uint64
	portsLeft   int
	placed      int32
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
	for c := 0; c < nc; c++ {
		w := 0
		if c < len(req.Wanted) && req.Wanted[c] > 0 {
			w = req.Wanted[c]
		}
		m.rem[c] = w
		demand += w
	}
	if n > 0 {
		m.canonicalOrder(req)
	}
	if demand > 0 && n > 0 {
		m.reserve(req, demand)
		if req.Strategy == Binpack {
			m.binpack(req, demand)
		} else {
			m.spread(req, demand)
		}
	}
	for _, oi := range m.order[:n] {
		if m.st[oi].placed == 0 {
			m.res.Decline = append(m.res.Decline, oi)
		}
	}
	for c := 0; c < nc; c++ {
		if m.rem[c] > 0 {
			m.res.Unmet = append(m.res.Unmet, m.explain(req, c))
		}
	}
	return m.res
}

func (m *Matcher) prepare(req *Request) {
	n, nc := len(req.Offers), len(req.Classes)
	m.res = Result{Placements: m.res.Placements[:0], Decline: m.res.Decline[:0], Unmet: nil, ports: m.res.ports[:0]}
	if cap(m.st) < n {
		m.st = make([]offerState, n)
	}
	m.st = m.st[:n]
	for i := range req.Offers {
		o := &req.Offers[i]
		left := 0
		for _, r := range o.Ports {
			left += int(r.End - r.Begin + 1)
		}
		next := uint64(0)
		if len(o.Ports) > 0 {
			next = o.Ports[0].Begin
		}
		m.st[i] = offerState{resv: o.Reserved, unres: o.Unreserved, portNext: next, portsLeft: left}
	}
	if cap(m.elig) < n*nc {
		m.elig = make([]uint8, n*nc)
	}
	m.elig = m.elig[:n*nc]
	clear(m.elig)
	if cap(m.rem) < nc {
		m.rem = make([]int, nc)
	}
	m.rem = m.rem[:nc]
	m.counters = m.counters[:0]
	for c := range req.Classes {
		var ks []*counter
		for j := range req.Classes[c].Constraints {
			k := &req.Classes[c].Constraints[j]
			if k.dynamic() {
				ks = append(ks, newCounter(k))
			}
		}
		m.counters = append(m.counters, ks)
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
func (m *Matcher) eligible(req *Request, c int, oi int32) bool {
	i := c*len(req.Offers) + int(oi)
	switch m.elig[i] {
	case 1:
		return true
	case 2:
		return false
	}
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

// fits tells whether one more slice of the class fits what is left.
func (s *offerState) fits(c *Class) bool {
	need := c.Need
	return need.CPUs <= s.resv.CPUs+s.unres.CPUs && need.Mem <= s.resv.Mem+s.unres.Mem &&
		need.Disk <= s.resv.Disk+s.unres.Disk && c.Ports <= s.portsLeft
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

func takeFrom(resv, unres *Milli, need Milli) (Milli, Milli) {
	r := min(need, *resv)
	*resv -= r
	*unres -= need - r
	return r, need - r
}

func (m *Matcher) place(req *Request, c int, oi int32) {
	s := &m.st[oi]
	cl := &req.Classes[c]
	p := Placement{Offer: oi, Class: int32(c)}
	p.Reserved.CPUs, p.Unreserved.CPUs = takeFrom(&s.resv.CPUs, &s.unres.CPUs, cl.Need.CPUs)
	p.Reserved.Mem, p.Unreserved.Mem = takeFrom(&s.resv.Mem, &s.unres.Mem, cl.Need.Mem)
	p.Reserved.Disk, p.Unreserved.Disk = takeFrom(&s.resv.Disk, &s.unres.Disk, cl.Need.Disk)
	if cl.Ports > 0 {
		p.portsOff = int32(len(m.res.ports))
		p.portsLen = int32(cl.Ports)
		ranges := req.Offers[oi].Ports
		for k := 0; k < cl.Ports; k++ {
			for s.portNext > ranges[s.portRange].End {
				s.portRange++
				s.portNext = ranges[s.portRange].Begin
			}
			m.res.ports = append(m.res.ports, s.portNext)
			s.portNext++
		}
		s.portsLeft -= cl.Ports
	}
	s.placed++
	m.res.Placements = append(m.res.Placements, p)
	m.rem[c]--
	if ks := m.counters[c]; len(ks) > 0 {
		o := &req.Offers[oi]
		for _, k := range ks {
			v, _ := fieldValue(k.c.Field, o.Hostname, o.Attributes)
			k.add(v)
		}
	}
}

// spread deals slices round by round, one per offer per round, most-free
// offers first: no offer gets a second extra slice while another eligible
// one still has room for the first.
func (m *Matcher) spread(req *Request, demand int) {
	nc := len(req.Classes)
	active := append(m.tmpOrder[:0], m.order...)
	next := 0 // the class to try first, rotated so classes interleave
	for demand > 0 && len(active) > 0 {
		w := 0
		progress := false
		for _, oi := range active {
			s := &m.st[oi]
			placed, keep := false, false
			for k := 0; k < nc; k++ {
				c := next + k
				if c >= nc {
					c -= nc
				}
				if m.rem[c] == 0 || !m.eligible(req, c, oi) || !s.fits(&req.Classes[c]) {
					continue
				}
				if len(m.counters[c]) > 0 && !m.dynamicOK(req, c, oi) {
					keep = true // may become acceptable as other slices land
					continue
				}
				m.place(req, c, oi)
				demand--
				placed = true
				next = c + 1
				if next == nc {
					next = 0
				}
				break
			}
			if placed || keep {
				active[w] = oi
				w++
			}
			progress = progress || placed
			if demand == 0 {
				break
			}
		}
		active = active[:w]
		if !progress {
			break
		}
	}
	m.tmpOrder = active[:0]
}

// binpack fills each offer, least free first, before the next.
func (m *Matcher) binpack(req *Request, demand int) {
	nc := len(req.Classes)
	for demand > 0 {
		progress, blocked := false, false
		for _, oi := range m.order {
			s := &m.st[oi]
			for c := 0; c < nc && demand > 0; c++ {
				cl := &req.Classes[c]
				for m.rem[c] > 0 && m.eligible(req, c, oi) && s.fits(cl) {
					if len(m.counters[c]) > 0 && !m.dynamicOK(req, c, oi) {
						blocked = true
						break
					}
					m.place(req, c, oi)
					demand--
					progress = true
				}
			}
			if demand == 0 {
				break
			}
		}
		if !progress || !blocked {
			return
		}
	}
}

package offers

import (
	"fmt"
	"strings"
)

// explain says why class c still has demand after matching: the first of
// no offers, no offer for the role, constraints, or resources — naming the
// limiting dimension and the best candidate.
func (m *Matcher) explain(req *Request, c int) Unmet {
	cl := &req.Classes[c]
	u := Unmet{Class: c, Missing: m.rem[c]}
	if len(req.Offers) == 0 {
		u.Reason, u.Message = ReasonNoOffers, "no offers held"
		return u
	}
	// Positions in canonical order (m.st[pos] is offer m.order[pos]), so
	// that ties name the same offer whatever the input order. The lists
	// reuse the matcher's buffers; an open class may use every offer.
	roleMatch, staticMatch, candidates := m.explainBuf[0][:0], m.explainBuf[1][:0], m.explainBuf[2][:0]
	for k, oi := range m.order {
		pos := int32(k)
		if m.open[c] {
			candidates = append(candidates, pos)
			continue
		}
		if !roleOK(cl, &req.Offers[oi]) {
			continue
		}
		roleMatch = append(roleMatch, pos)
		if !staticOK(cl, &req.Offers[oi]) {
			continue
		}
		staticMatch = append(staticMatch, pos)
		if len(m.counters[c]) == 0 || m.dynamicOK(req, c, oi) {
			candidates = append(candidates, pos)
		}
	}
	m.explainBuf = [3][]int32{roleMatch, staticMatch, candidates}
	if m.open[c] {
		roleMatch, staticMatch = candidates, candidates
	}
	if len(roleMatch) == 0 {
		u.Reason = ReasonRole
		u.Message = fmt.Sprintf("no offer is allocated to role %s (%d held for other roles)", cl.Role, len(req.Offers))
		return u
	}
	if len(staticMatch) == 0 {
		u.Reason = ReasonConstraint
		u.Message = m.constraintMessage(req, c, roleMatch, false)
		return u
	}
	if len(candidates) == 0 {
		u.Reason = ReasonConstraint
		u.Message = m.constraintMessage(req, c, staticMatch, true)
		return u
	}
	u.Reason = ReasonResources
	u.Message = m.resourceMessage(req, cl, candidates)
	return u
}

// constraintMessage names the constraint that rules out the offers.
func (m *Matcher) constraintMessage(req *Request, c int, offers []int32, dynamic bool) string {
	cl := &req.Classes[c]
	for j := range cl.Constraints {
		k := &cl.Constraints[j]
		if k.dynamic() != dynamic {
			continue
		}
		excluded := 0
		for _, pos := range offers {
			o := &req.Offers[m.order[pos]]
			if dynamic {
				for _, ctr := range m.counters[c] {
					if ctr.c == k {
						v, _ := fieldValue(k.Field, o.Hostname, o.Attributes)
						if !ctr.ok(v) {
							excluded++
						}
					}
				}
			} else if !k.staticOK(o) {
				excluded++
			}
		}
		if excluded == len(offers) {
			if dynamic {
				return fmt.Sprintf("constraint `%s` leaves no offer: the %d candidate offers already have their share of slices", k, len(offers))
			}
			return fmt.Sprintf("constraint `%s` excludes all %d offers", k, len(offers))
		}
	}
	var all []string
	for j := range cl.Constraints {
		all = append(all, "`"+cl.Constraints[j].String()+"`")
	}
	return fmt.Sprintf("constraints %s together exclude all %d offers", strings.Join(all, ", "), len(offers))
}

// resourceMessage: no candidate has room for one more slice. Name the
// first dimension in which even the largest candidate falls short, or the
// closest candidate when each dimension fits somewhere but never together.
func (m *Matcher) resourceMessage(req *Request, cl *Class, offers []int32) string {
	need := cl.Need
	var best [4]int32
	var most [4]int64
	for i := range best {
		best[i] = -1
		most[i] = -1
	}
	for _, pos := range offers {
		m.portsReady(req, pos)
	}
	for _, pos := range offers {
		s := &m.st[pos]
		vals := [4]int64{int64(s.resv.CPUs + s.unres.CPUs), int64(s.resv.Mem + s.unres.Mem), int64(s.resv.Disk + s.unres.Disk), int64(s.portsLeft)}
		for d, v := range vals {
			if v > most[d] {
				most[d], best[d] = v, pos
			}
		}
	}
	host := func(pos int32) string { return req.Offers[m.order[pos]].Hostname }
	switch {
	case Milli(most[0]) < need.CPUs:
		return fmt.Sprintf("largest offer: %s cpus on host %s < %s needed", Milli(most[0]), host(best[0]), need.CPUs)
	case Milli(most[1]) < need.Mem:
		return fmt.Sprintf("largest offer: %s mem on host %s < %s needed", Milli(most[1]), host(best[1]), need.Mem)
	case Milli(most[2]) < need.Disk:
		return fmt.Sprintf("largest offer: %s disk on host %s < %s needed", Milli(most[2]), host(best[2]), need.Disk)
	case most[3] < int64(cl.Ports):
		return fmt.Sprintf("most free ports: %d on host %s < %d needed", most[3], host(best[3]), cl.Ports)
	}
	// Closest: the candidate whose tightest dimension is the fullest.
	closest, score := offers[0], -1.0
	for _, pos := range offers {
		s := &m.st[pos]
		r := 1e18
		ratio := func(have, want Milli) {
			if want > 0 {
				r = min(r, float64(have)/float64(want))
			}
		}
		ratio(s.resv.CPUs+s.unres.CPUs, need.CPUs)
		ratio(s.resv.Mem+s.unres.Mem, need.Mem)
		ratio(s.resv.Disk+s.unres.Disk, need.Disk)
		if cl.Ports > 0 {
			r = min(r, float64(s.portsLeft)/float64(cl.Ports))
		}
		if r > score {
			closest, score = pos, r
		}
	}
	s := &m.st[closest]
	return fmt.Sprintf("no offer has %s cpus, %s mem, %s disk and %d ports together; closest: host %s with %s cpus, %s mem, %s disk, %d ports",
		need.CPUs, need.Mem, need.Disk, cl.Ports, host(closest), s.resv.CPUs+s.unres.CPUs, s.resv.Mem+s.unres.Mem, s.resv.Disk+s.unres.Disk, s.portsLeft)
}

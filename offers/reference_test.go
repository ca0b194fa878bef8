package offers

import (
	"fmt"
	"math/rand"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The naive reference: a from-scratch check of a Match result that shares
// no code with the matcher (not its Amounts helpers, role and constraint
// evaluation, fits, place or counters). Constraints are re-read from
// their source text. It is slow and obvious on purpose.

type refConstraint struct {
	field, op, value string
}

func refParse(src string) refConstraint {
	f := strings.Fields(src)
	c := refConstraint{field: f[0], op: strings.ToUpper(f[1])}
	if len(f) > 2 {
		c.value = strings.Join(f[2:], " ")
	}
	return c
}

func refField(field string, o *Offer) (string, bool) {
	if field == "hostname" {
		return o.Hostname, true
	}
	for _, a := range o.Attributes {
		if a.Name == field {
			if a.IsScalar {
				return strconv.FormatFloat(a.Scalar, 'f', -1, 64), true
			}
			return a.Text, true
		}
	}
	return "", false
}

func refRunningField(field string, r Running) (string, bool) {
	o := Offer{Hostname: r.Hostname, Attributes: r.Attributes}
	return refField(field, &o)
}

// refStatic is Marathon's meaning of the constraints that look at one
// offer alone.
func refStatic(c refConstraint, o *Offer) bool {
	v, ok := refField(c.field, o)
	full := func(re string) bool { return regexp.MustCompile("^(?:" + re + ")$").MatchString(v) }
	switch c.op {
	case "LIKE":
		return ok && full(c.value)
	case "UNLIKE":
		return !ok || !full(c.value)
	case "IS":
		if !ok {
			return false
		}
		a, e1 := strconv.ParseFloat(v, 64)
		b, e2 := strconv.ParseFloat(c.value, 64)
		return v == c.value || (e1 == nil && e2 == nil && a == b)
	case "CLUSTER":
		return ok && (c.value == "" || v == c.value)
	}
	return ok // UNIQUE, MAX_PER, GROUP_BY need the field
}

func refRoleOK(classRole, offerRole string) bool {
	return classRole == "" || offerRole == "" || classRole == offerRole
}

// refState is what is left of one offer.
type refState struct {
	resv, unres [3]int64
	ports       map[uint64]bool
}

func refAmounts(a Amounts) [3]int64 { return [3]int64{int64(a.CPUs), int64(a.Mem), int64(a.Disk)} }

func refPortsOf(o *Offer) map[uint64]bool {
	m := map[uint64]bool{}
	for _, r := range o.Ports {
		for p := r.Begin; p <= r.End; p++ {
			m[p] = true
		}
	}
	return m
}

// refDynamicOK: would one more slice of class c on offer o keep UNIQUE,
// MAX_PER and CLUSTER (no value) true, counting running slices and the
// placements so far? (An existing violation among running slices does not
// forbid what does not make it worse.)
func refDynamicOK(cons []refConstraint, o *Offer, running []string, placed []*Offer) bool {
	for i, c := range cons {
		dynamic := c.op == "UNIQUE" || c.op == "MAX_PER" || c.op == "GROUP_BY" || (c.op == "CLUSTER" && c.value == "")
		if !dynamic {
			continue
		}
		v, ok := refField(c.field, o)
		if !ok {
			return false
		}
		count := map[string]int{}
		if running[i] != "" {
			for _, x := range strings.Split(running[i], "\x00") {
				count[x]++
			}
		}
		for _, p := range placed {
			if pv, ok := refField(c.field, p); ok {
				count[pv]++
			}
		}
		switch c.op {
		case "UNIQUE":
			if count[v] >= 1 {
				return false
			}
		case "MAX_PER":
			n, _ := strconv.Atoi(c.value)
			if count[v] >= n {
				return false
			}
		case "CLUSTER":
			if c.value == "" {
				for other := range count {
					if other != v {
						return false
					}
				}
			}
		}
	}
	return true
}

// refCheck verifies res against req from scratch; sources[c] are class
// c's constraint texts.
func refCheck(req *Request, sources [][]string, res *Result) error {
	st := make([]refState, len(req.Offers))
	for i := range req.Offers {
		st[i] = refState{resv: refAmounts(req.Offers[i].Reserved), unres: refAmounts(req.Offers[i].Unreserved), ports: refPortsOf(&req.Offers[i])}
	}
	cons := make([][]refConstraint, len(req.Classes))
	running := make([][]string, len(req.Classes)) // per constraint: running values joined
	for c := range req.Classes {
		for _, src := range sources[c] {
			cons[c] = append(cons[c], refParse(src))
		}
		running[c] = make([]string, len(cons[c]))
		for i, k := range cons[c] {
			var vals []string
			for _, r := range req.Running {
				if r.Class == c {
					if v, ok := refRunningField(k.field, r); ok {
						vals = append(vals, v)
					}
				}
			}
			running[c][i] = strings.Join(vals, "\x00")
		}
	}
	placedOn := make([][]*Offer, len(req.Classes))
	used := make([]bool, len(req.Offers))
	count := make([]int, len(req.Classes))
	for n, p := range res.Placements {
		o, c := &req.Offers[p.Offer], int(p.Class)
		cl := &req.Classes[c]
		if !refRoleOK(cl.Role, o.Role) {
			return fmt.Errorf("placement %d: class role %q on an offer of role %q", n, cl.Role, o.Role)
		}
		for _, k := range cons[c] {
			if !refStatic(k, o) {
				return fmt.Errorf("placement %d: %s %s %s fails on %s", n, k.field, k.op, k.value, o.Hostname)
			}
		}
		if !refDynamicOK(cons[c], o, running[c], placedOn[c]) {
			return fmt.Errorf("placement %d: class %s on %s breaks a UNIQUE/MAX_PER/CLUSTER constraint", n, cl.Name, o.Hostname)
		}
		placedOn[c] = append(placedOn[c], o)
		s := &st[p.Offer]
		need := refAmounts(cl.Need)
		resv := refAmounts(res.Reserved(p))
		for d := 0; d < 3; d++ {
			unres := need[d] - resv[d]
			if resv[d] < 0 || unres < 0 || resv[d] > s.resv[d] || unres > s.unres[d] {
				return fmt.Errorf("placement %d: dimension %d takes %d reserved + %d unreserved from %d + %d left on %s", n, d, resv[d], unres, s.resv[d], s.unres[d], o.ID)
			}
			s.resv[d] -= resv[d]
			s.unres[d] -= unres
		}
		ports := res.PortsOf(p)
		if len(ports) != cl.Ports {
			return fmt.Errorf("placement %d: %d ports, class needs %d", n, len(ports), cl.Ports)
		}
		for _, port := range ports {
			if !s.ports[port] {
				return fmt.Errorf("placement %d: port %d is not free on %s", n, port, o.ID)
			}
			delete(s.ports, port)
		}
		used[p.Offer] = true
		count[c]++
	}
	for c := range req.Classes {
		want := 0
		if c < len(req.Wanted) && req.Wanted[c] > 0 {
			want = req.Wanted[c]
		}
		missing := 0
		for _, u := range res.Unmet {
			if u.Class == c {
				missing += u.Missing
			}
		}
		if count[c]+missing != want || count[c] > want {
			return fmt.Errorf("class %d: placed %d + unmet %d, wanted %d", c, count[c], missing, want)
		}
		// Maximal: with demand left, no offer could take one more slice.
		if missing == 0 {
			continue
		}
		cl := &req.Classes[c]
		for i := range req.Offers {
			o := &req.Offers[i]
			if !refRoleOK(cl.Role, o.Role) {
				continue
			}
			static := true
			for _, k := range cons[c] {
				static = static && refStatic(k, o)
			}
			if !static || !refDynamicOK(cons[c], o, running[c], placedOn[c]) || len(st[i].ports) < cl.Ports {
				continue
			}
			need := refAmounts(cl.Need)
			room := true
			for d := 0; d < 3; d++ {
				room = room && need[d] <= st[i].resv[d]+st[i].unres[d]
			}
			if room && !hasGroupBy(cons[c]) {
				return fmt.Errorf("class %s left %d unplaced while %s could take one more", cl.Name, missing, o.Hostname)
			}
		}
	}
	declined := map[int32]bool{}
	for _, d := range res.Decline {
		if declined[d] || used[d] {
			return fmt.Errorf("offer %d declined twice or declined though used", d)
		}
		declined[d] = true
	}
	for i := range req.Offers {
		if !used[i] && !declined[int32(i)] {
			return fmt.Errorf("offer %d neither used nor declined", i)
		}
	}
	return nil
}

// GROUP_BY's balance rule is the matcher's own policy; the reference only
// checks the field exists, so maximality is not asserted for it.
func hasGroupBy(cons []refConstraint) bool {
	for _, c := range cons {
		if c.op == "GROUP_BY" {
			return true
		}
	}
	return false
}

// randomSourcedRequest is randomRequest with the constraint texts kept.
func randomSourcedRequest(r *rand.Rand) (*Request, [][]string) {
	req := randomRequest(r)
	sources := make([][]string, len(req.Classes))
	for c := range req.Classes {
		req.Classes[c].Constraints = nil
		for k := r.Intn(3); k > 0; k-- {
			src := constraintPool[r.Intn(len(constraintPool))]
			cons, err := ParseConstraint(src)
			if err != nil {
				panic(err)
			}
			req.Classes[c].Constraints = append(req.Classes[c].Constraints, cons)
			sources[c] = append(sources[c], src)
		}
	}
	return req, sources
}

func TestMatchAgainstTheNaiveReference(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	var m Matcher
	for iter := 0; iter < 3000; iter++ {
		req, sources := randomSourcedRequest(r)
		res := m.Match(req)
		if err := refCheck(req, sources, &res); err != nil {
			t.Fatalf("iteration %d (%v, %d offers, wanted %v, constraints %q): %v", iter, req.Strategy, len(req.Offers), req.Wanted, sources, err)
		}
	}
}

// TestBaselinesDoNotOverCommit runs the four baselines of BenchmarkMatch
// through one over-commit check, so the comparison is between correct
// loops.
func TestBaselinesDoNotOverCommit(t *testing.T) {
	for _, g := range [][3]int{{100, 50, 1}, {100, 1000, 8}, {1000, 500, 8}, {1000, 100000, 8}} {
		req := benchRequest(g[0], g[1], g[2])
		var requests []int32
		for c, w := range req.Wanted {
			for k := 0; k < w; k++ {
				requests = append(requests, int32(c))
			}
		}
		run := map[string]func() []basePlacement{
			"plugin1x": func() []basePlacement {
				return plugin1x(req.Offers, req.Classes, requests, make([]int32, len(requests)), baseStates(req.Offers, nil), nil)
			},
			"usi2x": func() []basePlacement {
				return usi2x(req.Offers, req.Classes, append([]int32(nil), requests...), baseStates(req.Offers, nil), nil)
			},
			"firstfit": func() []basePlacement {
				return firstFit(req.Offers, req.Classes, req.Wanted, baseStates(req.Offers, nil), nil)
			},
			"spread": func() []basePlacement {
				return greedySpread(req.Offers, req.Classes, req.Wanted, make([]int, len(req.Classes)), baseStates(req.Offers, nil), nil)
			},
			"matcher": func() []basePlacement {
				res := Match(req)
				var out []basePlacement
				for _, p := range res.Placements {
					out = append(out, basePlacement{p.Offer, p.Class})
				}
				return out
			},
		}
		for name, f := range run {
			if err := overCommit(req, f()); err != nil {
				t.Errorf("%s on %v: %v", name, g, err)
			}
		}
	}
}

// overCommit: per offer the placed needs fit its total, per class no
// more than wanted.
func overCommit(req *Request, ps []basePlacement) error {
	left := make([][3]int64, len(req.Offers))
	for i := range req.Offers {
		left[i] = refAmounts(req.Offers[i].Total())
	}
	count := make([]int, len(req.Classes))
	for _, p := range ps {
		need := refAmounts(req.Classes[p.class].Need)
		for d := 0; d < 3; d++ {
			left[p.offer][d] -= need[d]
			if left[p.offer][d] < 0 {
				return fmt.Errorf("offer %d over-committed in dimension %d", p.offer, d)
			}
		}
		count[p.class]++
		if count[p.class] > req.Wanted[p.class] {
			return fmt.Errorf("class %d placed %d times, wanted %d", p.class, count[p.class], req.Wanted[p.class])
		}
	}
	return nil
}

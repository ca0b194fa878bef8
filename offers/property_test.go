package offers

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
)

var constraintPool = []string{
	"hostname UNIQUE", "rack GROUP_BY 3", "rack GROUP_BY", "os LIKE centos.*", "os UNLIKE centos.*",
	"hostname MAX_PER 2", "zone CLUSTER a", "zone CLUSTER", "zone IS b", "rack MAX_PER 3",
}

// randomRequest builds a matching problem small enough for exhaustive
// checks but with every feature: reservations, roles, ports, attributes,
// constraints, running slices.
func randomRequest(r *rand.Rand) *Request {
	req := &Request{Strategy: Strategy(r.Intn(2))}
	roles := []string{"", "jenkins", "other"}
	n := r.Intn(30)
	for i := 0; i < n; i++ {
		o := Offer{
			ID:       fmt.Sprintf("O%d", r.Intn(1e6)),
			AgentID:  fmt.Sprintf("S%d", i),
			Hostname: fmt.Sprintf("h%d", r.Intn(n+1)),
			Role:     roles[r.Intn(3)],
			Unreserved: Amounts{
				CPUs: Milli(r.Intn(4001)),
				Mem:  Milli(r.Intn(4096) * 1000),
				Disk: Milli(r.Intn(3) * 1000000),
			},
		}
		if o.Role != "" && r.Intn(2) == 0 {
			o.Reserved = Amounts{CPUs: Milli(r.Intn(1001)), Mem: Milli(r.Intn(512) * 1000)}
		}
		if r.Intn(3) > 0 {
			b := uint64(31000 + r.Intn(100))
			o.Ports = []PortRange{{b, b + uint64(r.Intn(4))}}
			if r.Intn(2) == 0 {
				o.Ports = append(o.Ports, PortRange{b + 10, b + 10 + uint64(r.Intn(3))})
			}
		}
		o.Attributes = []Attribute{{Name: "rack", Text: fmt.Sprintf("r%d", r.Intn(3))}, {Name: "zone", Text: string(rune('a' + r.Intn(2)))}}
		if r.Intn(4) > 0 {
			o.Attributes = append(o.Attributes, Attribute{Name: "os", Text: []string{"centos7", "centos8", "ubuntu"}[r.Intn(3)]})
		}
		req.Offers = append(req.Offers, o)
	}
	nc := 1 + r.Intn(4)
	for c := 0; c < nc; c++ {
		cl := Class{
			Name:  fmt.Sprintf("c%d", c),
			Need:  Amounts{CPUs: Milli(1 + r.Intn(1000)), Mem: Milli(r.Intn(1024) * 1000), Disk: Milli(r.Intn(2) * 100000)},
			Ports: r.Intn(3),
			Role:  roles[r.Intn(2)],
		}
		for k := r.Intn(3); k > 0; k-- {
			cons, err := ParseConstraint(constraintPool[r.Intn(len(constraintPool))])
			if err != nil {
				panic(err)
			}
			cl.Constraints = append(cl.Constraints, cons)
		}
		req.Classes = append(req.Classes, cl)
		req.Wanted = append(req.Wanted, r.Intn(40))
	}
	for k := r.Intn(4); k > 0; k-- {
		req.Running = append(req.Running, Running{Class: r.Intn(nc), Hostname: fmt.Sprintf("h%d", r.Intn(5)),
			Attributes: []Attribute{{Name: "rack", Text: fmt.Sprintf("r%d", r.Intn(3))}, {Name: "zone", Text: "a"}}})
	}
	return req
}

// checkInvariants checks accounting, ports and declines; it reuses the
// matcher's role and constraint helpers, so the independent reference is
// refCheck in reference_test.go.
func checkInvariants(t *testing.T, req *Request, res *Result) {
	t.Helper()
	used := make([]struct{ resv, unres Amounts }, len(req.Offers))
	ports := make([]map[uint64]bool, len(req.Offers))
	placed := make([]int, len(req.Classes))
	for _, p := range res.Placements {
		o := &req.Offers[p.Offer]
		cl := &req.Classes[p.Class]
		placed[p.Class]++
		unres := res.Unreserved(p)
		if unres.CPUs < 0 || unres.Mem < 0 || unres.Disk < 0 || !res.Reserved(p).fits(cl.Need) {
			t.Fatalf("placement %+v takes reserved %+v, unreserved %+v for a need of %+v", p, res.Reserved(p), unres, cl.Need)
		}
		u := &used[p.Offer]
		u.resv = Amounts{u.resv.CPUs + res.Reserved(p).CPUs, u.resv.Mem + res.Reserved(p).Mem, u.resv.Disk + res.Reserved(p).Disk}
		u.unres = Amounts{u.unres.CPUs + unres.CPUs, u.unres.Mem + unres.Mem, u.unres.Disk + unres.Disk}
		if !roleOK(cl, o) || !staticOK(cl, o) {
			t.Fatalf("class %s placed on %s against its role or constraints", cl.Name, o.Hostname)
		}
		ps := res.PortsOf(p)
		if len(ps) != cl.Ports {
			t.Fatalf("placement got %d ports, class needs %d", len(ps), cl.Ports)
		}
		if ports[p.Offer] == nil {
			ports[p.Offer] = map[uint64]bool{}
		}
		for _, port := range ps {
			in := false
			for _, rg := range o.Ports {
				in = in || (port >= rg.Begin && port <= rg.End)
			}
			if !in || ports[p.Offer][port] {
				t.Fatalf("port %d on %s: outside the offer or used twice", port, o.ID)
			}
			ports[p.Offer][port] = true
		}
	}
	for i, u := range used {
		o := &req.Offers[i]
		if !u.resv.fits(o.Reserved) || !u.unres.fits(o.Unreserved) {
			t.Fatalf("offer %s over-committed: took %+v/%+v of %+v/%+v", o.ID, u.resv, u.unres, o.Reserved, o.Unreserved)
		}
	}
	unmet := map[int]int{}
	for _, u := range res.Unmet {
		unmet[u.Class] = u.Missing
		if u.Message == "" {
			t.Fatalf("unmet class %d without a message", u.Class)
		}
	}
	for c := range req.Classes {
		if placed[c]+unmet[c] != req.Wanted[c] {
			t.Fatalf("class %d: placed %d + unmet %d != wanted %d", c, placed[c], unmet[c], req.Wanted[c])
		}
	}
	// Declines are exactly the held offers that were not used.
	declined := map[int32]bool{}
	for _, d := range res.Decline {
		if declined[d] {
			t.Fatalf("offer %d declined twice", d)
		}
		declined[d] = true
	}
	for i := range req.Offers {
		usedIt := used[i].resv != (Amounts{}) || used[i].unres != (Amounts{}) || len(ports[i]) > 0
		for _, p := range res.Placements {
			usedIt = usedIt || p.Offer == int32(i)
		}
		if usedIt == declined[int32(i)] {
			t.Fatalf("offer %d: used=%v declined=%v", i, usedIt, declined[int32(i)])
		}
	}
	checkDynamic(t, req, res)
}

// checkDynamic verifies UNIQUE, MAX_PER and CLUSTER over running and new
// slices together.
func checkDynamic(t *testing.T, req *Request, res *Result) {
	t.Helper()
	for c := range req.Classes {
		for _, k := range req.Classes[c].Constraints {
			if !k.dynamic() || k.Op == GroupBy {
				continue
			}
			counts := map[string]int{}
			for _, r := range req.Running {
				if r.Class == c {
					if v, ok := fieldValue(k.Field, r.Hostname, r.Attributes); ok {
						counts[v]++
					}
				}
			}
			before := map[string]int{}
			for v, n := range counts {
				before[v] = n
			}
			for _, p := range res.Placements {
				if int(p.Class) == c {
					o := &req.Offers[p.Offer]
					v, _ := fieldValue(k.Field, o.Hostname, o.Attributes)
					counts[v]++
				}
			}
			for v, n := range counts {
				switch k.Op {
				case Unique:
					if n > 1 && n > before[v] {
						t.Fatalf("%s: value %s has %d slices", k, v, n)
					}
				case MaxPer:
					if n > k.n && n > before[v] {
						t.Fatalf("%s: value %s has %d slices", k, v, n)
					}
				case Cluster:
					if len(counts) > 1 && len(before) <= 1 {
						t.Fatalf("%s: slices on %v", k, counts)
					}
				}
			}
		}
	}
}

// checkMaximal: a class left with demand has no eligible offer with room.
func checkMaximal(t *testing.T, req *Request, res *Result) {
	t.Helper()
	m := replay(req, res)
	for _, u := range res.Unmet {
		cl := &req.Classes[u.Class]
		for i := range req.Offers {
			oi := int32(i)
			if roleOK(cl, &req.Offers[i]) && staticOK(cl, &req.Offers[i]) && m.dynamicOK(req, u.Class, oi) && m.st[i].fits(cl) {
				t.Fatalf("class %s left %d unplaced while offer %s (%s) has room: %s", cl.Name, u.Missing, req.Offers[i].ID, req.Offers[i].Hostname, u.Message)
			}
		}
	}
}

type placedKey struct {
	Offer, Class string
	Taken        [2]Amounts
	Ports        string
}

func canonicalResult(req *Request, res *Result) ([]placedKey, map[string]bool, []Unmet) {
	var ps []placedKey
	for _, p := range res.Placements {
		ps = append(ps, placedKey{req.Offers[p.Offer].ID + "/" + req.Offers[p.Offer].AgentID, req.Classes[p.Class].Name, [2]Amounts{res.Reserved(p), res.Unreserved(p)}, fmt.Sprint(res.PortsOf(p))})
	}
	dec := map[string]bool{}
	for _, d := range res.Decline {
		dec[req.Offers[d].AgentID] = true
	}
	return ps, dec, res.Unmet
}

func TestPropertiesAgainstTheReference(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	var reused Matcher
	for iter := 0; iter < 3000; iter++ {
		req := randomRequest(r)
		res := Match(req)
		checkInvariants(t, req, &res)
		checkMaximal(t, req, &res)

		// Same inputs in another order: the same result.
		shuffled := *req
		shuffled.Offers = append([]Offer(nil), req.Offers...)
		r.Shuffle(len(shuffled.Offers), func(i, j int) { shuffled.Offers[i], shuffled.Offers[j] = shuffled.Offers[j], shuffled.Offers[i] })
		res2 := reused.Match(&shuffled)
		a1, b1, c1 := canonicalResult(req, &res)
		a2, b2, c2 := canonicalResult(&shuffled, &res2)
		if !reflect.DeepEqual(a1, a2) || !reflect.DeepEqual(b1, b2) || !reflect.DeepEqual(c1, c2) {
			t.Fatalf("iteration %d: result depends on offer order:\n%v\n%v\n%v\n%v", iter, a1, a2, c1, c2)
		}
	}
}

// With one class and no constraints the optimum is known: every offer
// takes as many slices as fit, up to the demand. Spread must reach it and
// keep agents within one slice of each other unless an agent is full.
func TestSpreadIsCompleteAndEven(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for iter := 0; iter < 2000; iter++ {
		req := randomRequest(r)
		req.Strategy = Spread
		req.Classes = req.Classes[:1]
		req.Classes[0].Constraints = nil
		req.Classes[0].Role = ""
		req.Wanted = []int{r.Intn(200)}
		res := Match(req)
		capacity := 0
		for i := range req.Offers {
			var m Matcher
			one := &Request{Offers: req.Offers[i : i+1], Classes: req.Classes, Wanted: []int{1 << 20}}
			capacity += len(m.Match(one).Placements)
		}
		if want := min(capacity, req.Wanted[0]); len(res.Placements) != want {
			t.Fatalf("iteration %d: placed %d, the optimum is %d", iter, len(res.Placements), want)
		}
		counts := make([]int, len(req.Offers))
		for _, p := range res.Placements {
			counts[p.Offer]++
		}
		m := replay(req, &res)
		for a := range counts {
			for b := range counts {
				if counts[a] >= counts[b]+2 && m.st[b].fits(&req.Classes[0]) {
					t.Fatalf("iteration %d: spread gave %s %d slices and %s only %d while it had room", iter, req.Offers[a].Hostname, counts[a], req.Offers[b].Hostname, counts[b])
				}
			}
		}
	}
}

// replay applies a result's placements to a fresh Matcher laid out in input
// order (position i is offer i), to inspect what is left afterwards.
func replay(req *Request, res *Result) *Matcher {
	m := &Matcher{}
	m.prepare(req)
	for i := range req.Offers {
		m.order = append(m.order, int32(i))
		m.st = append(m.st, offerState{})
		m.st[i].reset(&req.Offers[i])
	}
	for k := range m.st {
		m.portsReady(req, int32(k))
	}
	for _, p := range res.Placements {
		m.place(req, int(p.Class), p.Offer)
	}
	return m
}

// randomWideRequest has many offers and few slices wanted, so that the
// matcher orders only a selected prefix of the offers; CPU values repeat
// and some offer IDs share their last 8 bytes (equal hashes), so ties at
// the prefix's edge occur.
func randomWideRequest(r *rand.Rand) *Request {
	req := &Request{Strategy: Strategy(r.Intn(2))}
	n := 64 + r.Intn(600)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("685fe32d-0000-O%d", r.Intn(1e6))
		if r.Intn(8) == 0 {
			id = fmt.Sprintf("%c-fw-same-tail", 'a'+r.Intn(26)) // equal tails
		}
		o := Offer{
			ID: id, AgentID: fmt.Sprintf("S%d", r.Intn(n)), Hostname: fmt.Sprintf("h%d", i),
			Unreserved: Amounts{CPUs: Milli(1000 * r.Intn(3)), Mem: Milli(r.Intn(4) * 1000000)},
			Attributes: []Attribute{{Name: "rack", Text: fmt.Sprintf("r%d", r.Intn(5))}},
		}
		if r.Intn(3) == 0 {
			o.Ports = []PortRange{{31000, 31000 + uint64(r.Intn(3))}}
		}
		req.Offers = append(req.Offers, o)
	}
	nc := 1 + r.Intn(3)
	budget := 1 + r.Intn(n/8)
	for c := 0; c < nc; c++ {
		cl := Class{Name: fmt.Sprintf("c%d", c), Need: Amounts{CPUs: Milli(100 + r.Intn(900)), Mem: Milli(r.Intn(3) * 1000000)}, Ports: r.Intn(2)}
		if r.Intn(4) == 0 {
			cons, err := ParseConstraint([]string{"rack LIKE r[01]", "hostname UNIQUE", "rack MAX_PER 2"}[r.Intn(3)])
			if err != nil {
				panic(err)
			}
			cl.Constraints = append(cl.Constraints, cons)
		}
		req.Classes = append(req.Classes, cl)
		w := r.Intn(budget + 1)
		budget -= w
		req.Wanted = append(req.Wanted, w)
	}
	return req
}

// Many offers, few slices: the matcher selects and orders only a prefix
// of the offers. The result must not depend on the input order, must pass
// the naive reference, and must be what ordering every offer gives.
func TestSelectedPrefixIsTheFullOrdersPrefix(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	var m, m2, full Matcher
	full.orderAll = true
	selected := 0
	for iter := 0; iter < 1500; iter++ {
		req := randomWideRequest(r)
		res := m.Match(req)
		if !m.complete {
			selected++
		}
		checkInvariants(t, req, &res)
		shuffled := *req
		shuffled.Offers = append([]Offer(nil), req.Offers...)
		r.Shuffle(len(shuffled.Offers), func(i, j int) { shuffled.Offers[i], shuffled.Offers[j] = shuffled.Offers[j], shuffled.Offers[i] })
		res2 := m2.Match(&shuffled)
		resFull := full.Match(req)
		a1, b1, c1 := canonicalResult(req, &res)
		a2, b2, c2 := canonicalResult(&shuffled, &res2)
		a3, b3, c3 := canonicalResult(req, &resFull)
		if !reflect.DeepEqual(a1, a2) || !reflect.DeepEqual(b1, b2) || !reflect.DeepEqual(c1, c2) {
			t.Fatalf("iteration %d: result depends on offer order:\n%v\n%v", iter, a1, a2)
		}
		if !reflect.DeepEqual(a1, a3) || !reflect.DeepEqual(b1, b3) || !reflect.DeepEqual(c1, c3) {
			t.Fatalf("iteration %d: the selected prefix differs from the full order:\n%v\n%v\n%v\n%v", iter, a1, a3, c1, c3)
		}
	}
	if selected < 300 {
		t.Fatalf("only %d of 1500 matches kept a selected prefix: the test does not exercise it", selected)
	}
}

// A plain request (no class with a role or constraints) is dealt
// by spread's own fast path. It must give exactly what the general path
// gives, placement for placement, and pass the naive reference.
func TestPlainDealingIsTheGeneralDealing(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	var m, general Matcher
	general.general = true
	deep := 0
	for iter := 0; iter < 3000; iter++ {
		req := randomRequest(r)
		req.Strategy = Spread
		for c := range req.Classes {
			req.Classes[c].Role, req.Classes[c].Constraints = "", nil
			req.Wanted[c] *= 1 + r.Intn(4) // deep enough for later rounds
		}
		res := m.Match(req)
		want := general.Match(req)
		if !reflect.DeepEqual(res.Placements, want.Placements) || !reflect.DeepEqual(res.Decline, want.Decline) || !reflect.DeepEqual(res.Unmet, want.Unmet) {
			t.Fatalf("iteration %d: the plain path gives\n%+v\nthe general path\n%+v", iter, res.Placements, want.Placements)
		}
		for _, p := range res.Placements {
			if res.Reserved(p) != want.Reserved(p) {
				t.Fatalf("iteration %d: reserved part %+v, the general path %+v", iter, res.Reserved(p), want.Reserved(p))
			}
		}
		if err := refCheck(req, make([][]string, len(req.Classes)), &res); err != nil {
			t.Fatalf("iteration %d: %v", iter, err)
		}
		perOffer := map[int32]int{}
		for _, p := range res.Placements {
			if perOffer[p.Offer]++; perOffer[p.Offer] == 2 {
				deep++
			}
		}
	}
	if deep < 1000 {
		t.Fatalf("only %d offers took a second slice: the later rounds are not exercised", deep)
	}
}

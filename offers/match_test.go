package offers

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

func offer(id string, cpus, mem float64, attrs ...string) Offer {
	o := Offer{ID: "O-" + id, AgentID: "S-" + id, Hostname: id, Unreserved: Amounts{CPUs: ToMilli(cpus), Mem: ToMilli(mem), Disk: ToMilli(1000)}}
	for _, a := range attrs {
		name, v, _ := strings.Cut(a, ":")
		o.Attributes = append(o.Attributes, Attribute{Name: name, Text: v})
	}
	return o
}

func slice(cpus, mem float64, constraints ...string) Class {
	c := Class{Name: "mesos", Need: Amounts{CPUs: ToMilli(cpus), Mem: ToMilli(mem)}}
	for _, s := range constraints {
		k, err := ParseConstraint(s)
		if err != nil {
			panic(err)
		}
		c.Constraints = append(c.Constraints, k)
	}
	return c
}

// perHost counts placements per hostname.
func perHost(req *Request, res *Result) map[string]int {
	out := map[string]int{}
	for _, p := range res.Placements {
		out[req.Offers[p.Offer].Hostname]++
	}
	return out
}

func TestFiveSlicesOfPointTwoFitExactlyInOneCPU(t *testing.T) {
	req := &Request{Offers: []Offer{offer("a1", 1.0, 1000)}, Classes: []Class{slice(0.2, 30)}, Wanted: []int{6}}
	res := Match(req)
	if len(res.Placements) != 5 {
		t.Fatalf("placed %d slices of 0.2 CPU in 1.0, want exactly 5", len(res.Placements))
	}
	if len(res.Unmet) != 1 || res.Unmet[0].Missing != 1 || res.Unmet[0].Reason != ReasonResources {
		t.Fatalf("unmet %+v, want 1 missing for resources", res.Unmet)
	}
	if want := "largest offer: 0 cpus on host a1 < 0.2 needed"; res.Unmet[0].Message != want {
		t.Fatalf("message %q, want %q", res.Unmet[0].Message, want)
	}
}

func TestExplainNamesTheLimitingDimensionAndBestCandidate(t *testing.T) {
	cases := []struct {
		name   string
		offers []Offer
		class  Class
		reason Reason
		want   string
	}{
		{"cpus", []Offer{offer("a1", 0.1, 100), offer("a2", 0.15, 100)}, slice(0.2, 30), ReasonResources, "largest offer: 0.15 cpus on host a2 < 0.2 needed"},
		{"mem", []Offer{offer("a1", 1, 16), offer("a2", 1, 20)}, slice(0.2, 30), ReasonResources, "largest offer: 20 mem on host a2 < 30 needed"},
		{"together", []Offer{offer("a1", 1, 16), offer("a2", 0.1, 100)}, slice(0.2, 30), ReasonResources, "no offer has 0.2 cpus, 30 mem, 0 disk and 0 ports together; closest: host a1"},
		{"none", nil, slice(0.2, 30), ReasonNoOffers, "no offers held"},
		{"like", []Offer{offer("a1", 1, 100, "os:ubuntu")}, slice(0.2, 30, "os LIKE centos.*"), ReasonConstraint, "constraint `os LIKE centos.*` excludes all 1 offers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Match(&Request{Offers: tc.offers, Classes: []Class{tc.class}, Wanted: []int{1}})
			if len(res.Unmet) != 1 {
				t.Fatalf("unmet %+v, want one entry", res.Unmet)
			}
			u := res.Unmet[0]
			if u.Reason != tc.reason || !strings.HasPrefix(u.Message, tc.want) {
				t.Fatalf("got %v %q, want %v %q", u.Reason, u.Message, tc.reason, tc.want)
			}
		})
	}
	role := slice(0.2, 30)
	role.Role = "jenkins"
	o := offer("a1", 4, 100)
	o.Role = "other"
	res := Match(&Request{Offers: []Offer{o}, Classes: []Class{role}, Wanted: []int{1}})
	if res.Unmet[0].Reason != ReasonRole || res.Unmet[0].Message != "no offer is allocated to role jenkins (1 held for other roles)" {
		t.Fatalf("role: %+v", res.Unmet[0])
	}
}

func TestSpreadFillsServersEvenly(t *testing.T) {
	req := &Request{Offers: []Offer{offer("a1", 4, 4000), offer("a2", 4, 4000), offer("a3", 4, 4000)}, Classes: []Class{slice(0.2, 30)}, Wanted: []int{7}}
	counts := perHost(req, ptr(Match(req)))
	for h, n := range counts {
		if n < 2 || n > 3 {
			t.Fatalf("spread placed %v, want 2 or 3 per host (host %s has %d)", counts, h, n)
		}
	}
}

func TestSpreadGoesToTheLeastLoadedAgentFirst(t *testing.T) {
	req := &Request{Offers: []Offer{offer("busy", 0.4, 4000), offer("idle", 4, 4000)}, Classes: []Class{slice(0.2, 30)}, Wanted: []int{1}}
	res := Match(req)
	if got := req.Offers[res.Placements[0].Offer].Hostname; got != "idle" {
		t.Fatalf("spread placed the only slice on %s, want the least-loaded agent (idle)", got)
	}
	if len(res.Decline) != 1 || req.Offers[res.Decline[0]].Hostname != "busy" {
		t.Fatalf("decline %v, want the unused offer", res.Decline)
	}
}

func TestBinpackFillsOneAgentBeforeTheNext(t *testing.T) {
	req := &Request{Offers: []Offer{offer("a1", 1, 4000), offer("a2", 1, 4000), offer("a3", 1, 4000)}, Classes: []Class{slice(0.2, 30)}, Wanted: []int{7}, Strategy: Binpack}
	res := Match(req)
	counts := perHost(req, &res)
	full := 0
	for _, n := range counts {
		if n == 5 {
			full++
		}
	}
	if full != 1 || len(counts) != 2 || len(res.Decline) != 1 {
		t.Fatalf("binpack placed %v (decline %v), want one agent full (5), one with 2, one untouched", counts, res.Decline)
	}
}

func TestBinpackPrefersTheFullestAgent(t *testing.T) {
	req := &Request{Offers: []Offer{offer("roomy", 4, 4000), offer("tight", 0.5, 4000)}, Classes: []Class{slice(0.2, 30)}, Wanted: []int{2}, Strategy: Binpack}
	if counts := perHost(req, ptr(Match(req))); counts["tight"] != 2 {
		t.Fatalf("binpack placed %v, want both on the fullest agent (tight)", counts)
	}
}

func TestConstraints(t *testing.T) {
	hosts := []Offer{
		offer("a1", 4, 4000, "rack:r1", "os:centos7", "zone:a"),
		offer("a2", 4, 4000, "rack:r1", "os:centos8", "zone:b"),
		offer("a3", 4, 4000, "rack:r2", "os:ubuntu", "zone:a"),
		offer("a4", 4, 4000, "rack:r2", "zone:b"),
	}
	cases := []struct {
		constraint string
		wanted     int
		check      func(map[string]int) string
	}{
		{"hostname UNIQUE", 10, func(c map[string]int) string {
			for h, n := range c {
				if n != 1 {
					return fmt.Sprintf("%s has %d", h, n)
				}
			}
			return expectTotal(c, 4)
		}},
		{"os LIKE centos.*", 6, func(c map[string]int) string {
			if c["a3"]+c["a4"] != 0 {
				return "placed on a non-centos host"
			}
			return expectTotal(c, 6)
		}},
		{"os UNLIKE centos.*", 4, func(c map[string]int) string {
			if c["a1"]+c["a2"] != 0 {
				return "placed on a centos host"
			}
			return expectTotal(c, 4)
		}},
		{"zone IS b", 3, func(c map[string]int) string {
			if c["a1"]+c["a3"] != 0 {
				return "placed outside zone b"
			}
			return expectTotal(c, 3)
		}},
		{"zone CLUSTER a", 4, func(c map[string]int) string {
			if c["a2"]+c["a4"] != 0 {
				return "placed outside zone a"
			}
			return expectTotal(c, 4)
		}},
		{"rack CLUSTER", 5, func(c map[string]int) string {
			if (c["a1"]+c["a2"] > 0) == (c["a3"]+c["a4"] > 0) {
				return "slices in both racks"
			}
			return expectTotal(c, 5)
		}},
		{"hostname MAX_PER 2", 10, func(c map[string]int) string {
			for h, n := range c {
				if n > 2 {
					return fmt.Sprintf("%s has %d", h, n)
				}
			}
			return expectTotal(c, 8)
		}},
		{"rack GROUP_BY 2", 6, func(c map[string]int) string {
			if r1, r2 := c["a1"]+c["a2"], c["a3"]+c["a4"]; r1 != 3 || r2 != 3 {
				return fmt.Sprintf("racks got %d and %d", r1, r2)
			}
			return ""
		}},
	}
	for _, strategy := range []Strategy{Spread, Binpack} {
		for _, tc := range cases {
			t.Run(strategy.String()+"/"+tc.constraint, func(t *testing.T) {
				req := &Request{Offers: hosts, Classes: []Class{slice(0.2, 30, tc.constraint)}, Wanted: []int{tc.wanted}, Strategy: strategy}
				res := Match(req)
				if msg := tc.check(perHost(req, &res)); msg != "" {
					t.Fatalf("%s: %s (placements %v)", tc.constraint, msg, perHost(req, &res))
				}
			})
		}
	}
}

func expectTotal(c map[string]int, want int) string {
	total := 0
	for _, n := range c {
		total += n
	}
	if total != want {
		return fmt.Sprintf("placed %d, want %d", total, want)
	}
	return ""
}

func TestRunningSlicesCountForConstraints(t *testing.T) {
	req := &Request{
		Offers:  []Offer{offer("a1", 4, 4000), offer("a2", 4, 4000)},
		Classes: []Class{slice(0.2, 30, "hostname UNIQUE")},
		Wanted:  []int{2},
		Running: []Running{{Class: 0, Hostname: "a1"}},
	}
	res := Match(req)
	if c := perHost(req, &res); c["a1"] != 0 || c["a2"] != 1 {
		t.Fatalf("placed %v, want only a2 (a1 already runs one)", c)
	}
	if len(res.Unmet) != 1 || res.Unmet[0].Reason != ReasonConstraint || !strings.Contains(res.Unmet[0].Message, "hostname UNIQUE") {
		t.Fatalf("unmet %+v, want the UNIQUE constraint named", res.Unmet)
	}
}

func TestPortsAreConcreteAndNotReused(t *testing.T) {
	o := offer("a1", 4, 4000)
	o.Ports = []PortRange{{31000, 31001}, {31005, 31005}}
	cl := slice(0.2, 30)
	cl.Ports = 2
	req := &Request{Offers: []Offer{o}, Classes: []Class{cl}, Wanted: []int{2}}
	res := Match(req)
	if len(res.Placements) != 1 {
		t.Fatalf("placed %d slices needing 2 ports in 3 free ports, want 1", len(res.Placements))
	}
	if got := res.PortsOf(res.Placements[0]); len(got) != 2 || got[0] != 31000 || got[1] != 31001 {
		t.Fatalf("ports %v, want [31000 31001]", got)
	}
	if !strings.HasPrefix(res.Unmet[0].Message, "most free ports: 1 on host a1 < 2 needed") {
		t.Fatalf("message %q", res.Unmet[0].Message)
	}
}

func TestReservedResourcesAreTakenFirst(t *testing.T) {
	o := offer("a1", 1, 100)
	o.Role = "jenkins"
	o.Reserved = Amounts{CPUs: ToMilli(0.3), Mem: ToMilli(40)}
	cl := slice(0.2, 30)
	cl.Role = "jenkins"
	req := &Request{Offers: []Offer{o}, Classes: []Class{cl}, Wanted: []int{2}}
	res := Match(req)
	p0, p1 := res.Placements[0], res.Placements[1]
	if res.Reserved(p0).CPUs != 200 || res.Unreserved(p0).CPUs != 0 || res.Reserved(p1).CPUs != 100 || res.Unreserved(p1).CPUs != 100 {
		t.Fatalf("cpus taken %+v then %+v, want the reservation used up first", p0, p1)
	}
	if res.Reserved(p1).Mem != ToMilli(10) || res.Unreserved(p1).Mem != ToMilli(20) {
		t.Fatalf("mem of the second slice %+v, want 10 reserved + 20 unreserved", p1)
	}
}

func TestSeveralClassesShareOffers(t *testing.T) {
	small, big := slice(0.2, 30), slice(1, 1000)
	big.Name = "big"
	req := &Request{Offers: []Offer{offer("a1", 2, 2000), offer("a2", 2, 2000)}, Classes: []Class{small, big}, Wanted: []int{5, 2}}
	res := Match(req)
	byClass := map[int32]int{}
	for _, p := range res.Placements {
		byClass[p.Class]++
	}
	if byClass[0] != 5 || byClass[1] != 2 || len(res.Unmet) != 0 {
		t.Fatalf("placed %v (unmet %+v), want 5 small and 2 big", byClass, res.Unmet)
	}
}

func TestNoDemandDeclinesEverything(t *testing.T) {
	req := &Request{Offers: []Offer{offer("a1", 1, 100), offer("a2", 1, 100)}, Classes: []Class{slice(0.2, 30)}, Wanted: []int{0}}
	res := Match(req)
	if len(res.Placements) != 0 || len(res.Decline) != 2 || len(res.Unmet) != 0 {
		t.Fatalf("got %+v, want both offers declined", res)
	}
}

func TestParseConstraintErrorsSayWhatWasExpected(t *testing.T) {
	cases := map[string]string{
		"":                   "a field",
		"hostname":           "an operator after `hostname`",
		"hostname NEAR":      "got `NEAR`",
		"hostname UNIQUE x":  "no value after UNIQUE",
		"rack GROUP_BY zero": "a positive number of groups",
		"hostname MAX_PER":   "a positive limit after MAX_PER",
		"os LIKE":            "a regular expression after LIKE",
		"os LIKE centos(":    "a valid regular expression",
		"zone IS":            "a value after IS",
		"hostname max_per 0": "a positive limit",
	}
	for in, want := range cases {
		_, err := ParseConstraint(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseConstraint(%q) = %v, want an error containing %q", in, err, want)
		}
	}
	c, err := ParseConstraintFields([]string{"rack", "group_by", "3"})
	if err != nil || c.Op != GroupBy || c.String() != "rack GROUP_BY 3" {
		t.Fatalf("fields form: %v %v", c, err)
	}
	if _, err := ParseStrategy("random"); err == nil || !strings.Contains(err.Error(), "spread") {
		t.Fatalf("ParseStrategy(random) = %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestUnlikeAcceptsOffersWithoutTheAttribute: Marathon's UNLIKE holds when
// the field is absent, so an agent without `os` takes slices.
func TestUnlikeAcceptsOffersWithoutTheAttribute(t *testing.T) {
	for _, strategy := range []Strategy{Spread, Binpack} {
		req := &Request{Offers: []Offer{offer("bare", 4, 4000, "rack:r2")}, Classes: []Class{slice(0.2, 30, "os UNLIKE centos.*")}, Wanted: []int{3}, Strategy: strategy}
		if counts := perHost(req, ptr(Match(req))); counts["bare"] != 3 {
			t.Fatalf("%v: placed %v, want all 3 slices on the agent that has no os attribute", strategy, counts)
		}
	}
}

// radixSort orders keys by their bits at and above lo, whatever their
// distribution: uniform, a few distinct high parts (recursion), all equal,
// differing only just above lo. Asked for a prefix of s, it puts the s
// smallest first, in order, and keeps every key.
func TestRadixSortOrdersTheHighBits(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	gens := []func(i int) uint64{
		func(int) uint64 { return r.Uint64() },
		func(int) uint64 { return uint64(r.Intn(3))<<60 | uint64(r.Intn(1<<20))<<20 },
		func(int) uint64 { return 42 << 20 },
		func(i int) uint64 { return uint64(r.Intn(4)) << 20 },
		func(i int) uint64 { return uint64(r.Intn(5))<<50 | uint64(r.Intn(7))<<21 },
	}
	for iter := 0; iter < 400; iter++ {
		lo := uint(1 + r.Intn(20))
		gen := gens[iter%len(gens)]
		n := r.Intn(5000)
		keys := make([]uint64, n)
		for i := range keys {
			keys[i] = gen(i)&^(1<<lo-1) | uint64(r.Intn(1<<lo)) // random low (index) bits
		}
		want := make([]uint64, n)
		for i, k := range keys {
			want[i] = k >> lo
		}
		slices.Sort(want)
		all := slices.Clone(keys)
		slices.Sort(all)
		s := n
		if iter%2 == 1 {
			s = r.Intn(n + 1)
		}
		radixSort(keys, make([]uint64, n), lo, make([]int32, radixScratch), s)
		for i, k := range keys[:s] {
			if k>>lo != want[i] {
				t.Fatalf("iteration %d (n %d, lo %d, prefix %d): position %d has %x, want %x", iter, n, lo, s, i, k>>lo, want[i])
			}
		}
		got := slices.Clone(keys)
		slices.Sort(got)
		if !slices.Equal(got, all) {
			t.Fatalf("iteration %d (n %d, lo %d, prefix %d): the keys changed", iter, n, lo, s)
		}
	}
}

// TestScarceRoomIsSharedByTheClasses: classes that want more than the
// offers hold share the room slice by slice, whatever the strategy; the
// first class in the list does not take it all (with binpack it did).
func TestScarceRoomIsSharedByTheClasses(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for iter := 0; iter < 500; iter++ {
		var offs []Offer
		for i := 0; i < 1+r.Intn(6); i++ {
			offs = append(offs, offer(fmt.Sprintf("o%d", i), float64(1+r.Intn(8))/10, 4000))
		}
		nc := 2 + r.Intn(3)
		var classes []Class
		var wanted []int
		for c := 0; c < nc; c++ {
			classes = append(classes, slice(0.1, 30))
			wanted = append(wanted, 100) // more than any of these offers hold
		}
		for _, strategy := range []Strategy{Spread, Binpack} {
			req := &Request{Offers: offs, Classes: classes, Wanted: wanted, Strategy: strategy}
			res := Match(req)
			per := make([]int, nc)
			for _, p := range res.Placements {
				per[p.Class]++
			}
			lo, hi := per[0], per[0]
			for _, n := range per {
				lo, hi = min(lo, n), max(hi, n)
			}
			if hi-lo > 1 {
				t.Fatalf("%v over %d offers: slices per class %v; want them within one of each other", strategy, len(offs), per)
			}
		}
	}
}

package offers

// Baselines for BenchmarkMatch: faithful models of what the peers do, each
// a plain loop over fixed-point amounts (the plugins' float arithmetic is
// not modelled: it would only make them slower). They return placements
// as (offer, class) pairs; checkBaseline verifies every one of them with
// the same over-commit check.

type basePlacement struct{ offer, class int32 }

// baseState is an offer's free CPU, memory and disk.
type baseState struct{ cpus, mem, disk Milli }

func baseStates(offers []Offer, st []baseState) []baseState {
	st = st[:0]
	for i := range offers {
		t := offers[i].Total()
		st = append(st, baseState{t.CPUs, t.Mem, t.Disk})
	}
	return st
}

func (s *baseState) take(n Amounts) bool {
	if n.CPUs > s.cpus || n.Mem > s.mem || n.Disk > s.disk {
		return false
	}
	s.cpus -= n.CPUs
	s.mem -= n.Mem
	s.disk -= n.Disk
	return true
}

// plugin1x is the Jenkins Mesos plugin 1.x loop (JenkinsScheduler
// .resourceOffers): for each offer, walk the list of pending requests,
// launch the first that fits, remove it from the list (a linked list:
// O(1)), go on with the next offer. One task per offer per cycle.
func plugin1x(offers []Offer, classes []Class, requests []int32, next []int32, st []baseState, out []basePlacement) []basePlacement {
	// next[i] is the request after i; -1 ends the list; head is next[len].
	n := len(requests)
	for i := 0; i < n; i++ {
		next[i] = int32(i + 1)
	}
	if n > 0 {
		next[n-1] = -1
	}
	head := int32(-1)
	if n > 0 {
		head = 0
	}
	for oi := range offers {
		s := &st[oi]
		prev := int32(-1)
		for r := head; r >= 0; prev, r = r, next[r] {
			if s.take(classes[requests[r]].Need) {
				out = append(out, basePlacement{int32(oi), requests[r]})
				if prev < 0 {
					head = next[r]
				} else {
					next[prev] = next[r]
				}
				break
			}
		}
	}
	return out
}

// usi2x is the 2.x plugin's shape on Mesos' unified scheduler interface:
// every offer is matched against every pending spec; specs that got a
// task leave the pending list after the offer (compaction), so later
// offers scan what is still pending.
func usi2x(offers []Offer, classes []Class, pending []int32, st []baseState, out []basePlacement) []basePlacement {
	for oi := range offers {
		s := &st[oi]
		w := 0
		for _, c := range pending {
			if s.take(classes[c].Need) {
				out = append(out, basePlacement{int32(oi), c})
				continue
			}
			pending[w] = c
			w++
		}
		pending = pending[:w]
		if len(pending) == 0 {
			break
		}
	}
	return out
}

// firstFit is a greedy fixed-point first fit: each slice on the first
// offer with room. A cursor per class is exact: resources only shrink, so
// an offer too small for a class stays too small.
func firstFit(offers []Offer, classes []Class, wanted []int, st []baseState, out []basePlacement) []basePlacement {
	for c := range classes {
		need := classes[c].Need
		cur := 0
		for k := 0; k < wanted[c] && cur < len(offers); {
			if st[cur].take(need) {
				out = append(out, basePlacement{int32(cur), int32(c)})
				k++
				continue
			}
			cur++
		}
	}
	return out
}

// greedySpread deals slices round robin: one slice per offer per round,
// classes in turn, until demand is met or a round places nothing.
func greedySpread(offers []Offer, classes []Class, wanted []int, rem []int, st []baseState, out []basePlacement) []basePlacement {
	demand := 0
	for c, w := range wanted {
		rem[c] = w
		demand += w
	}
	next := 0
	for demand > 0 {
		progress := false
		for oi := range offers {
			for k := 0; k < len(classes); k++ {
				c := (next + k) % len(classes)
				if rem[c] > 0 && st[oi].take(classes[c].Need) {
					out = append(out, basePlacement{int32(oi), int32(c)})
					rem[c]--
					demand--
					next = c + 1
					progress = true
					break
				}
			}
			if demand == 0 {
				break
			}
		}
		if !progress {
			break
		}
	}
	return out
}

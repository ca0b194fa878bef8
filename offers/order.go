package offers

import (
	"math/bits"
	"slices"
	"strings"
)

// The canonical order makes the result independent of the order offers
// arrived in: every offer gets a key that depends only on its content, and
// the matching loops visit offers by key. One key is a single uint64, from
// the top:
//
//	primBits  the strategy's primary: free CPU (most first for spread,
//	          least first for binpack), capped at 1,048.575 CPUs
//	hash      a hash of the offer ID's tail, which also spreads equal
//	          agents pseudo-randomly
//	idxBits   the offer's index in the request (not part of the order:
//	          it only makes keys unique and names the offer)
//
// Offers whose primary and hash are both equal are ordered by their IDs
// (fixRun), so the order is total on content.
//
// Only as much of the order is built as the matching loops visit: with
// fewer slices wanted than offers held, spread's first round visits one
// offer per slice, so the smallest keys are selected (a bounded heap, one
// comparison per offer, when they are at most an eighth of the offers;
// otherwise the radix sort's first pass, then only the buckets before the
// cut) and only they are sorted and laid out. The rest is sorted the first
// time a loop walks past the selected prefix.
const (
	primBits = 20
	maxPrim  = 1<<primBits - 1
	lowBits  = 64 - primBits // hash and index
)

// computeKeys fills m.keys in input order: m.keys[i] is offer i's key.
func (m *Matcher) computeKeys(req *Request) {
	n := len(req.Offers)
	ib := uint(bits.Len(uint(n - 1)))
	if ib == 0 {
		ib = 1
	}
	m.idxBits = ib
	m.idxMask = 1<<ib - 1
	// hashShift is 20 + ib, below 64 for any slice Go can hold; the masks
	// tell the compiler so, which keeps the shifts free of the fix-up Go
	// otherwise adds for counts of 64 or more.
	hashShift := (64 - (lowBits - ib)) & 63
	ib &= 63
	m.keys = growUint64(m.keys, n)
	keys := m.keys
	offers := req.Offers
	keys = keys[:len(offers)]
	// flip turns the primary into "most CPU first" for spread: p^flip is
	// maxPrim-p for p in [0, maxPrim].
	flip := uint64(maxPrim)
	if req.Strategy == Binpack {
		flip = 0
	}
	for i := range offers {
		o := &offers[i]
		cpu := int64(o.Reserved.CPUs + o.Unreserved.CPUs)
		p := uint64(min(max(cpu, 0), maxPrim))
		// Fibonacci hashing: the product's top bits depend on every byte
		// of the tail.
		var t uint64
		if id := o.ID; len(id) >= 8 {
			// tail, inlined by hand (too large for the compiler to inline).
			b := id[len(id)-8:]
			t = uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
				uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		} else {
			t = shortTail(id)
		}
		h := (t * 0x9E3779B97F4A7C15) >> hashShift
		keys[i] = (p^flip)<<lowBits | h<<ib | uint64(i)
	}
}

// beginOrder starts the canonical order with room for want positions:
// with want well below the number of offers only the want smallest keys
// are ordered; otherwise all of them.
func (m *Matcher) beginOrder(req *Request, want int) {
	m.order = m.order[:0]
	m.st = m.st[:0]
	m.complete = false
	if !m.orderAll && m.selectNext(req, want) {
		return
	}
	m.orderRest(req)
}

// more orders more of the offers after those already in order (twice as
// many, or all of them); it reports false when every offer is in order.
func (m *Matcher) more(req *Request) bool {
	if m.complete {
		return false
	}
	if !m.selectNext(req, len(m.order)) {
		m.orderRest(req)
	}
	return true
}

// selectNext appends the want next offers in canonical order, when that is
// cheaper than ordering all that are left. It selects the want+1 smallest
// keys above the threshold: the last one is the smallest key left out, and
// if it ties the one before it (equal primary and hash), which of the two
// is in would depend on their indices, so it reports false and the caller
// orders everything instead.
func (m *Matcher) selectNext(req *Request, want int) bool {
	left := len(m.keys) - len(m.order)
	if want <= 0 || want+1 >= left {
		return false
	}
	var sel []uint64
	switch {
	case want+1 <= left/8:
		if !m.selectSmallest(want + 1) {
			return false
		}
		sel = m.sel
	case len(m.order) == 0:
		// Too many for the heap, but not all: the first radix pass
		// over every key, then only the buckets before the cut are
		// sorted, and only the prefix is laid out. m.keys is permuted
		// in place; nothing after this needs it in input order.
		m.sortKeysPrefix(m.keys, want+1)
		sel = m.keys
	default:
		return false
	}
	if sel[want]>>m.idxBits == sel[want-1]>>m.idxBits {
		return false
	}
	sel = sel[:want]
	m.threshold = sel[want-1] // the largest: fixing ties may move it
	m.appendOrdered(req, sel)
	return true
}

// orderRest sorts every offer not yet ordered (keys above the threshold)
// and appends them: they all come after the prefix.
func (m *Matcher) orderRest(req *Request) {
	// With nothing ordered yet the keys are sorted in place: the input
	// order is not needed once every offer is ordered.
	rest := m.keys
	if len(m.order) > 0 {
		rest = m.sel[:0]
		for _, k := range m.keys {
			if k > m.threshold {
				rest = append(rest, k)
			}
		}
		m.sel = rest
	}
	m.sortKeys(rest)
	m.appendOrdered(req, rest)
	m.complete = true
}

// appendOrdered appends offers, by sorted key, to the order and lays out
// their matching state in the same order, so the loops walk memory
// sequentially. Runs of equal primary and hash (a hash collision, or the
// same offer twice) are put in ID order first (fixRun): a neighbour check
// here instead of a pass of its own.
func (m *Matcher) appendOrdered(req *Request, keys []uint64) {
	from, to := len(m.order), len(m.order)+len(keys)
	if cap(m.order) < to {
		m.order = append(make([]int32, 0, max(to, len(req.Offers))), m.order...)
	}
	if cap(m.st) < to {
		m.st = append(make([]offerState, 0, max(to, len(req.Offers))), m.st...)
	}
	m.order, m.st = m.order[:to], m.st[:to]
	order, st, mask, ib := m.order[from:to], m.st[from:to], m.idxMask, m.idxBits
	offers, eager := req.Offers, m.eagerPorts
	fixed := 0 // keys before it are in their final order
	for i := range keys {
		if i >= fixed && i+1 < len(keys) && (keys[i]^keys[i+1])>>ib == 0 {
			fixed = m.fixRun(req, keys, i)
		}
		oi := int32(keys[i] & mask)
		order[i] = oi
		o := &offers[oi]
		st[i].reset(o)
		if eager && len(o.Ports) > 0 {
			st[i].loadPorts(o)
		}
	}
}

// selectSmallest puts the s smallest keys not yet ordered (above the
// threshold, once some are), sorted, in m.sel: a max-heap of s keys that each further
// key is compared with once. It reports false when the heap would cost
// more than sorting (keys arriving smallest last make nearly every one an
// insertion).
func (m *Matcher) selectSmallest(s int) bool {
	keys, above := m.keys, len(m.order) > 0
	h := m.sel[:0]
	i := 0
	for ; i < len(keys) && len(h) < s; i++ {
		if !above || keys[i] > m.threshold {
			h = append(h, keys[i])
		}
	}
	for j := s/2 - 1; j >= 0; j-- {
		siftDown(h, j)
	}
	budget := len(keys) / 2 // insertions allowed before sorting is cheaper
	top := h[0]
	for _, k := range keys[i:] {
		if k < top && (!above || k > m.threshold) {
			h[0] = k
			siftDown(h, 0)
			top = h[0]
			if budget--; budget < 0 {
				m.sel = h
				return false
			}
		}
	}
	slices.Sort(h)
	m.sel = h
	return true
}

// siftDown restores the max-heap property below i.
func siftDown(h []uint64, i int) {
	n := len(h)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && h[c+1] > h[c] {
			c++
		}
		if h[i] >= h[c] {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// fixRun orders the run of keys from i on whose primary and hash are
// equal by the offers' IDs, and returns where the run ends.
func (m *Matcher) fixRun(req *Request, keys []uint64, i int) int {
	j := i + 1
	for j < len(keys) && (keys[j]^keys[i])>>m.idxBits == 0 {
		j++
	}
	run := keys[i:j]
	for a := 1; a < len(run); a++ {
		for b := a; b > 0 && idLess(&req.Offers[run[b]&m.idxMask], &req.Offers[run[b-1]&m.idxMask]); b-- {
			run[b], run[b-1] = run[b-1], run[b]
		}
	}
	return j
}

func idLess(a, b *Offer) bool {
	if c := strings.Compare(a.AgentID, b.AgentID); c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}

// shortTail reads an ID shorter than 8 bytes whole, with its length (the
// key reads the last 8 bytes of longer IDs, where Mesos IDs differ:
// "…-O345").
func shortTail(s string) uint64 {
	h := uint64(len(s))
	for i := 0; i < len(s); i++ {
		h = h<<8 | uint64(s[i])
	}
	return h
}

// sortKeys sorts keys ascending by their primary and hash (the index bits
// are left as they fall: fixRun orders equal runs). Small inputs use a
// comparison sort; larger ones an MSD radix sort (radixSort).
func (m *Matcher) sortKeys(keys []uint64) { m.sortKeysPrefix(keys, len(keys)) }

// sortKeysPrefix puts the s smallest keys first, sorted as sortKeys
// sorts them; the rest follow in no particular order.
func (m *Matcher) sortKeysPrefix(keys []uint64, s int) {
	if len(keys) <= 64 {
		slices.Sort(keys)
		return
	}
	m.tmpKeys = growUint64(m.tmpKeys, len(keys))
	if len(m.scratch) < radixScratch {
		m.scratch = make([]int32, radixScratch)
	}
	radixSort(keys, m.tmpKeys[:len(keys)], m.idxBits, m.scratch, s)
}

// radixSort is a most-significant-digit radix sort of the bits at and
// above lo: one counting pass on the highest digit in which the keys
// differ, then each bucket on its own. Hashes are uniform, so with as many
// buckets as keys one pass leaves buckets of a few keys, finished by
// insertion sort; buckets that stay large (many equal primaries) recurse
// on the next digit. tmp is scratch of the same length; counts holds the
// bucket counts of this level and those below (radixScratch of them).
// Only the buckets that hold one of the s smallest keys are sorted
// further: with s < len(keys) the rest stay as the pass left them.
func radixSort(keys, tmp []uint64, lo uint, counts []int32, s int) {
	n := len(keys)
	if n <= 32 {
		insertionSort(keys)
		return
	}
	var varying uint64
	first := keys[0]
	for _, k := range keys {
		varying |= k ^ first
	}
	varying >>= lo
	if varying == 0 {
		return
	}
	top := uint(bits.Len64(varying)) + lo // one above the highest differing bit
	d := min(uint(bits.Len(uint(n))), 11) // about as many buckets as keys
	shift := lo
	if top-lo > d {
		shift = top - d
	}
	buckets := 1 << (top - shift)
	mask := uint64(buckets - 1)
	count, pos := counts[:buckets+1], counts[buckets+1:2*(buckets+1)]
	clear(count)
	for _, k := range keys {
		count[(k>>shift)&mask+1]++
	}
	for i := 1; i <= buckets; i++ {
		count[i] += count[i-1]
	}
	// count[b] is now where bucket b starts; scatter, then copy back.
	copy(pos, count) // the running write positions
	for _, k := range keys {
		b := (k >> shift) & mask
		tmp[pos[b]] = k
		pos[b]++
	}
	copy(keys, tmp)
	if shift == lo {
		return // the last digit: buckets hold equal keys
	}
	below := counts[2*(buckets+1):]
	for b := 0; b < buckets && int(count[b]) < s; b++ {
		from, to := count[b], count[b+1]
		switch {
		case to-from > 32:
			radixSort(keys[from:to], tmp[from:to], lo, below, s-int(from))
		case to-from > 1:
			insertionSort(keys[from:to])
		}
	}
}

// radixScratch is enough counts for radixSort's deepest recursion: a level
// with more than 32 keys takes at least 6 bits, so at most 11 levels cover
// 63 bits, each with two arrays of up to 2,049 counts.
const radixScratch = 12 * 2 * (1<<11 + 1)

func insertionSort(keys []uint64) {
	for a := 1; a < len(keys); a++ {
		k := keys[a]
		b := a
		for ; b > 0 && keys[b-1] > k; b-- {
			keys[b] = keys[b-1]
		}
		keys[b] = k
	}
}

func growUint64(s []uint64, n int) []uint64 {
	if cap(s) < n {
		return make([]uint64, n)
	}
	return s[:n]
}

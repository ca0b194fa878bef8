package offers

import "strings"

// canonicalOrder sorts the offers into the strategy's order with a key
// that depends only on each offer's content, so the result does not depend
// on the order offers arrived in. Spread: most free CPU first; binpack:
// least free first. Ties are broken by a hash of the agent and offer IDs
// (which also spreads equal agents pseudo-randomly), and exact key ties by
// comparing the IDs.
func (m *Matcher) canonicalOrder(req *Request) {
	n := len(req.Offers)
	m.order = growInt32(m.order, n)
	m.keys = growUint64(m.keys, n)
	m.tmpState = m.tmpState[:0]
	var first, varying uint64
	for i := range req.Offers {
		o := &req.Offers[i]
		m.tmpState = append(m.tmpState, initialState(o))
		cpu := o.Reserved.CPUs + o.Unreserved.CPUs
		prim := uint32(0)
		if cpu > 0 {
			prim = uint32(min(int64(cpu), 1<<32-1))
		}
		if req.Strategy != Binpack {
			prim = ^prim
		}
		k := uint64(prim)<<32 | uint64(idHash(o.AgentID, o.ID))
		if i == 0 {
			first = k
		}
		varying |= k ^ first
		m.keys[i] = k
		m.order[i] = int32(i)
	}
	m.radixSort(varying)
	// Equal keys (a 32-bit hash collision, about one pair in 860 among
	// 10,000 offers, or the same offer twice): order by the IDs themselves.
	for i := 0; i < n; {
		j := i + 1
		for j < n && m.keys[j] == m.keys[i] {
			j++
		}
		if j-i > 1 {
			run := m.order[i:j]
			for a := 1; a < len(run); a++ {
				for b := a; b > 0 && idLess(&req.Offers[run[b]], &req.Offers[run[b-1]]); b-- {
					run[b], run[b-1] = run[b-1], run[b]
				}
			}
		}
		i = j
	}
}

func idLess(a, b *Offer) bool {
	if c := strings.Compare(a.AgentID, b.AgentID); c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}

// idHash mixes the tails of the IDs (where Mesos IDs differ: "-S12",
// "-O345") into 32 bits.
func idHash(agent, offer string) uint32 {
	h := tail(agent)*0x9E3779B97F4A7C15 ^ tail(offer)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return uint32(h)
}

func tail(s string) uint64 {
	n := len(s)
	if n < 8 {
		h := uint64(n)
		for i := 0; i < n; i++ {
			h = h<<8 | uint64(s[i])
		}
		return h
	}
	t := s[n-8:]
	// Written so the compiler merges it into one 8-byte load.
	return uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
		uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
}

// radixSort sorts m.keys ascending, carrying m.order along: LSD passes
// over only the digits in which some keys differ (varying has their
// bits), 8 bits a digit for small inputs (a 256-bucket count costs little
// to clear) and 11 above 512 offers (fewer passes). With equal free CPU
// everywhere only the 32-bit hash is sorted.
func (m *Matcher) radixSort(varying uint64) {
	n := len(m.keys)
	if n < 2 || varying == 0 {
		return
	}
	if n <= 24 {
		// Insertion sort: fewer operations than a single radix pass.
		keys, order := m.keys, m.order
		for a := 1; a < n; a++ {
			for b := a; b > 0 && keys[b] < keys[b-1]; b-- {
				keys[b], keys[b-1] = keys[b-1], keys[b]
				order[b], order[b-1] = order[b-1], order[b]
			}
		}
		return
	}
	bits := uint(8)
	if n > 512 {
		bits = 11 // three passes over a 32-bit hash instead of four
	}
	buckets := 1 << bits
	mask := uint64(buckets - 1)
	m.tmpKeys = growUint64(m.tmpKeys, n)
	m.tmpOrder = growInt32(m.tmpOrder, n)
	src, dst := m.keys, m.tmpKeys
	srcI, dstI := m.order, m.tmpOrder
	count := m.count[:buckets]
	for shift := uint(0); shift < 64; shift += bits {
		if (varying>>shift)&mask == 0 {
			continue // every key has the same digit here
		}
		clear(count)
		for _, k := range src {
			count[(k>>shift)&mask]++
		}
		sum := int32(0)
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for i, k := range src {
			d := (k >> shift) & mask
			p := count[d]
			dst[p] = k
			dstI[p] = srcI[i]
			count[d] = p + 1
		}
		src, dst = dst, src
		srcI, dstI = dstI, srcI
	}
	m.keys, m.tmpKeys = src, dst
	m.order, m.tmpOrder = srcI, dstI
}

func growInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

func growUint64(s []uint64, n int) []uint64 {
	if cap(s) < n {
		return make([]uint64, n)
	}
	return s[:n]
}

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
		m.keys[i] = uint64(prim)<<hashBits | uint64(idHash(o.AgentID, o.ID)&(1<<hashBits-1))
		m.order[i] = int32(i)
	}
	m.radixSort()
	// Equal keys: order by the IDs themselves.
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

// hashBits of the ID hash go below the primary key: two 11-bit radix
// passes when the primary keys are all equal. Collisions (about one pair in
// 800 among 10,000 offers) are resolved by comparing the IDs.
const hashBits = 22

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

// radixSort sorts m.keys ascending, carrying m.order along: LSD passes of
// 11 bits (6 for 64-bit keys), skipping passes where every key has the
// same digit — with equal free CPU everywhere, only the hash is sorted.
func (m *Matcher) radixSort() {
	const bits = 11
	const buckets = 1 << bits
	n := len(m.keys)
	m.tmpKeys = growUint64(m.tmpKeys, n)
	m.tmpOrder = growInt32(m.tmpOrder, n)
	src, dst := m.keys, m.tmpKeys
	srcI, dstI := m.order, m.tmpOrder
	var count [buckets]int
	for shift := uint(0); shift < 64; shift += bits {
		count = [buckets]int{}
		for _, k := range src {
			count[(k>>shift)&(buckets-1)]++
		}
		if count[(src[0]>>shift)&(buckets-1)] == n {
			continue
		}
		sum := 0
		for i := range count {
			c := count[i]
			count[i] = sum
			sum += c
		}
		for i, k := range src {
			d := (k >> shift) & (buckets - 1)
			dst[count[d]] = k
			dstI[count[d]] = srcI[i]
			count[d]++
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

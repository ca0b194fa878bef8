package offers

import (
	"fmt"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// benchOffers are agents like the classic setup's: 4 CPUs, 8 GiB, ports
// 31000-32000, a rack and an OS attribute.
func benchOffers(n int) []Offer {
	out := make([]Offer, n)
	for i := range out {
		out[i] = Offer{
			ID:         fmt.Sprintf("685fe32d-e30c-4df7-b891-3d96b06fee88-O%d", i),
			AgentID:    fmt.Sprintf("685fe32d-e30c-4df7-b891-3d96b06fee88-S%d", i),
			Hostname:   fmt.Sprintf("agent%d.example.com", i),
			Unreserved: Amounts{CPUs: ToMilli(4), Mem: ToMilli(8192), Disk: ToMilli(20000)},
			Ports:      []PortRange{{31000, 32000}},
			Attributes: []Attribute{{Name: "rack", Text: fmt.Sprintf("r%d", i%10)}, {Name: "os", Text: "centos7"}},
		}
	}
	return out
}

// benchClasses: the classic 0.2 CPU / 30 MB slice, or eight sizes.
func benchClasses(n int) []Class {
	if n == 1 {
		return []Class{{Name: "mesos", Need: Amounts{CPUs: ToMilli(0.2), Mem: ToMilli(30)}}}
	}
	out := make([]Class, n)
	for i := range out {
		out[i] = Class{Name: fmt.Sprintf("c%d", i), Need: Amounts{CPUs: ToMilli(0.1 * float64(1+i%4)), Mem: ToMilli(float64(30 + 60*i))}, Ports: i % 2}
	}
	return out
}

func benchRequest(offers, slices, classes int) *Request {
	req := &Request{Offers: benchOffers(offers), Classes: benchClasses(classes), Wanted: make([]int, classes)}
	for i := 0; i < slices; i++ {
		req.Wanted[i%classes]++
	}
	return req
}

func mesosOffers(offers []Offer) []byte {
	ev := scheduler.Event{Type: scheduler.Event_OFFERS, Offers: &scheduler.Event_Offers{}}
	star := "*"
	for _, o := range offers {
		res := func(name string, v float64) mesos.Resource {
			return mesos.Resource{Name: name, Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: v}, Role: &star}
		}
		host := o.Hostname
		ev.Offers.Offers = append(ev.Offers.Offers, mesos.Offer{
			ID: mesos.OfferID{Value: o.ID}, FrameworkID: mesos.FrameworkID{Value: "685fe32d-e30c-4df7-b891-3d96b06fee88-0000"},
			AgentID: mesos.AgentID{Value: o.AgentID}, Hostname: host,
			URL: &mesos.URL{Scheme: "http", Address: mesos.Address{Hostname: &host, Port: 5051}},
			Resources: []mesos.Resource{res("cpus", 4), res("mem", 8192), res("disk", 20000),
				{Name: "ports", Type: mesos.RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: 31000, End: 32000}}}, Role: &star}},
			Attributes: []mesos.Attribute{{Name: "rack", Type: mesos.TEXT, Text: &mesos.Value_Text{Value: o.Attributes[0].Text}}, {Name: "os", Type: mesos.TEXT, Text: &mesos.Value_Text{Value: "centos7"}}},
		})
	}
	b, err := ev.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// benchGrid is the grid plus two realistic cycles (100 offers ×
// 50 slices, 1,000 × 500).
var benchGrid = func() [][3]int {
	var g [][3]int
	for _, offers := range []int{100, 1000, 10000} {
		for _, slices := range []int{100, 1000, 10000, 100000} {
			for _, classes := range []int{1, 8} {
				g = append(g, [3]int{offers, slices, classes})
			}
		}
	}
	return append(g, [3]int{100, 50, 1}, [3]int{100, 50, 8}, [3]int{1000, 500, 1}, [3]int{1000, 500, 8})
}()

// BenchmarkMatch runs the grid side by side: our matcher and the four
// baselines of baselines_test.go, then protobuf decoding of the offers.
func BenchmarkMatch(b *testing.B) {
	for _, g := range benchGrid {
		offers, slices, classes := g[0], g[1], g[2]
		name := fmt.Sprintf("offers=%d/slices=%d/classes=%d", offers, slices, classes)
		req := benchRequest(offers, slices, classes)
		report := func(b *testing.B, placed int) {
			b.ReportMetric(float64(placed), "placed")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(max(placed, 1)), "ns/placement")
		}
		b.Run(name+"/matcher", func(b *testing.B) {
			var m Matcher
			placed := len(m.Match(req).Placements)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.Match(req)
			}
			report(b, placed)
		})
		b.Run(name+"/matcher-binpack", func(b *testing.B) {
			var m Matcher
			bp := *req
			bp.Strategy = Binpack
			placed := len(m.Match(&bp).Placements)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.Match(&bp)
			}
			report(b, placed)
		})
		var requests []int32
		for c, w := range req.Wanted {
			for k := 0; k < w; k++ {
				requests = append(requests, int32(c))
			}
		}
		st := make([]baseState, 0, offers)
		out := make([]basePlacement, 0, slices)
		b.Run(name+"/plugin1x", func(b *testing.B) {
			next := make([]int32, len(requests))
			placed := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st = baseStates(req.Offers, st)
				placed = len(plugin1x(req.Offers, req.Classes, requests, next, st, out[:0]))
			}
			report(b, placed)
		})
		b.Run(name+"/usi2x", func(b *testing.B) {
			pending := make([]int32, len(requests))
			placed := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				copy(pending, requests)
				st = baseStates(req.Offers, st)
				placed = len(usi2x(req.Offers, req.Classes, pending, st, out[:0]))
			}
			report(b, placed)
		})
		b.Run(name+"/firstfit", func(b *testing.B) {
			placed := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st = baseStates(req.Offers, st)
				placed = len(firstFit(req.Offers, req.Classes, req.Wanted, st, out[:0]))
			}
			report(b, placed)
		})
		b.Run(name+"/spread", func(b *testing.B) {
			rem := make([]int, classes)
			placed := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st = baseStates(req.Offers, st)
				placed = len(greedySpread(req.Offers, req.Classes, req.Wanted, rem, st, out[:0]))
			}
			report(b, placed)
		})
		if slices == 100 && classes == 1 {
			// The floors of order independence. keys: only reading every
			// offer's content into its key, nothing ordered or placed.
			// keys+sort: with as many slices as offers every offer is
			// visited, so every offer is ordered: the key pass and the sort.
			for _, floor := range []struct {
				name string
				sort bool
			}{{"keys", false}, {"keys+sort", true}} {
				b.Run(fmt.Sprintf("offers=%d/%s", offers, floor.name), func(b *testing.B) {
					var m Matcher
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						m.computeKeys(req)
						if floor.sort {
							m.sortKeys(m.keys)
						}
					}
				})
			}
			b.Run(fmt.Sprintf("offers=%d/decode", offers), func(b *testing.B) {
				wire := mesosOffers(req.Offers)
				b.SetBytes(int64(len(wire)))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					var ev scheduler.Event
					if err := ev.Unmarshal(wire); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(offers), "ns/offer")
			})
		}
	}
}

// BenchmarkMatchFresh is the cost without a reused Matcher: what a caller
// that calls the package-level Match pays, allocations included.
func BenchmarkMatchFresh(b *testing.B) {
	req := benchRequest(10000, 10000, 8)
	b.ReportAllocs()
	placed := 0
	for i := 0; i < b.N; i++ {
		placed = len(Match(req).Placements)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(placed), "ns/placement")
	b.ReportMetric(float64(testing.AllocsPerRun(1, func() { Match(req) }))/float64(placed), "allocs/placement")
}

package offers

import (
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

func TestFromMesosSplitsReservedAndUnreserved(t *testing.T) {
	star, jenkins := "*", "jenkins"
	alloc := &mesos.Resource_AllocationInfo{Role: &jenkins}
	scalar := func(name string, v float64, role *string) mesos.Resource {
		return mesos.Resource{Name: name, Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: v}, Role: role, AllocationInfo: alloc}
	}
	mo := &mesos.Offer{
		ID: mesos.OfferID{Value: "o1"}, AgentID: mesos.AgentID{Value: "a1"}, Hostname: "h1",
		AllocationInfo: alloc,
		Resources: []mesos.Resource{
			scalar("cpus", 3.7, &star), scalar("cpus", 0.3, &jenkins), scalar("mem", 1024, &star), scalar("disk", 50, &star),
			{Name: "ports", Type: mesos.RANGES.Enum(), Role: &star, Ranges: &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: 31005, End: 31006}, {Begin: 31000, End: 31001}}}},
			{Name: "cpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 8}, Reservations: []mesos.Resource_ReservationInfo{{Role: &[]string{"other"}[0]}}},
		},
		Attributes: []mesos.Attribute{{Name: "rack", Type: mesos.TEXT, Text: &mesos.Value_Text{Value: "r1"}}, {Name: "weight", Type: mesos.SCALAR, Scalar: &mesos.Value_Scalar{Value: 2.5}}},
	}
	o := FromMesos(mo)
	if o.Role != "jenkins" || o.Unreserved.CPUs != 3700 || o.Reserved.CPUs != 300 || o.Unreserved.Mem != ToMilli(1024) {
		t.Fatalf("FromMesos = %+v, want 3.7 unreserved + 0.3 reserved cpus for role jenkins (other role's 8 cpus ignored)", o)
	}
	if len(o.Ports) != 2 || o.Ports[0].Begin != 31000 {
		t.Fatalf("ports %v, want sorted ranges", o.Ports)
	}
	if v := o.Attributes[1].Value(); v != "2.5" {
		t.Fatalf("scalar attribute value %q", v)
	}
	cl := Class{Need: Amounts{CPUs: ToMilli(0.5), Mem: ToMilli(30)}, Ports: 3, Role: "jenkins"}
	res := Match(&Request{Offers: []Offer{o}, Classes: []Class{cl}, Wanted: []int{1}})
	p := res.Placements[0]
	rs := ToMesos(&o, res.Reserved(p), res.Unreserved(p), res.PortsOf(p))
	var cpusReserved, cpusStar float64
	for _, r := range rs {
		if r.AllocationInfo.GetRole() != "jenkins" {
			t.Fatalf("resource %v lacks allocation_info for jenkins", r)
		}
		if r.Name == "cpus" && r.GetRole() == "jenkins" {
			cpusReserved += r.GetScalar().GetValue()
		}
		if r.Name == "cpus" && r.GetRole() == "*" {
			cpusStar += r.GetScalar().GetValue()
		}
		if r.Name == "ports" {
			if got := r.GetRanges().GetRange(); len(got) != 2 || got[0] != (mesos.Value_Range{Begin: 31000, End: 31001}) || got[1] != (mesos.Value_Range{Begin: 31005, End: 31005}) {
				t.Fatalf("ports %v, want 31000-31001 and 31005", got)
			}
		}
	}
	if cpusReserved != 0.3 || cpusStar != 0.2 {
		t.Fatalf("cpus reserved %v + unreserved %v, want 0.3 + 0.2", cpusReserved, cpusStar)
	}
}

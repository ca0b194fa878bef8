package offers

import (
	"sort"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// FromMesos reduces a Mesos offer to what matching needs. Resources
// reserved to a role other than the offer's are ignored (a task could not
// use them); revocable and disk-info resources are ignored too.
func FromMesos(o *mesos.Offer) Offer {
	out := Offer{ID: o.ID.Value, AgentID: o.AgentID.Value, Hostname: o.Hostname}
	if o.AllocationInfo != nil {
		out.Role = o.AllocationInfo.GetRole()
	}
	for i := range o.Resources {
		r := &o.Resources[i]
		if r.Revocable != nil || r.Disk != nil {
			continue
		}
		reservedTo := reservationRole(r)
		if reservedTo != "" && out.Role != "" && reservedTo != out.Role {
			continue
		}
		switch r.Name {
		case "cpus", "mem", "disk":
			v := ToMilli(r.GetScalar().GetValue())
			bucket := &out.Unreserved
			if reservedTo != "" {
				bucket = &out.Reserved
			}
			switch r.Name {
			case "cpus":
				bucket.CPUs += v
			case "mem":
				bucket.Mem += v
			default:
				bucket.Disk += v
			}
		case "ports":
			for _, rg := range r.GetRanges().GetRange() {
				out.Ports = append(out.Ports, PortRange{rg.Begin, rg.End})
			}
		}
	}
	if len(out.Ports) > 1 {
		sort.Slice(out.Ports, func(i, j int) bool { return out.Ports[i].Begin < out.Ports[j].Begin })
	}
	for _, a := range o.Attributes {
		switch a.Type {
		case mesos.SCALAR:
			out.Attributes = append(out.Attributes, Attribute{Name: a.Name, Scalar: a.GetScalar().GetValue(), IsScalar: true})
		case mesos.TEXT:
			out.Attributes = append(out.Attributes, Attribute{Name: a.Name, Text: a.GetText().GetValue()})
		}
	}
	return out
}

// reservationRole is the role a resource is reserved to, "" if unreserved,
// in either the pre-refinement ("role") or refinement ("reservations") form.
func reservationRole(r *mesos.Resource) string {
	if n := len(r.Reservations); n > 0 {
		return r.Reservations[n-1].GetRole()
	}
	if r.Role != nil && *r.Role != "*" {
		return *r.Role
	}
	return ""
}

// ToMesos renders what a placement took (Result.Reserved(p),
// Result.Unreserved(p), Result.PortsOf(p)) as TaskInfo resources in the
// pre-refinement format a framework without RESERVATION_REFINEMENT uses:
// reserved resources carry the offer's role, unreserved ones "*";
// allocation_info names the offer's role when it has one (MULTI_ROLE).
func ToMesos(o *Offer, reserved, unreserved Amounts, ports []uint64) mesos.Resources {
	var out mesos.Resources
	scalar := func(name string, v Milli, role string) {
		if v <= 0 {
			return
		}
		out = append(out, resource(name, role, o.Role, &mesos.Value_Scalar{Value: v.Float()}, nil))
	}
	for _, part := range []struct {
		a    Amounts
		role string
	}{{reserved, o.Role}, {unreserved, "*"}} {
		scalar("cpus", part.a.CPUs, part.role)
		scalar("mem", part.a.Mem, part.role)
		scalar("disk", part.a.Disk, part.role)
	}
	if len(ports) > 0 {
		var ranges []mesos.Value_Range
		for _, p := range ports {
			if n := len(ranges); n > 0 && ranges[n-1].End+1 == p {
				ranges[n-1].End = p
				continue
			}
			ranges = append(ranges, mesos.Value_Range{Begin: p, End: p})
		}
		out = append(out, resource("ports", "*", o.Role, nil, &mesos.Value_Ranges{Range: ranges}))
	}
	return out
}

func resource(name, role, allocRole string, s *mesos.Value_Scalar, r *mesos.Value_Ranges) mesos.Resource {
	res := mesos.Resource{Name: name, Role: &role, Scalar: s, Ranges: r}
	if s != nil {
		res.Type = mesos.SCALAR.Enum()
	} else {
		res.Type = mesos.RANGES.Enum()
	}
	if allocRole != "" {
		ar := allocRole
		res.AllocationInfo = &mesos.Resource_AllocationInfo{Role: &ar}
	}
	return res
}

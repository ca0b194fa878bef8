package offers

import (
	"math"
	"strconv"
)

// Milli is a Mesos scalar in fixed point: thousandths. Mesos keeps three
// decimal digits, so 0.2 CPU is exactly 200 and five of them are exactly
// 1000 — never a float that is a hair above or below.
type Milli int64

// ToMilli converts a Mesos scalar value to fixed point, rounding to the
// nearest thousandth as Mesos does.
func ToMilli(v float64) Milli { return Milli(math.Round(v * 1000)) }

// Float is the scalar value for Mesos' wire format.
func (m Milli) Float() float64 { return float64(m) / 1000 }

// String prints the shortest decimal form: 200 → "0.2".
func (m Milli) String() string { return strconv.FormatFloat(m.Float(), 'f', -1, 64) }

// Amounts are the scalar resources a slice needs or an offer holds.
type Amounts struct {
	CPUs, Mem, Disk Milli
}

func (a Amounts) fits(b Amounts) bool { return a.CPUs <= b.CPUs && a.Mem <= b.Mem && a.Disk <= b.Disk }
func (a Amounts) minus(b Amounts) Amounts {
	return Amounts{a.CPUs - b.CPUs, a.Mem - b.Mem, a.Disk - b.Disk}
}

// PortRange is an inclusive range of ports, as in Mesos' RANGES.
type PortRange struct{ Begin, End uint64 }

// Attribute is an agent attribute: TEXT, or SCALAR when IsScalar.
type Attribute struct {
	Name     string
	Text     string
	Scalar   float64
	IsScalar bool
}

// Value is the attribute's value as constraints compare it: text as is,
// scalars in Mesos' shortest form ("3", "2.5").
func (a Attribute) Value() string {
	if a.IsScalar {
		return strconv.FormatFloat(a.Scalar, 'f', -1, 64)
	}
	return a.Text
}

// Offer is a held Mesos offer, reduced to what matching needs. Resources
// reserved to the offer's role and unreserved ones are kept apart, because
// a task must name the reservation of what it takes.
type Offer struct {
	ID       string
	AgentID  string
	Hostname string
	// Role is the role the offer is allocated to; "" for frameworks that
	// are not MULTI_ROLE (every class may use the offer).
	Role       string
	Reserved   Amounts // reserved to Role
	Unreserved Amounts
	Ports      []PortRange // sorted, non-overlapping
	Attributes []Attribute
}

// Total is everything the offer holds.
func (o *Offer) Total() Amounts {
	return Amounts{o.Reserved.CPUs + o.Unreserved.CPUs, o.Reserved.Mem + o.Unreserved.Mem, o.Reserved.Disk + o.Unreserved.Disk}
}

// Class is a kind of agent slice, as an agent template asks for it.
type Class struct {
	Name  string
	Need  Amounts
	Ports int
	// Role the slice runs as; "" matches any offer.
	Role        string
	Constraints []Constraint
}

// Running is a slice of a class that already runs on an agent; constraints
// such as UNIQUE and MAX_PER count it.
type Running struct {
	Class      int
	Hostname   string
	Attributes []Attribute
}

// Strategy decides which offer gets the next slice.
type Strategy int

const (
	// Spread places on the least-loaded agent first (the most free
	// resources), so that servers fill evenly. The default.
	Spread Strategy = iota
	// Binpack fills one agent before the next (the least free first).
	Binpack
)

func (s Strategy) String() string {
	if s == Binpack {
		return "binpack"
	}
	return "spread"
}

// ParseStrategy reads "spread" or "binpack".
func ParseStrategy(s string) (Strategy, error) {
	switch s {
	case "spread", "":
		return Spread, nil
	case "binpack":
		return Binpack, nil
	}
	return 0, &ParseError{Input: s, Expected: "strategy `spread` or `binpack`"}
}

// Request is one matching problem.
type Request struct {
	Offers  []Offer
	Classes []Class
	// Wanted[i] is how many slices of Classes[i] are wanted.
	Wanted   []int
	Running  []Running
	Strategy Strategy
}

// Placement is one slice placed on one offer. It takes the class's Need:
// Result.Reserved from the offer's reservation (used first), the rest
// (Result.Unreserved) from unreserved resources. It is kept small (16
// bytes) because matching writes one per slice: the reserved part, which
// most offers do not have, lives in the Result.
type Placement struct {
	Offer    int32 // index into Request.Offers
	Class    int32 // index into Request.Classes
	portsOff int32 // the class's Ports ports from Result.ports[portsOff]
	resv     int32 // 1 + index into Result.resv; 0: nothing reserved taken
}

// Reason says why demand went unmet.
type Reason int

const (
	// ReasonNoOffers: no offers are held.
	ReasonNoOffers Reason = iota + 1
	// ReasonRole: no held offer is allocated to the class's role.
	ReasonRole
	// ReasonConstraint: the constraints exclude every offer that is left.
	ReasonConstraint
	// ReasonResources: no offer left has room for one more slice.
	ReasonResources
)

var reasonNames = [...]string{"", "no_offers", "role", "constraint", "resources"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Unmet describes a class whose demand was not fully placed.
type Unmet struct {
	Class   int
	Missing int
	Reason  Reason
	// Message names the limiting dimension and the best candidate, e.g.
	// "largest offer: 0.15 cpus on host a2 < 0.2 needed".
	Message string
}

// Result is the outcome of a match.
type Result struct {
	Placements []Placement
	// Decline lists the indices of offers nothing was placed on.
	Decline []int32
	Unmet   []Unmet
	ports   []uint64
	resv    []Amounts
	needs   []Amounts
	nports  []int32 // per class
}

// Reserved is what a placement takes from the offer's reservation.
func (r *Result) Reserved(p Placement) Amounts {
	if p.resv == 0 {
		return Amounts{}
	}
	return r.resv[p.resv-1]
}

// Unreserved is what a placement takes from unreserved resources.
func (r *Result) Unreserved(p Placement) Amounts {
	return r.needs[p.Class].minus(r.Reserved(p))
}

// PortsOf returns the concrete ports a placement took.
func (r *Result) PortsOf(p Placement) []uint64 {
	return r.ports[p.portsOff : p.portsOff+r.nports[p.Class]]
}

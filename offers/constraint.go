package offers

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Operator is a Marathon constraint operator.
type Operator int

// The operators of Marathon's constraint syntax.
const (
	Unique Operator = iota + 1
	Cluster
	GroupBy
	Like
	Unlike
	MaxPer
	Is
)

var operatorNames = map[Operator]string{Unique: "UNIQUE", Cluster: "CLUSTER", GroupBy: "GROUP_BY", Like: "LIKE", Unlike: "UNLIKE", MaxPer: "MAX_PER", Is: "IS"}

func (o Operator) String() string { return operatorNames[o] }

// Constraint is one placement rule on the hostname or an agent attribute,
// in Marathon's syntax: "hostname UNIQUE", "rack GROUP_BY 3",
// "os LIKE centos.*", "hostname MAX_PER 2", "zone CLUSTER a", "zone IS a".
type Constraint struct {
	Field string
	Op    Operator
	Value string
	n     int            // GROUP_BY groups, MAX_PER limit
	re    *regexp.Regexp // LIKE, UNLIKE
}

// String renders the constraint in the syntax ParseConstraint reads.
func (c Constraint) String() string {
	if c.Value == "" {
		return c.Field + " " + c.Op.String()
	}
	return c.Field + " " + c.Op.String() + " " + c.Value
}

// ParseError is a constraint or strategy that could not be read. It says
// what was expected where.
type ParseError struct {
	Input    string
	Expected string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("offers: %q: expected %s", e.Input, e.Expected)
}

// ParseConstraint reads "FIELD OPERATOR [VALUE]". Operators are matched
// without regard to case; the value is the rest of the text, so a regular
// expression may contain spaces.
func ParseConstraint(s string) (Constraint, error) {
	in := strings.TrimSpace(s)
	field, rest, _ := strings.Cut(in, " ")
	rest = strings.TrimSpace(rest)
	opText, value, _ := strings.Cut(rest, " ")
	value = strings.TrimSpace(value)
	return newConstraint(s, field, opText, value)
}

// ParseConstraintFields reads Marathon's JSON form: ["hostname","UNIQUE"],
// ["rack","GROUP_BY","3"].
func ParseConstraintFields(fields []string) (Constraint, error) {
	input := strings.Join(fields, " ")
	if len(fields) < 2 || len(fields) > 3 {
		return Constraint{}, &ParseError{Input: input, Expected: "2 or 3 fields: field, operator and an optional value"}
	}
	value := ""
	if len(fields) == 3 {
		value = fields[2]
	}
	return newConstraint(input, fields[0], fields[1], value)
}

func newConstraint(input, field, opText, value string) (Constraint, error) {
	if field == "" {
		return Constraint{}, &ParseError{Input: input, Expected: "a field (hostname or an attribute name) first"}
	}
	if opText == "" {
		return Constraint{}, &ParseError{Input: input, Expected: "an operator after `" + field + "`: UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER or IS"}
	}
	c := Constraint{Field: field, Value: value}
	switch strings.ToUpper(opText) {
	case "UNIQUE":
		c.Op = Unique
		if value != "" {
			return Constraint{}, &ParseError{Input: input, Expected: "no value after UNIQUE"}
		}
	case "CLUSTER":
		c.Op = Cluster
	case "GROUP_BY":
		c.Op = GroupBy
		if value != "" {
			n, err := strconv.Atoi(value)
			if err != nil || n < 1 {
				return Constraint{}, &ParseError{Input: input, Expected: "a positive number of groups after GROUP_BY, got `" + value + "`"}
			}
			c.n = n
		}
	case "LIKE", "UNLIKE":
		c.Op = Like
		if strings.ToUpper(opText) == "UNLIKE" {
			c.Op = Unlike
		}
		if value == "" {
			return Constraint{}, &ParseError{Input: input, Expected: "a regular expression after " + c.Op.String()}
		}
		// Marathon matches the whole value (Java's String.matches).
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return Constraint{}, &ParseError{Input: input, Expected: "a valid regular expression after " + c.Op.String() + " (" + err.Error() + ")"}
		}
		c.re = re
	case "MAX_PER":
		c.Op = MaxPer
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 {
			return Constraint{}, &ParseError{Input: input, Expected: "a positive limit after MAX_PER, got `" + value + "`"}
		}
		c.n = n
	case "IS":
		c.Op = Is
		if value == "" {
			return Constraint{}, &ParseError{Input: input, Expected: "a value after IS"}
		}
	default:
		return Constraint{}, &ParseError{Input: input, Expected: "an operator UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER or IS, got `" + opText + "`"}
	}
	return c, nil
}

// dynamic constraints depend on where other slices of the class are.
func (c *Constraint) dynamic() bool {
	switch c.Op {
	case Unique, GroupBy, MaxPer:
		return true
	case Cluster:
		return c.Value == ""
	}
	return false
}

func fieldValue(field, hostname string, attrs []Attribute) (string, bool) {
	if field == "hostname" {
		return hostname, true
	}
	for i := range attrs {
		if attrs[i].Name == field {
			return attrs[i].Value(), true
		}
	}
	return "", false
}

// staticOK evaluates a constraint that does not depend on other slices.
func (c *Constraint) staticOK(o *Offer) bool {
	v, ok := fieldValue(c.Field, o.Hostname, o.Attributes)
	switch c.Op {
	case Like:
		return ok && c.re.MatchString(v)
	case Unlike:
		return !ok || !c.re.MatchString(v)
	case Is:
		if !ok {
			return false
		}
		if v == c.Value {
			return true
		}
		// Scalars compare as numbers: "3" IS "3.0".
		a, err1 := strconv.ParseFloat(v, 64)
		b, err2 := strconv.ParseFloat(c.Value, 64)
		return err1 == nil && err2 == nil && a == b
	case Cluster:
		return ok && (c.Value == "" || v == c.Value)
	default:
		// Dynamic constraints need the field to exist.
		return ok
	}
}

// counter tracks where a class's slices are for one dynamic constraint.
type counter struct {
	c      *Constraint
	counts map[string]int
	pinned string // CLUSTER without value: the value all slices share
}

func newCounter(c *Constraint) *counter { return &counter{c: c, counts: map[string]int{}} }

func (k *counter) add(v string) {
	k.counts[v]++
	if k.c.Op == Cluster && k.pinned == "" {
		k.pinned = v
	}
}

// ok tells whether one more slice may go where the field has value v.
func (k *counter) ok(v string) bool {
	switch k.c.Op {
	case Unique:
		return k.counts[v] == 0
	case MaxPer:
		return k.counts[v] < k.c.n
	case Cluster:
		return k.pinned == "" || k.pinned == v
	case GroupBy:
		// Even across groups: a value may take one more only while its count
		// is the lowest. With n groups declared, values not seen yet count
		// as zero until n values are known.
		mine := k.counts[v]
		if mine == 0 {
			return true
		}
		if k.c.n > 0 && len(k.counts) < k.c.n {
			return false
		}
		for _, n := range k.counts {
			if n < mine {
				return false
			}
		}
		return true
	}
	return true
}

package jenkinsemu

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// bean is an exported object: its Java class and its @Exported properties.
type bean struct {
	class     string
	showClass bool // nested beans: only when the runtime class differs from the declared type
	props     []prop
}

// prop is one @Exported property. vis is its visibility; inline
// properties (merge/inline) keep the parent's depth budget.
type prop struct {
	name   string
	vis    int
	inline bool
	val    any // nil, bool, int, int64, float64, string, *bean, []any, *rawMap, thunk
}

// thunk is a property value computed only when the exporter writes it:
// a list entry that is a whole object (a job in Hudson.jobs, a build in
// Job.builds) costs nothing when the request's depth or tree leaves it
// out. It runs under the lock the request holds.
type thunk func() any

// rawMap is an exported map (e.g. monitorData): written as an object whose
// keys are data, not properties.
type rawMap struct {
	keys []string
	vals []any
}

// newBean orders the properties alphabetically, as Stapler writes them.
// Insertion sort: beans have a few dozen properties at most, and it costs
// no allocation (this runs once per queue item on a 10,000-item poll).
func newBean(class string, props ...prop) *bean {
	for i := 1; i < len(props); i++ {
		for k := i; k > 0 && props[k].name < props[k-1].name; k-- {
			props[k], props[k-1] = props[k-1], props[k]
		}
	}
	return &bean{class: class, showClass: true, props: props}
}

func p(name string, val any) prop           { return prop{name: name, vis: 1, val: val} }
func pv(name string, vis int, val any) prop { return prop{name: name, vis: vis, val: val} }
func pInline(name string, val any) prop     { return prop{name: name, vis: 1, inline: true, val: val} }

// exporter writes beans as Stapler does: with a tree, only the named
// properties (visibility ignored); otherwise by depth, a property being
// written while its visibility is at least the current budget n, which
// starts at 1-depth and grows by one per nested (non-inline) object.
type exporter struct {
	buf      bytes.Buffer
	sizeHint int
	scratch  [24]byte
}

// top writes the requested object: a *bean or a lazyBean.
func (e *exporter) top(b any, tree *treeNode, depth int) []byte {
	e.buf.Reset()
	e.buf.Grow(e.sizeHint)
	switch x := b.(type) {
	case *bean:
		e.object(x, tree, 1-depth, true)
	case lazyBean:
		e.lazyObject(x, tree, 1-depth)
	}
	return e.buf.Bytes()
}

func (e *exporter) object(b *bean, tree *treeNode, n int, top bool) {
	e.buf.WriteByte('{')
	first := true
	sep := func() {
		if !first {
			e.buf.WriteByte(',')
		}
		first = false
	}
	if b.class != "" && (top || b.showClass) {
		sep()
		e.buf.WriteString(`"_class":`)
		e.str(b.class)
	}
	for i := range b.props {
		pr := &b.props[i]
		var sub *treeNode
		if tree != nil {
			sub = tree.child(pr.name)
			if sub == nil {
				continue
			}
		} else if pr.vis < n {
			continue
		}
		sep()
		e.str(pr.name)
		e.buf.WriteByte(':')
		next := n + 1
		if pr.inline {
			next = n
		}
		e.value(pr.val, sub, next)
	}
	e.buf.WriteByte('}')
}

func (e *exporter) value(v any, tree *treeNode, n int) {
	switch x := v.(type) {
	case nil:
		e.buf.WriteString("null")
	case bool:
		e.buf.WriteString(strconv.FormatBool(x))
	case int:
		e.buf.WriteString(strconv.Itoa(x))
	case int64:
		e.buf.WriteString(strconv.FormatInt(x, 10))
	case float64:
		e.buf.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	case string:
		e.str(x)
	case *string:
		if x == nil {
			e.buf.WriteString("null")
		} else {
			e.str(*x)
		}
	case *bean:
		if x == nil {
			e.buf.WriteString("null")
			return
		}
		e.object(x, tree, n, false)
	case []any:
		e.buf.WriteByte('[')
		lo, hi := 0, len(x)
		if tree != nil && tree.hasRange {
			lo = min(tree.lo, len(x))
			if tree.hi >= 0 {
				hi = min(max(tree.hi, lo), len(x))
			}
		}
		for i := lo; i < hi; i++ {
			if i > lo {
				e.buf.WriteByte(',')
			}
			e.value(x[i], tree, n)
		}
		e.buf.WriteByte(']')
	case lazyBean:
		e.lazyObject(x, tree, n)
	case thunk:
		e.value(x(), tree, n)
	case *rawMap:
		e.buf.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				e.buf.WriteByte(',')
			}
			e.str(k)
			e.buf.WriteByte(':')
			e.value(x.vals[i], tree, n)
		}
		e.buf.WriteByte('}')
	default:
		b, _ := json.Marshal(x)
		e.buf.Write(b)
	}
}

var jsonEscaper = func() [256]bool {
	var a [256]bool
	for c := 0; c < 0x20; c++ {
		a[c] = true
	}
	a['"'], a['\\'] = true, true
	return a
}()

func (e *exporter) str(s string) {
	simple := true
	for i := 0; i < len(s); i++ {
		if jsonEscaper[s[i]] {
			simple = false
			break
		}
	}
	if simple {
		e.buf.WriteByte('"')
		e.buf.WriteString(s)
		e.buf.WriteByte('"')
		return
	}
	b, _ := json.Marshal(s)
	e.buf.Write(b)
}

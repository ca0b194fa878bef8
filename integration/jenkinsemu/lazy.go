package jenkinsemu

import "strconv"

// lazyBean is an exported object that writes its properties straight into
// the exporter instead of materialising a bean: the queue poll's 10,000
// items cost no allocation each. visit must offer properties in
// alphabetical order, as newBean sorts them.
type lazyBean interface {
	className() string
	visit(v *visitor)
}

// visitor applies the exporter's rules (tree or depth) to each property
// a lazy bean offers.
type visitor struct {
	e     *exporter
	tree  *treeNode
	n     int
	first bool
}

// want tells whether a property is written and, if so, opens it.
func (v *visitor) want(name string, vis int) (*treeNode, bool) {
	var sub *treeNode
	if v.tree != nil {
		sub = v.tree.child(name)
		if sub == nil {
			return nil, false
		}
	} else if vis < v.n {
		return nil, false
	}
	if !v.first {
		v.e.buf.WriteByte(',')
	}
	v.first = false
	v.e.str(name)
	v.e.buf.WriteByte(':')
	return sub, true
}

func (v *visitor) int(name string, vis int, x int64) {
	if _, ok := v.want(name, vis); ok {
		v.e.buf.Write(strconv.AppendInt(v.e.scratch[:0], x, 10))
	}
}

// itemURL writes "queue/item/N/" without building the string.
func (v *visitor) itemURL(name string, vis int, id int64) {
	if _, ok := v.want(name, vis); ok {
		v.e.buf.WriteString(`"queue/item/`)
		v.e.buf.Write(strconv.AppendInt(v.e.scratch[:0], id, 10))
		v.e.buf.WriteString(`/"`)
	}
}

func (v *visitor) str(name string, vis int, s string) {
	if _, ok := v.want(name, vis); ok {
		v.e.str(s)
	}
}

func (v *visitor) boolean(name string, vis int, b bool) {
	if _, ok := v.want(name, vis); ok {
		v.e.buf.WriteString(strconv.FormatBool(b))
	}
}

// value writes any other value (nil, beans, arrays) with the usual rules.
func (v *visitor) value(name string, vis int, val any) {
	if sub, ok := v.want(name, vis); ok {
		v.e.value(val, sub, v.n+1)
	}
}

func (e *exporter) lazyObject(b lazyBean, tree *treeNode, n int) {
	e.buf.WriteString(`{"_class":`)
	e.str(b.className())
	v := visitor{e: e, tree: tree, n: n}
	b.visit(&v)
	e.buf.WriteByte('}')
}

// lazyItem is a queue item as Queue.getItems exports it.
type lazyItem struct {
	j      *Jenkins
	it     *QueueItem
	why    string
	hasWhy bool
	stuck  bool
}

func (l *lazyItem) className() string { return itemClasses[l.it.state] }

func (l *lazyItem) visit(v *visitor) {
	it := l.it
	v.value("actions", 999, userCauseActionsValue)
	v.boolean("blocked", 999, it.state == blocked)
	v.boolean("buildable", 999, it.state == buildable)
	if it.state == blocked || it.state == buildable {
		v.int("buildableStartMilliseconds", 999, it.buildableSince)
	}
	if it.state == leftQueue {
		v.boolean("cancelled", 999, it.cancelled)
		v.value("executable", 999, l.j.executableOf(it))
	}
	v.int("id", 999, it.ID)
	v.int("inQueueSince", 999, it.inQueueSince)
	v.str("params", 999, "")
	if it.state == buildable {
		v.boolean("pending", 999, false)
	}
	v.boolean("stuck", 999, l.stuck)
	if sub, ok := v.want("task", 999); ok {
		if it.placeholder {
			v.e.value(l.j.placeholderTask(it), sub, v.n+1)
		} else {
			t := lazyTask{l.j, it.job}
			v.e.lazyObject(&t, sub, v.n+1)
		}
	}
	if it.state == waiting {
		v.int("timestamp", 999, it.quietUntil)
	}
	v.itemURL("url", 999, it.ID)
	if !l.hasWhy {
		v.value("why", 999, nil)
	} else {
		v.str("why", 999, l.why)
	}
}

// lazyTask is a job as a queue item's task.
type lazyTask struct {
	j   *Jenkins
	job *Job
}

func (l *lazyTask) className() string { return jobClass(l.job) }

func (l *lazyTask) visit(v *visitor) {
	v.str("color", 2, l.job.color())
	if !l.job.Pipeline {
		if l.job.CanRoam {
			v.value("labelExpression", 1, nil)
		} else {
			v.str("labelExpression", 1, l.job.AssignedNode)
		}
	}
	v.str("name", 999, l.job.Name)
	v.str("url", 999, l.job.url(l.j.root))
}

// userCauseActionsValue is userCauseActions already boxed, so writing it
// costs no allocation per item.
var userCauseActionsValue any = userCauseActions

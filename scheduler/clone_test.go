package scheduler

import (
	"reflect"
	"time"
	"unsafe"

	"github.com/jenkins-mesos/jenkins-mesos/offers"
	"google.golang.org/protobuf/proto"
)

// cloneCore deep-copies a core, every field reached by reflection, so
// that the exhaustive check can branch from a state without replaying
// the events that led to it, and without a hand-kept list of fields that
// would silently miss a new one. The matcher is scratch space between
// calls and starts empty; protobuf messages are copied with proto.Clone.
func cloneCore(c *Core) *Core {
	return deepCopy(reflect.ValueOf(c), map[uintptr]reflect.Value{}).Interface().(*Core)
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	matcherType = reflect.TypeOf(offers.Matcher{})
	protoMsg    = reflect.TypeOf((*proto.Message)(nil)).Elem()
)

// open makes v readable and settable even when it was reached through an
// unexported field.
func open(v reflect.Value) reflect.Value {
	if v.CanAddr() {
		return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
	}
	return v
}

func deepCopy(v reflect.Value, seen map[uintptr]reflect.Value) reflect.Value {
	v = open(v)
	t := v.Type()
	if !v.CanAddr() && (v.Kind() == reflect.Struct || v.Kind() == reflect.Array) {
		// A struct held by value in a map: copy it somewhere addressable
		// so its unexported fields can be opened.
		tmp := reflect.New(t).Elem()
		tmp.Set(plain(v))
		v = tmp
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return reflect.Zero(t)
		}
		if p, ok := seen[v.Pointer()]; ok {
			return p
		}
		src := reflect.NewAt(t.Elem(), unsafe.Pointer(v.Pointer()))
		if t.Implements(protoMsg) {
			c := reflect.ValueOf(proto.Clone(src.Interface().(proto.Message)))
			seen[v.Pointer()] = c
			return c
		}
		n := reflect.New(t.Elem())
		seen[v.Pointer()] = n
		n.Elem().Set(deepCopy(src.Elem(), seen))
		return n
	case reflect.Map:
		if v.IsNil() {
			return reflect.Zero(t)
		}
		n := reflect.MakeMapWithSize(t, v.Len())
		it := v.MapRange()
		for it.Next() {
			n.SetMapIndex(plain(it.Key()), deepCopy(plain(it.Value()), seen))
		}
		return n
	case reflect.Slice:
		if v.IsNil() {
			return reflect.Zero(t)
		}
		n := reflect.MakeSlice(t, v.Len(), v.Cap())
		for i := 0; i < v.Len(); i++ {
			n.Index(i).Set(deepCopy(v.Index(i), seen))
		}
		return n
	case reflect.Array:
		n := reflect.New(t).Elem()
		for i := 0; i < v.Len(); i++ {
			n.Index(i).Set(deepCopy(v.Index(i), seen))
		}
		return n
	case reflect.Struct:
		n := reflect.New(t).Elem()
		switch {
		case t == timeType:
			n.Set(v)
			return n
		case t == matcherType:
			return n
		case reflect.PointerTo(t).Implements(protoMsg):
			src := reflect.NewAt(t, unsafe.Pointer(v.UnsafeAddr()))
			n.Set(reflect.ValueOf(proto.Clone(src.Interface().(proto.Message))).Elem())
			return n
		}
		for i := 0; i < t.NumField(); i++ {
			open(n.Field(i)).Set(deepCopy(v.Field(i), seen))
		}
		return n
	case reflect.Interface:
		n := reflect.New(t).Elem()
		if !v.IsNil() {
			n.Set(deepCopy(v.Elem(), seen))
		}
		return n
	default:
		n := reflect.New(t).Elem()
		n.Set(plain(v))
		return n
	}
}

// plain copies a map key or value (never addressable) into a fresh
// settable value, so values reached through unexported fields can be set.
func plain(v reflect.Value) reflect.Value {
	if v.CanInterface() {
		return v
	}
	n := reflect.New(v.Type()).Elem()
	switch v.Kind() {
	case reflect.String:
		n.SetString(v.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n.SetInt(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n.SetUint(v.Uint())
	case reflect.Bool:
		n.SetBool(v.Bool())
	case reflect.Float32, reflect.Float64:
		n.SetFloat(v.Float())
	case reflect.Pointer:
		return reflect.NewAt(v.Type().Elem(), unsafe.Pointer(v.Pointer()))
	default:
		panic("cloneCore: cannot copy a " + v.Type().String() + " reached through an unexported field")
	}
	return n
}

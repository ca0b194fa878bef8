package mesosemu

import (
	"reflect"
	"strconv"
	"strings"
)

// missingRequired lists the proto2 required fields absent (or null) in a
// decoded JSON object, as protobuf's InitializationErrorString names them
// ("subscribe.framework_info.user"). mesos-go's JSON decoder does not check
// required fields, but Mesos' JSON-to-protobuf conversion does, and answers
// 400 when any is missing.
func missingRequired(v any, t reflect.Type) []string {
	var out []string
	walkRequired(v, t, "", &out)
	return out
}

func walkRequired(v any, t reflect.Type, prefix string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("protobuf")
		if tag == "" {
			continue
		}
		parts := strings.Split(tag, ",")
		if len(parts) < 3 {
			continue
		}
		name := ""
		for _, p := range parts[3:] {
			if strings.HasPrefix(p, "name=") {
				name = strings.TrimPrefix(p, "name=")
			}
		}
		if name == "" {
			continue
		}
		val, present := obj[name]
		if present && val == nil {
			present = false
		}
		if !present {
			if parts[2] == "req" {
				*out = append(*out, prefix+name)
			}
			continue
		}
		ft := f.Type
		if parts[2] == "rep" {
			if ft.Kind() != reflect.Slice || ft.Elem().Kind() == reflect.Uint8 {
				continue
			}
			arr, ok := val.([]any)
			if !ok {
				continue
			}
			for j, el := range arr {
				walkRequired(el, ft.Elem(), prefix+name+"["+strconv.Itoa(j)+"].", out)
			}
			continue
		}
		if parts[0] == "bytes" && (ft.Kind() == reflect.Struct || (ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct)) {
			walkRequired(val, ft, prefix+name+".", out)
		}
	}
}

package main

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkSchema walks a parsed YAML document against the configuration's Go
// types before it is decoded, so that an unknown key or a value of the
// wrong kind is refused with the key's path (jenkins.poll_interval,
// templates[0] (mesos).cpus), the value and what is expected. yaml's own
// messages name Go types instead ("field polll not found in type struct {
// URL string …}", "cannot unmarshal !!seq into string") and leave the
// operator to work out which key is meant. Every problem found is
// reported, up to maxSchemaErrors, each with its line.
func checkSchema(doc *yaml.Node, t reflect.Type, path string) error {
	var s schemaCheck
	s.walk(doc, t, path)
	return errors.Join(s.errs...)
}

const maxSchemaErrors = 10

// maxSchemaVisits bounds the walk: aliases and merge keys can make a small
// document expand exponentially ("billion laughs"), and the walk follows
// them.
const maxSchemaVisits = 1 << 16

type schemaCheck struct {
	errs   []error
	visits int
}

var (
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	uriConfigType   = reflect.TypeOf(uriConfig{})
	templateType    = reflect.TypeOf(templateConfig{})
	durationType    = reflect.TypeOf(duration(0))
	limitType       = reflect.TypeOf(limit(0))
)

func (s *schemaCheck) add(err error) {
	if len(s.errs) < maxSchemaErrors {
		s.errs = append(s.errs, err)
	}
}

// visit counts one step of the walk and tells whether to go on.
func (s *schemaCheck) visit() bool {
	if s.visits++; s.visits == maxSchemaVisits {
		s.errs = append(s.errs, errors.New("the document's aliases expand to too much (more than 65,536 values)"))
	}
	return s.visits < maxSchemaVisits && len(s.errs) < maxSchemaErrors
}

func (s *schemaCheck) fail(n *yaml.Node, path, format string, args ...any) {
	s.add(fmt.Errorf("line %d: %s: %s", n.Line, path, fmt.Sprintf(format, args...)))
}

func (s *schemaCheck) walk(n *yaml.Node, t reflect.Type, path string) {
	if !s.visit() {
		return
	}
	n = resolve(n)
	if n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // empty, or `key:` with no value: the zero value (the default is kept)
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if t == uriConfigType && n.Kind == yaml.MappingNode {
			s.fields(n, t, path)
			return
		}
		if t != uriConfigType && n.Kind != yaml.ScalarNode {
			s.fail(n, path, "expected %s, not %s", expected(t), describe(n))
			return
		}
		// The type's own rules, in its own words.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			s.fail(n, path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		s.walk(n, t.Elem(), path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			s.fail(n, path, "expected %s, not %s", expected(t), describe(n))
			return
		}
		s.fields(n, t, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			s.fail(n, path, "expected %s, not %s", expected(t), describe(n))
			return
		}
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if t.Elem() == templateType {
				if name := scalarAt(resolve(e), "name"); name != "" {
					p += " (" + name + ")"
				}
			}
			s.walk(e, t.Elem(), p)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			s.fail(n, path, "expected %s, not %s", expected(t), describe(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			if k.Kind != yaml.ScalarNode {
				s.fail(k, path, "a key must be a name, not %s", describe(k))
				continue
			}
			s.walk(n.Content[i+1], t.Elem(), path+"."+k.Value)
		}
	default: // string, int, float64, bool
		if n.Kind != yaml.ScalarNode {
			s.fail(n, path, "expected %s, not %s", expected(t), describe(n))
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			s.fail(n, path, "%q is not %s", n.Value, expected(t))
		}
	}
}

// fields checks a mapping's keys against a struct's yaml tags and walks
// each value. A merge key (<<: *anchor) brings in the anchored mapping's
// keys, which are checked the same way.
func (s *schemaCheck) fields(n *yaml.Node, t reflect.Type, path string) {
	known := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			s.merge(v, t, path)
			continue
		}
		f, ok := known[k.Value]
		if k.Kind != yaml.ScalarNode || !ok {
			s.add(unknownKey(k, path, t))
			continue
		}
		s.walk(v, f.Type, join(path, k.Value))
	}
}

func (s *schemaCheck) merge(v *yaml.Node, t reflect.Type, path string) {
	if !s.visit() {
		return
	}
	v = resolve(v)
	switch {
	case v == nil:
	case v.Kind == yaml.MappingNode:
		s.fields(v, t, path)
	case v.Kind == yaml.SequenceNode:
		for _, e := range v.Content {
			s.merge(e, t, path)
		}
	default:
		s.fail(v, join(path, "<<"), "a merge takes a mapping or a list of them, not %s", describe(v))
	}
}

// unknownKey names the key with its path, the closest known key when one
// is a likely typo, and the keys the mapping takes.
func unknownKey(k *yaml.Node, path string, t reflect.Type) error {
	names := yamlNames(t)
	where := "at the top level"
	if path != "" {
		where = "under " + path
	}
	msg := fmt.Sprintf("line %d: unknown key %s", k.Line, join(path, k.Value))
	if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!null" {
		// yaml would drop the pair without a word.
		msg = fmt.Sprintf("line %d: %s: an empty key (the value after it belongs to no key)", k.Line, join(path, "?"))
	} else if k.Kind != yaml.ScalarNode {
		msg = fmt.Sprintf("line %d: %s: a key must be a name, not %s", k.Line, join(path, "?"), describe(k))
	} else if near := closest(k.Value, names); near != "" {
		msg += " (did you mean " + near + "?)"
	}
	return fmt.Errorf("%s; the keys %s are %s", msg, where, strings.Join(names, ", "))
}

// closest is the known name a few edits from name (a typo), or "".
func closest(name string, names []string) string {
	best, bestD := "", 0
	limit := max(1, min(3, len(name)/3))
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s)) }
	for _, c := range names {
		d := editDistance(norm(name), norm(c))
		if d > limit && !(len(name) >= 3 && strings.HasPrefix(norm(c), norm(name))) {
			continue
		}
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance between two short
// strings: insertions, deletions, substitutions and swaps of neighbours
// ("ulr" for "url") each count one.
func editDistance(a, b string) int {
	rows := [3][]int{make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)}
	for j := range rows[1] {
		rows[1][j] = j
	}
	for i := 1; i <= len(a); i++ {
		// Row k is rows[(k+1)%3].
		before, prev, cur := rows[(i+2)%3], rows[i%3], rows[(i+1)%3]
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], before[j-2]+1)
			}
		}
	}
	return rows[(len(a)+1)%3][len(b)]
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if name := yamlName(f); name != "" {
			m[name] = f
		}
	}
	return m
}

// yamlNames lists a struct's keys in the order they are declared (the
// order of the example configuration).
func yamlNames(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" {
			out = append(out, name)
		}
	}
	return out
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

// expected says what a key of type t takes, in the configuration's terms.
func expected(t reflect.Type) string {
	switch t {
	case durationType:
		return "a duration (e.g. 30s, 3m, 168h)"
	case limitType:
		return "a number or unlimited"
	case uriConfigType:
		return "a uri (a string or a mapping)"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return expected(t.Elem())
	case reflect.Struct:
		return "a mapping (keys: " + strings.Join(yamlNames(t), ", ") + ")"
	case reflect.Slice:
		if t.Elem() == templateType {
			return "a list of templates"
		}
		return "a list"
	case reflect.Map:
		return "a mapping of names to values"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Bool:
		return "true or false"
	}
	return t.String()
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// resolve follows aliases and steps into a document.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && (n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode) {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
			continue
		}
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	return n
}

// scalarAt is the value of a mapping's scalar key, or "".
func scalarAt(n *yaml.Node, key string) string {
	if n == nil || n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			if v := resolve(n.Content[i+1]); v != nil && v.Kind == yaml.ScalarNode {
				return v.Value
			}
		}
	}
	return ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

package jenkinsemu

import (
	"strings"
	"testing"
)

func TestLabelExpressions(t *testing.T) {
	node := func(labels ...string) func(string) bool {
		return func(l string) bool {
			for _, x := range labels {
				if x == l {
					return true
				}
			}
			return false
		}
	}
	cases := []struct {
		expr      string
		canonical string
		labels    []string
		want      bool
	}{
		{"mesos", "mesos", []string{"mesos"}, true},
		{"mesos && docker", "mesos&&docker", []string{"mesos"}, false},
		{"mesos&&docker", "mesos&&docker", []string{"mesos", "docker"}, true},
		{"linux || windows", "linux||windows", []string{"windows"}, true},
		{"!windows", "!windows", []string{"linux"}, true},
		{"a || b && c", "a||b&&c", []string{"a"}, true}, // && binds tighter
		{"(a || b) && c", "(a||b)&&c", []string{"a"}, false},
		{"gpu -> cuda", "gpu->cuda", []string{"linux"}, true}, // implication
		{"gpu -> cuda", "gpu->cuda", []string{"gpu"}, false},
		{"a <-> b", "a<->b", []string{}, true},
		{"a <-> b", "a<->b", []string{"a"}, false},
		{`"with space" && x`, `"with space"&&x`, []string{"with space", "x"}, true},
		{"mesos-1a2b", "mesos-1a2b", []string{"mesos-1a2b"}, true},
		{"!!a", "!!a", []string{"a"}, true},
	}
	for _, tc := range cases {
		e, err := parseLabelExpr(tc.expr)
		if err != nil {
			t.Fatalf("%q: %v", tc.expr, err)
		}
		if got := e.String(); got != tc.canonical {
			t.Errorf("%q prints as %q, want %q", tc.expr, got, tc.canonical)
		}
		if got := e.matches(node(tc.labels...)); got != tc.want {
			t.Errorf("%q on %v = %v, want %v", tc.expr, tc.labels, got, tc.want)
		}
	}
	for _, bad := range []string{"a &&", "(a", "a b", "&& a", `"open`, ")"} {
		if _, err := parseLabelExpr(bad); err == nil {
			t.Errorf("%q parsed, want an error", bad)
		}
	}
}

func FuzzLabelExpr(f *testing.F) {
	for _, s := range []string{"mesos", "a&&(b||!c)", `"x y"->z`, "a<->b", "mesos-1a2b && docker"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseLabelExpr(s)
		if err != nil || e == nil {
			return
		}
		// The canonical form reads back to the same expression.
		again, err := parseLabelExpr(e.String())
		if err != nil || again.String() != e.String() {
			t.Fatalf("%q → %q → %v %v", s, e.String(), again, err)
		}
	})
}

func TestTreeExpressions(t *testing.T) {
	b := newBean("hudson.model.Queue", pInline("items", []any{
		newBean("hudson.model.Queue$BuildableItem", pv("id", 999, 1), pv("why", 999, "w1"), pv("task", 999, newBean("hudson.model.FreeStyleProject", pv("name", 999, "a"), pv("url", 999, "u"), pv("color", 2, "blue"), p("labelExpression", "mesos")))),
		newBean("hudson.model.Queue$BuildableItem", pv("id", 999, 2), pv("why", 999, "w2"), pv("task", 999, newBean("hudson.model.FreeStyleProject", pv("name", 999, "b"), pv("url", 999, "v"), pv("color", 2, "red"), p("labelExpression", nil)))),
		newBean("hudson.model.Queue$BuildableItem", pv("id", 999, 3), pv("why", 999, "w3"), pv("task", 999, nil)),
	}))
	cases := map[string]string{
		"items[id]":                       `{"_class":"hudson.model.Queue","items":[{"_class":"hudson.model.Queue$BuildableItem","id":1},{"_class":"hudson.model.Queue$BuildableItem","id":2},{"_class":"hudson.model.Queue$BuildableItem","id":3}]}`,
		"items[id]{1,2}":                  `{"_class":"hudson.model.Queue","items":[{"_class":"hudson.model.Queue$BuildableItem","id":2}]}`,
		"items[id]{2,}":                   `{"_class":"hudson.model.Queue","items":[{"_class":"hudson.model.Queue$BuildableItem","id":3}]}`,
		"items[id]{,1}":                   `{"_class":"hudson.model.Queue","items":[{"_class":"hudson.model.Queue$BuildableItem","id":1}]}`,
		"items[id]{0}":                    `{"_class":"hudson.model.Queue","items":[{"_class":"hudson.model.Queue$BuildableItem","id":1}]}`,
		"items[task[labelExpression]]{0}": `{"_class":"hudson.model.Queue","items":[{"_class":"hudson.model.Queue$BuildableItem","task":{"_class":"hudson.model.FreeStyleProject","labelExpression":"mesos"}}]}`,
		"items[task]{1}":                  `{"_class":"hudson.model.Queue","items":[{"_class":"hudson.model.Queue$BuildableItem","task":{"_class":"hudson.model.FreeStyleProject"}}]}`,
		"items[*]{2}":                     `{"_class":"hudson.model.Queue","items":[{"_class":"hudson.model.Queue$BuildableItem","id":3,"task":null,"why":"w3"}]}`,
		"nothing":                         `{"_class":"hudson.model.Queue"}`,
	}
	for expr, want := range cases {
		tree, err := parseTree(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		var e exporter
		if got := string(e.top(b, tree, 0)); got != want {
			t.Errorf("tree=%s:\n got %s\nwant %s", expr, got, want)
		}
	}
	// depth: labelExpression (visibility 1) shows only from depth 1.
	var e exporter
	if got := string(e.top(b, nil, 0)); strings.Contains(got, "labelExpression") || !strings.Contains(got, `"color":"blue"`) {
		t.Errorf("depth 0: %s", got)
	}
	if got := string(e.top(b, nil, 1)); !strings.Contains(got, `"labelExpression":"mesos"`) {
		t.Errorf("depth 1: %s", got)
	}
	for _, bad := range []string{"items[", "items]", "a,,b", "items{x}", "", "a{1"} {
		if _, err := parseTree(bad); err == nil {
			t.Errorf("tree %q parsed, want Malformed tree expression", bad)
		}
	}
}

func FuzzTree(f *testing.F) {
	for _, s := range []string{"items[id,why,task[name,url]]", "jobs[name]{0,10}", "*", "a{3}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tree, err := parseTree(s)
		if err != nil {
			return
		}
		var e exporter
		_ = e.top(newBean("x", p("a", []any{1, 2, 3}), p("b", newBean("y", p("c", 1)))), tree, 0)
	})
}

func FuzzParseJobConfig(f *testing.F) {
	f.Add(freestyle("mesos&&linux", "sleep 5", "exit 1"))
	f.Add(`<?xml version='1.1'?><flow-definition><definition><script>node('mesos') { sh 'sleep 3' }</script></definition></flow-definition>`)
	f.Add(`<matrix-project/>`)
	f.Fuzz(func(t *testing.T, config string) {
		job, err := parseJobConfig("j", config)
		if err != nil {
			return
		}
		_ = stepsOf(job.Commands)
		_, _, _ = pipelineNode(job.Script)
		if !job.CanRoam && job.label == nil {
			t.Fatalf("a tied job without a parsed label: %+v", job)
		}
	})
}

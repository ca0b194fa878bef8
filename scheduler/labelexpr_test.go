package scheduler

import "testing"

func TestLabelExpressions(t *testing.T) {
	has := func(set ...string) func(string) bool {
		return func(a string) bool {
			for _, s := range set {
				if s == a {
					return true
				}
			}
			return false
		}
	}
	cases := []struct {
		expr string
		set  []string
		want bool
	}{
		{"mesos", []string{"mesos"}, true},
		{"mesos && linux", []string{"mesos"}, false},
		{"mesos&&linux", []string{"mesos", "linux"}, true},
		{"mesos || gpu", []string{"gpu"}, true},
		{"!gpu", []string{"mesos"}, true},
		{"(linux||windows)&&!gpu", []string{"linux"}, true},
		{"gpu -> cuda", []string{"mesos"}, true},
		{"gpu -> cuda", []string{"gpu"}, false},
		{"a <-> b", []string{}, true},
		{"a <-> b", []string{"a"}, false},
		{"mesos-1a2b", []string{"mesos-1a2b"}, true},
		{"a->b", []string{"a", "b"}, true},
		{`"odd label"`, []string{"odd label"}, true},
		{"a || b && c", []string{"a"}, true}, // && binds tighter
		{"!a || b", []string{"a"}, false},
	}
	for _, c := range cases {
		e, err := parseLabelExpr(c.expr)
		if err != nil {
			t.Fatalf("%q: %v", c.expr, err)
		}
		if got := e.matches(has(c.set...)); got != c.want {
			t.Errorf("%q on %v = %v, want %v", c.expr, c.set, got, c.want)
		}
	}
	for _, bad := range []string{"a &&", "(a", "a b", "!!a", "a -> b -> c", "&&", `"open`} {
		if _, err := parseLabelExpr(bad); err == nil {
			t.Errorf("%q parsed; want an error", bad)
		}
	}
}

func FuzzLabelExpr(f *testing.F) {
	for _, s := range []string{"mesos", "a&&b||!c", "(a->b)<->c", `"q x"`, "a-b-c", "((a))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseLabelExpr(s)
		if err != nil || e == nil {
			return
		}
		e.matches(func(string) bool { return true })
		e.matches(func(string) bool { return false })
	})
}

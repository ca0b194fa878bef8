package mesosemu

import "testing"

func TestStripNullsDropsNullMembersOnly(t *testing.T) {
	cases := map[string]string{
		`{"a":null}`:                         `{}`,
		`{"a":null,"b":1}`:                   `{"b":1}`,
		`{"b":1,"a":null}`:                   `{"b":1}`,
		`{"b":1,"a":null,"c":2}`:             `{"b":1,"c":2}`,
		`{"s":"x\":null","n":null}`:          `{"s":"x\":null"}`,
		`[{"a":null},{"b":[null,1]}]`:        `[{},{"b":[null,1]}]`,
		`{"o":{"x":null,"y":null},"z":true}`: `{"o":{},"z":true}`,
		`{"nullable":"null"}`:                `{"nullable":"null"}`,
	}
	for in, want := range cases {
		if got := string(stripNulls([]byte(in))); got != want {
			t.Errorf("stripNulls(%s) = %s, want %s", in, got, want)
		}
	}
}

func FuzzStripNulls(f *testing.F) {
	f.Add([]byte(`{"a":null,"b":{"c":null,"d":[1,null]},"e":"\"f\":null"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := stripNulls(b)
		if len(out) > len(b) {
			t.Fatalf("output grew: %d > %d", len(out), len(b))
		}
	})
}

package offers

import (
	"encoding/binary"
	"math/rand"
	"strings"
	"testing"
)

func FuzzParseConstraint(f *testing.F) {
	for _, s := range constraintPool {
		f.Add(s)
	}
	f.Add("os LIKE (a|b")
	f.Add("x MAX_PER -1")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConstraint(s)
		if err != nil {
			if !strings.Contains(err.Error(), "expected") {
				t.Fatalf("error %q does not say what was expected", err)
			}
			return
		}
		// A parsed constraint prints back to something that parses the same.
		again, err := ParseConstraint(c.String())
		if err != nil || again.Op != c.Op || again.Field != c.Field || again.Value != c.Value {
			t.Fatalf("%q → %q → %v, %v", s, c.String(), again, err)
		}
		o := offer("h", 1, 1, "rack:r1")
		_ = c.staticOK(&o)
	})
}

// FuzzMatch seeds the random request generator with fuzz input and checks
// every invariant the property test checks.
func FuzzMatch(f *testing.F) {
	for _, seed := range []uint64{1, 2, 3, 42, 1 << 40} {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], seed)
		f.Add(b[:])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b [8]byte
		copy(b[:], data)
		req := randomRequest(rand.New(rand.NewSource(int64(binary.LittleEndian.Uint64(b[:])))))
		res := Match(req)
		checkInvariants(t, req, &res)
		checkMaximal(t, req, &res)
	})
}

package emutime

import (
	"testing"
	"time"
)

// Real and Emulated convert between the two times at the clock's scale.
func TestRealAndEmulatedConvertAtTheScale(t *testing.T) {
	c := NewClock(20)
	if got := c.Real(time.Second); got != 50*time.Millisecond {
		t.Errorf("Real(1s) at ×20 = %s, want 50ms", got)
	}
	if got := c.Emulated(100 * time.Millisecond); got != 2*time.Second {
		t.Errorf("Emulated(100ms) at ×20 = %s, want 2s", got)
	}
	if got := NewClock(0.5).Emulated(time.Second); got != 500*time.Millisecond {
		t.Errorf("Emulated(1s) at ×0.5 = %s, want 500ms", got)
	}
}

// Now runs scale times faster than the real clock: between two readings it
// has moved at least scale times the real time measured inside them.
func TestNowRunsAtTheScale(t *testing.T) {
	c := NewClock(20)
	e0 := c.Now()
	r0 := time.Now()
	time.Sleep(5 * time.Millisecond)
	r1 := time.Now()
	e1 := c.Now()
	if got, least := e1.Sub(e0), 20*r1.Sub(r0)-time.Microsecond; got < least {
		t.Errorf("emulated time moved %s while real time moved %s, want at least %s", got, r1.Sub(r0), least)
	}
}

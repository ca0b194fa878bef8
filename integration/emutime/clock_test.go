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

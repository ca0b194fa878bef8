package emutime

import "time"

// Clock is emulated time. With scale N, emulated time runs N times faster
// than real time: a 15 s heartbeat fires every 15/N real seconds. Every
// duration the emulator waits for (heartbeats, allocation, filters, failover
// timeouts, status update retries, task sleeps) goes through one Clock, so a
// test sets the scale once and nothing sleeps for real longer than needed.
type Clock struct {
	scale float64
	base  time.Time // where real and emulated time start together
}

// NewClock returns a clock running scale times faster than real time.
func NewClock(scale float64) *Clock {
	if scale <= 0 {
		scale = 1
	}
	return &Clock{scale: scale, base: time.Now()}
}

// Scale is the speed-up factor.
func (c *Clock) Scale() float64 { return c.scale }

// Now is the current emulated time.
func (c *Clock) Now() time.Time {
	return c.base.Add(c.Emulated(time.Since(c.base)))
}

// Real converts an emulated duration to the real duration it lasts.
func (c *Clock) Real(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	r := time.Duration(float64(d) / c.scale)
	if r <= 0 {
		r = 1
	}
	return r
}

// Emulated converts a real duration to the emulated time it spans.
func (c *Clock) Emulated(d time.Duration) time.Duration {
	return time.Duration(float64(d) * c.scale)
}

// AfterFunc calls f after the emulated duration d.
func (c *Clock) AfterFunc(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(c.Real(d), f)
}

// NewTicker ticks every emulated duration d.
func (c *Clock) NewTicker(d time.Duration) *time.Ticker {
	return time.NewTicker(c.Real(d))
}

// NewTimer fires after the emulated duration d.
func (c *Clock) NewTimer(d time.Duration) *time.Timer {
	return time.NewTimer(c.Real(d))
}

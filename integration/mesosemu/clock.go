package mesosemu

import "github.com/jenkins-mesos/jenkins-mesos/integration/emutime"

// Clock is the emulator's scaled time (see package emutime).
type Clock = emutime.Clock

// NewClock returns a clock running scale times faster than real time.
func NewClock(scale float64) *Clock { return emutime.NewClock(scale) }

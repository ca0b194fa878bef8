//go:build race

package scheduler

// raceDetector: the race detector slows the single-threaded exhaustive
// check tenfold and finds nothing in it; it runs shallower there.
const raceDetector = true

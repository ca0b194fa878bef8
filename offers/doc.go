// Package offers matches held Mesos offers to demanded Jenkins agent slices
// and explains every slice it could not place.
//
// The package is pure: no I/O, no clock, no goroutines, no global randomness
// (enforced by deps_test.go at the repository root).
package offers

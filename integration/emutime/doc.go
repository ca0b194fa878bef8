// Package emutime is the emulators' scaled time: with scale N, emulated
// time runs N times faster than real time, so a test that needs a 15 s
// heartbeat or a `sleep 100` build waits 15/N or 100/N real seconds.
// Both emulators use it; it imports nothing of the product.
package emutime

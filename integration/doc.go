// Package integration holds the emulators (mesosemu, jenkinsemu, emutime)
// and the tests that run them together: end-to-end, chaos and scale.
package integration

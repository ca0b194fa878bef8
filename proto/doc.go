// Package proto holds the versioned schema of the state jenkins-mesos
// persists. It is pure.
package proto

// Package scheduler is the pure core state machine of jenkins-mesos: events
// go in through Step, a Ready batch of actions (state to persist, Jenkins
// node changes, Mesos calls) comes out. All I/O belongs to the caller.
package scheduler

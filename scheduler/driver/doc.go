// Package driver is jenkins-mesos' one event loop: it subscribes to the
// Mesos master over mesos-go's httpsched, polls Jenkins through the
// adapter, feeds both to the pure core as events, and carries out each
// Ready in its order — persist, then Jenkins operations (concurrently,
// bounded, their outcomes coming back as events), then Mesos calls.
package driver

// Package executor builds what runs on a Mesos agent: the TaskInfo of an
// inbound (JNLP) Jenkins agent container. It is pure.
package executor

// Package mesosemu is an emulated Apache Mesos master with simulated agents.
//
// It implements the v1 scheduler HTTP API (POST /api/v1/scheduler, JSON and
// protobuf, RecordIO event streams) from Mesos' documented behaviour (the
// steering repository's shared/reference/mesos-v1-api.md, checked against
// Apache Mesos' source), so that
// any v1 client — mesos-go's httpsched/controller stack included — can use it
// as if it were a real master. It is an independent implementation: it must
// never import jenkins-mesos' own packages, or it would share their bugs.
//
// The emulator is cut along Mesos' own seams, one concern a file:
//
//	config.go      Config, defaults, resource and attribute parsing
//	clock.go       scaled emulated time (--time-scale, package emutime)
//	wire.go        the HTTP layer: methods, media types, stream IDs, errors,
//	               call validation, 307 redirects from standbys
//	master.go      one master: its HTTP server, MasterInfo, start and stop
//	jsonnull.go    stripping the nulls mesos-go's JSON encoder writes
//	required.go    proto2 "required field" checks for JSON bodies
//	stream.go      RecordIO event streams and heartbeats
//	framework.go   the framework registry: subscribe, failover, removal
//	allocator.go   the hierarchical allocator: offers, filters, suppression,
//	               the seeded agent order, allocation cycle count
//	resmath.go     fixed-point copy-on-write resource arithmetic
//	accept.go      ACCEPT/DECLINE and the master's task validation
//	agent.go       simulated agents, task processes, status update streams
//	docker.go      the Docker containerizer (pull, private registries'
//	               credentials) and executor (run options) views of a
//	               TaskInfo, image stand-ins
//	fetcher.go     the Mesos fetcher: CommandInfo URIs into the sandbox
//	reconcile.go   implicit and explicit reconciliation
//	faults.go      fault injection (Go API and admin endpoint)
//	zk.go          master contention and detection through ZooKeeper
//	operator.go    /master/state, /master/redirect, /health
//	maintenance.go /master/maintenance/schedule and offers' unavailability
//	cluster.go     masters sharing agents, leadership and failover,
//	               ordered shutdown
package mesosemu

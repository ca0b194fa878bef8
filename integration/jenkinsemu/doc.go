// Package jenkinsemu is an emulated Jenkins controller with an inbound
// agent stand-in, built from Jenkins' documented and observed behaviour
// (../shared/reference/jenkins-rest-api.md), independently of jenkins-mesos'
// own jenkins package (which it must never import).
//
// Where real Jenkins is awkward — redirects after POSTs, 201/204/302 status
// codes, curly quotes in queue `why` texts, the node name instead of the
// label when one node carries it — the emulator is exactly as awkward.
//
// One concern a file, along Jenkins' own seams:
//
//	stapler.go   the export rules: _class, tree=, depth=, visibility
//	tree.go      the tree= expression parser
//	labels.go    label expressions (&&, ||, !, ->, <->, quotes)
//	security.go  API tokens, passwords, sessions and crumbs
//	model.go     the controller's state and its lock
//	jobs.go      freestyle and Pipeline jobs, builds
//	queue.go     the queue, `why`, stuck, cancel, left items
//	nodes.go     computers, node creation/deletion, offline, secrets
//	agents.go    the inbound-agent connection (server side)
//	standin.go   the inbound-agent stand-in (client side)
//	persist.go   JENKINS_HOME: nodes, jobs and build history
//	server.go    HTTP routing and headers
//	faults.go    503 windows, restarts, slow answers
package jenkinsemu

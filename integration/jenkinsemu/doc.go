// Package jenkinsemu is an emulated Jenkins controller with an inbound
// agent stand-in, built from Jenkins' documented and observed behaviour
// (the steering repository's shared/reference/jenkins-rest-api.md, checked
// against Jenkins core's source), independently of jenkins-mesos' own
// jenkins package (which it must never import).
//
// Where real Jenkins is awkward — redirects after POSTs, 201/204/302 status
// codes, curly quotes in queue `why` texts, the node name instead of the
// label when one node carries it — the emulator is exactly as awkward.
//
// One concern a file, along Jenkins' own seams:
//
//	stapler.go   the export rules: _class, tree=, depth=, visibility
//	lazy.go      queue items written straight into the export buffer
//	api.go       the exported model: one bean builder per Java class
//	tree.go      the tree= expression parser
//	labels.go    label expressions (&&, ||, !, ->, <->, quotes)
//	security.go  API tokens, passwords, sessions and crumbs
//	model.go     the controller's state and its lock
//	jobs.go      freestyle and Pipeline jobs, builds, estimates; createItem
//	             (XML, copy, empty), /job/X/ endpoints: config.xml,
//	             disable/enable, build, stop, consoleText, progressiveText
//	queue.go     the queue (Queue.maintain order), `why`, stuck, cancel,
//	             left items; /queue/ endpoints
//	nodes.go     computers, node creation/deletion, offline causes, secrets;
//	             /computer/ endpoints
//	agents.go    the inbound-agent connection (server side)
//	standin.go   the inbound-agent stand-in (client side)
//	persist.go   JENKINS_HOME: nodes, jobs, build history, the queue
//	server.go    HTTP front: headers, faults, security, routing; /me, /user,
//	             /view/all
//	faults.go    503 windows, restarts, slow answers; /emulator/ endpoints
//
// testdata/python_jenkins.py is a third-party client's session
// (python-jenkins), run by TestPythonJenkinsClient.
package jenkinsemu

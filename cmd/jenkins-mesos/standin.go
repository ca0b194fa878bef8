package main

import (
	"context"
	"io"

	"github.com/jenkins-mesos/jenkins-mesos/integration/jenkinsemu"
)

// runAgentStandin is what the demo's emulated agents run for the
// jenkins/inbound-agent image: the Jenkins emulator's inbound-agent
// stand-in, reading the JENKINS_* variables the image's entrypoint reads.
// (A hidden command: real clusters run the real image.)
func runAgentStandin(ctx context.Context, _ []string, getenv func(string) string, out io.Writer) error {
	name := getenv("JENKINS_AGENT_NAME")
	if v := getenv("JENKINS_NAME"); v != "" {
		name = v
	}
	return jenkinsemu.RunAgent(ctx, jenkinsemu.AgentOptions{URL: getenv("JENKINS_URL"), Secret: getenv("JENKINS_SECRET"), Name: name,
		WorkDir: getenv("JENKINS_AGENT_WORKDIR"), WebSocket: getenv("JENKINS_WEB_SOCKET") == "true", Log: out})
}

// Package jenkins is the Jenkins REST adapter: it turns the build queue into
// demand and creates, retires and deletes inbound agent nodes.
package jenkins

//go:build chaos_broken

package main

import (
	"context"

	"github.com/jenkins-mesos/jenkins-mesos/scheduler/driver"
)

// Built only with -tags chaos_broken, for the chaos suite: a framework
// that forgets to delete its Jenkins nodes (it says it did). The suite
// must catch it; no release is built with this tag.
func init() {
	adaptJenkins = func(j driver.Jenkins) driver.Jenkins { return forgetsDeletes{j} }
}

type forgetsDeletes struct{ driver.Jenkins }

func (forgetsDeletes) DeleteNode(context.Context, string) error { return nil }

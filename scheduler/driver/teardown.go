package driver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpsched"
	msched "github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/jenkins-mesos/jenkins-mesos/proto"
)

// ErrNotRegistered: the store holds no framework ID to tear down.
var ErrNotRegistered = errors.New("no framework ID is stored: nothing is registered with Mesos under this configuration")

// Teardown removes the framework for good: it subscribes as the stored
// framework ID and sends TEARDOWN, on which the master kills every task
// of the framework and forgets it; then the stored ID is cleared, so the
// next start registers a new framework. A framework the master already
// removed counts as torn down. It returns the framework ID.
//
// An instance still running under the same ID is failed over by this
// subscription and then finds its framework removed; stop the instances
// first.
func Teardown(ctx context.Context, cfg Config, st Store) (string, error) {
	state, err := st.Load()
	if err != nil {
		return "", fmt.Errorf("teardown: reading the state: %w", err)
	}
	id := state.GetFrameworkId()
	if id == "" {
		return "", ErrNotRegistered
	}
	d := New(cfg, nil, st)
	d.setFrameworkID(id)
	leader, err := d.findLeader(ctx)
	if err != nil {
		return id, err
	}
	codec, opts := d.wire()
	cli := httpcli.New(httpcli.Endpoint(leader+"/api/v1/scheduler"), codec, httpcli.Do(httpcli.With(opts...)))
	caller := httpsched.NewCaller(cli, httpsched.MaxRedirects(3))
	fi := d.frameworkInfo()
	sub := calls.Subscribe(&fi)
	sub.FrameworkID = fi.ID
	sctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := caller.Call(sctx, sub)
	if err != nil {
		return id, fmt.Errorf("teardown: subscribing to %s as %s: %w", leader, id, err)
	}
	defer resp.Close()
	var ev msched.Event
	for {
		if err := resp.Decode(&ev); err != nil {
			return id, fmt.Errorf("teardown: the event stream from %s: %w", leader, err)
		}
		if ev.Type == msched.Event_SUBSCRIBED || ev.Type == msched.Event_ERROR {
			break
		}
	}
	if ev.Type == msched.Event_ERROR {
		if !strings.Contains(ev.GetError().GetMessage(), "Framework has been removed") {
			return id, fmt.Errorf("teardown: the master refused the subscription: %s", ev.GetError().GetMessage())
		}
	} else {
		td := &msched.Call{Type: msched.Call_TEARDOWN, FrameworkID: &mesos.FrameworkID{Value: id}}
		if err := calls.CallNoData(sctx, caller, td); err != nil {
			return id, fmt.Errorf("teardown: TEARDOWN to %s: %w", leader, err)
		}
	}
	if err := st.Save(&proto.State{SchemaVersion: 1}); err != nil {
		return id, fmt.Errorf("teardown: the framework is removed from Mesos, but clearing the stored ID failed (%w); start with --new-framework=%s", err, id)
	}
	return id, nil
}

// findLeader is the leading master's URL: from the ZooKeeper group for a
// zk:// master, else through /master/redirect.
func (d *Driver) findLeader(ctx context.Context) (string, error) {
	if len(d.cfg.Masters) == 1 && strings.HasPrefix(d.cfg.Masters[0], "zk://") {
		servers, root, err := ParseZK(d.cfg.Masters[0])
		if err != nil {
			return "", err
		}
		zkd, err := newZKDetector(servers, root, d.cfg.ZKCredentials)
		if err != nil {
			return "", err
		}
		defer zkd.close()
		leader, _, err := zkd.leader(ctx)
		return leader, err
	}
	return d.leader(ctx, 0), nil
}

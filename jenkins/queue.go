package jenkins

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Item is a build waiting in the queue.
type Item struct {
	ID    int64
	Name  string // job name, or the Pipeline block's "part of job #N"
	Label string // label expression ("" when none is known)
	// LabelNode is set instead of Label when Jenkins named a node (the
	// form it uses when exactly one node carries the label): the caller
	// maps its own node names back to a label.
	LabelNode string
	Quiet     bool // a WaitingItem: still in its quiet period
	Blocked   bool
	// ShuttingDown: Jenkins is quieting down ("Prepare for Shutdown") and
	// starts no queued task (Queue.isBlockedByShutdown); the item says so
	// in its why, buildable or not.
	ShuttingDown bool
	Stuck        bool
	Why          string
}

// ShutdownWhy is the `why` of every queued task while Jenkins quiets
// down (Messages Queue.HudsonIsAboutToShutDown).
const ShutdownWhy = "Jenkins is about to shut down"

// queueTree is the one request a poll makes, whatever the queue's length
// (plus the root's quietingDown while a build is in its quiet period and
// no item tells it).
const queueTree = "items[id,why,blocked,buildable,stuck,inQueueSince,task[name,url,labelExpression]]"

type queueJSON struct {
	Items []struct {
		Class     string `json:"_class"`
		ID        int64  `json:"id"`
		Why       string `json:"why"`
		Blocked   bool   `json:"blocked"`
		Buildable bool   `json:"buildable"`
		Stuck     bool   `json:"stuck"`
		Task      struct {
			Class           string  `json:"_class"`
			Name            string  `json:"name"`
			URL             string  `json:"url"`
			LabelExpression *string `json:"labelExpression"`
		} `json:"task"`
	} `json:"items"`
}

// Queue reads the queue in one request. Freestyle items carry their job's
// label expression in that same answer (AbstractProject's exported
// labelExpression: the assignedNode of its config), so no job is read on
// its own; Pipeline node blocks and other tasks have theirs parsed from
// `why`. Flyweight Pipeline runs
// (which need no executor) are left out.
//
// A build in its quiet period says nothing of a shutdown (its why is "In
// the quiet period"), so when such builds wait and no other item is held
// by one, the root's quietingDown is asked: while Jenkins quiets down they
// are marked ShuttingDown too, as Queue.maintain will hold them.
func (c *Client) Queue(ctx context.Context) ([]Item, error) {
	var q queueJSON
	if err := c.getJSON(ctx, "queue/api/json", url.Values{"tree": {queueTree}}, &q); err != nil {
		return nil, err
	}
	out := make([]Item, 0, len(q.Items))
	for _, it := range q.Items {
		if strings.HasSuffix(it.Task.Class, ".WorkflowJob") {
			continue // the Pipeline run itself: a flyweight task
		}
		item := Item{ID: it.ID, Name: it.Task.Name, Why: it.Why, Blocked: it.Blocked, Stuck: it.Stuck,
			Quiet: strings.HasSuffix(it.Class, "$WaitingItem"), ShuttingDown: it.Why == ShutdownWhy}
		if it.Task.LabelExpression != nil {
			item.Label = *it.Task.LabelExpression
		} else {
			item.Label, item.LabelNode = ParseWhy(it.Why)
		}
		out = append(out, item)
	}
	if !slices.ContainsFunc(out, func(it Item) bool { return it.ShuttingDown }) && slices.ContainsFunc(out, func(it Item) bool { return it.Quiet }) {
		quieting, _, err := c.QuietingDown(ctx)
		if err != nil {
			return nil, err
		}
		for i := range out {
			out[i].ShuttingDown = quieting
		}
	}
	return out, nil
}

// ParseWhy reads the label (or the one node) a buildable item waits for
// from its `why`, in every form Jenkins writes (Messages.properties, with
// curly quotes): "Waiting for next available executor on ‘X’", "There are
// no nodes with the label ‘X’", "All nodes of label ‘X’ are offline",
// "‘N’ is offline", and the composite "‘N’ doesn’t have label ‘X’; …".
// X after "on" and "‘N’ is offline" may be a node name (Jenkins names the
// node when exactly one carries the label): those come back as node.
// The label-less "Waiting for next available executor" (no agents at all)
// and texts it does not know give ("", "").
func ParseWhy(why string) (label, node string) {
	quoted := func(s, prefix string) (string, bool) {
		if !strings.HasPrefix(s, prefix) {
			return "", false
		}
		rest := s[len(prefix):]
		end := strings.Index(rest, "’")
		if end < 0 {
			return "", false
		}
		return rest[:end], true
	}
	for _, part := range strings.Split(why, "; ") {
		if x, ok := quoted(part, "There are no nodes with the label ‘"); ok {
			return x, ""
		}
		if x, ok := quoted(part, "All nodes of label ‘"); ok {
			return x, ""
		}
		if x, ok := quoted(part, "Waiting for next available executor on ‘"); ok {
			return x, x
		}
		if strings.HasPrefix(part, "‘") && strings.HasSuffix(part, "’ is offline") {
			n := strings.TrimSuffix(strings.TrimPrefix(part, "‘"), "’ is offline")
			return "", n
		}
		if i := strings.Index(part, "’ doesn’t have label ‘"); strings.HasPrefix(part, "‘") && i > 0 {
			rest := part[i+len("’ doesn’t have label ‘"):]
			if end := strings.Index(rest, "’"); end >= 0 {
				return rest[:end], ""
			}
		}
	}
	return "", ""
}

// Fate is what became of a queue item that is no longer listed.
type Fate int

const (
	// FateUnknown: Jenkins no longer knows the item (a left item is kept
	// five minutes, and not across a restart).
	FateUnknown Fate = iota
	// FateStarted: it left the queue for an executor (Queue.LeftItem with
	// an executable).
	FateStarted
	// FateCancelled: it left the queue cancelled (Queue.LeftItem's
	// cancelled), by a user or the API.
	FateCancelled
	// FateQueued: it is still in the queue (blocked, say), only no longer
	// in the listing the caller last saw it in.
	FateQueued
)

func (f Fate) String() string {
	return [...]string{"unknown", "started", "cancelled", "queued"}[f]
}

// FateOf asks Jenkins what became of queue item id
// (GET queue/item/N/api/json, the left item Jenkins keeps for five
// minutes).
func (c *Client) FateOf(ctx context.Context, id int64) (Fate, error) {
	var it struct {
		Class      string          `json:"_class"`
		Cancelled  bool            `json:"cancelled"`
		Executable json.RawMessage `json:"executable"`
	}
	err := c.getJSON(ctx, "queue/item/"+strconv.FormatInt(id, 10)+"/api/json", url.Values{"tree": {"cancelled,executable[url]"}}, &it)
	switch {
	case errors.Is(err, ErrNotFound):
		return FateUnknown, nil
	case err != nil:
		return FateUnknown, err
	case !strings.HasSuffix(it.Class, "$LeftItem"):
		return FateQueued, nil
	case it.Cancelled:
		return FateCancelled, nil
	case len(it.Executable) > 0 && string(it.Executable) != "null":
		return FateStarted, nil
	}
	return FateUnknown, nil
}

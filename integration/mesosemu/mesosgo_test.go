package mesosemu

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/backoff"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/extras/scheduler/callrules"
	"github.com/mesos/mesos-go/api/v1/lib/extras/scheduler/controller"
	"github.com/mesos/mesos-go/api/v1/lib/extras/scheduler/eventrules"
	"github.com/mesos/mesos-go/api/v1/lib/extras/store"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpsched"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/events"
)

// goClient drives the emulator with mesos-go's own v1 stack: httpcli,
// httpsched, callrules and the controller, as jenkins-mesos will.
type goClient struct {
	t      *testing.T
	caller calls.Caller
	fid    store.Singleton
	events chan *scheduler.Event
	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	terminated []error
}

func startGoClient(t *testing.T, endpoint string, fi mesos.FrameworkInfo, codec string) *goClient {
	t.Helper()
	cli := httpcli.New(
		httpcli.Endpoint(endpoint+"/api/v1/scheduler"),
		httpcli.Codec(codecs.ByMediaType[codecMedia(codec)]),
		httpcli.Do(httpcli.With(httpcli.Timeout(10*time.Second))),
	)
	g := &goClient{t: t, fid: store.NewInMemorySingleton(), events: make(chan *scheduler.Event, 1000), done: make(chan struct{})}
	g.caller = callrules.New(callrules.WithFrameworkID(store.GetIgnoreErrors(g.fid))).Caller(httpsched.NewCaller(cli, httpsched.AllowReconnection(true)))
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	push := func(_ context.Context, e *scheduler.Event) error { g.events <- e; return nil }
	handler := eventrules.New(controller.LiftErrors().DropOnError()).Handle(events.Handlers{
		scheduler.Event_SUBSCRIBED: eventrules.New(controller.TrackSubscription(g.fid, time.Hour)).HandleF(push),
		scheduler.Event_UPDATE:     controller.AckStatusUpdates(g.caller).AndThen().HandleF(push),
	}.Otherwise(push))
	go func() {
		defer close(g.done)
		_ = controller.Run(ctx, &fi, g.caller,
			controller.WithEventHandler(handler),
			controller.WithFrameworkID(store.GetIgnoreErrors(g.fid)),
			controller.WithRegistrationTokens(backoff.Notifier(50*time.Millisecond, 500*time.Millisecond, ctx.Done())),
			controller.WithSubscriptionTerminated(func(err error) {
				g.mu.Lock()
				g.terminated = append(g.terminated, err)
				g.mu.Unlock()
			}),
		)
	}()
	t.Cleanup(func() { cancel(); <-g.done })
	return g
}

func codecMedia(name string) encoding.MediaType {
	if name == "protobuf" {
		return codecs.MediaTypeProtobuf
	}
	return codecs.MediaTypeJSON
}

func (g *goClient) next(ty scheduler.Event_Type) *scheduler.Event {
	g.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-g.events:
			if ev.Type == ty {
				return ev
			}
		case <-deadline:
			g.t.Fatalf("mesos-go client: timed out waiting for %v", ty)
		}
	}
}

func (g *goClient) update(taskID string, want mesos.TaskState) mesos.TaskStatus {
	g.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-g.events:
			if ev.Type == scheduler.Event_UPDATE && ev.Update.Status.TaskID.Value == taskID && ev.Update.Status.GetState() == want {
				return ev.Update.Status
			}
		case <-deadline:
			g.t.Fatalf("mesos-go client: timed out waiting for %s %v", taskID, want)
		}
	}
}

func (g *goClient) call(c *scheduler.Call) {
	g.t.Helper()
	if err := calls.CallNoData(context.Background(), g.caller, c); err != nil {
		g.t.Fatalf("mesos-go client: %v: %v", c.Type, err)
	}
}

func (g *goClient) quiet(d time.Duration, ty scheduler.Event_Type) {
	g.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev := <-g.events:
			if ev.Type == ty {
				g.t.Fatalf("mesos-go client: unexpected %v", ty)
			}
		case <-deadline:
			return
		}
	}
}

func TestMesosGoStackEndToEnd(t *testing.T) {
	for _, codec := range []string{"json", "protobuf"} {
		t.Run(codec, func(t *testing.T) {
			c := newTestCluster(t, Config{Agents: 2})
			fi := frameworkInfo("mesos-go-"+codec, mesos.FrameworkInfo_Capability_TASK_KILLING_STATE)
			fi.FailoverTimeout = f64(3600)
			g := startGoClient(t, c.Leader(), fi, codec)
			fid := g.next(scheduler.Event_SUBSCRIBED).Subscribed.FrameworkID.Value

			offers := g.next(scheduler.Event_OFFERS).Offers.Offers
			if len(offers) != 2 {
				t.Fatalf("got %d offers, want 2", len(offers))
			}
			// Decline one agent for an hour; launch a real command on the other.
			g.call(calls.Decline(offers[1].ID).With(calls.RefuseSeconds(time.Hour)))
			o := offers[0]
			task := commandTask("hello", o, 0.2, 32, "echo done > result; sleep 1")
			g.call(calls.Accept(calls.OfferOperations{calls.OpLaunch(task)}.WithOffers(o.ID)).With(calls.RefuseSeconds(0)))
			g.update("hello", mesos.TASK_RUNNING)
			dir := c.TaskSandbox(fid, "hello")
			g.update("hello", mesos.TASK_FINISHED)
			if b, err := os.ReadFile(filepath.Join(dir, "result")); err != nil || string(b) != "done\n" {
				t.Fatalf("the task did not really run: %q %v", b, err)
			}
			// AckStatusUpdates acknowledged everything: the task is forgotten.
			waitFor(t, "acknowledged task to be forgotten", func() bool { _, ok := c.TaskState(fid, "hello"); return !ok })

			// Offers of the declined agent stay away; the other comes back.
			for i := 0; i < 2; i++ {
				for _, o := range g.next(scheduler.Event_OFFERS).Offers.Offers {
					if o.AgentID == offers[1].AgentID {
						t.Fatalf("declined agent offered again within its filter")
					}
					g.call(calls.Decline(o.ID).With(calls.RefuseSeconds(0)))
				}
			}

			// Suppress, then revive.
			g.call(calls.Suppress())
			g.quiet(300*time.Millisecond, scheduler.Event_OFFERS)
			g.call(calls.Revive())
			o = g.next(scheduler.Event_OFFERS).Offers.Offers[0]

			// Launch a long task, reconcile it, kill it.
			g.call(calls.Accept(calls.OfferOperations{calls.OpLaunch(commandTask("long", o, 0.2, 32, "sleep 1000"))}.WithOffers(o.ID)))
			g.update("long", mesos.TASK_RUNNING)
			g.call(calls.Reconcile(calls.ReconcileTasks(map[string]string{"long": o.AgentID.Value})))
			if st := g.update("long", mesos.TASK_RUNNING); st.GetReason() != mesos.REASON_RECONCILIATION {
				t.Fatalf("reconcile answer %s", describe(st))
			}
			g.call(calls.Kill("long", o.AgentID.Value))
			g.update("long", mesos.TASK_KILLING)
			g.update("long", mesos.TASK_KILLED)

			// A broken stream: the controller re-subscribes with the same ID.
			if err := c.DropFrameworkStream(fid); err != nil {
				t.Fatal(err)
			}
			if again := g.next(scheduler.Event_SUBSCRIBED).Subscribed.FrameworkID.Value; again != fid {
				t.Fatalf("re-subscribed as %s, want the same framework ID %s", again, fid)
			}
			g.next(scheduler.Event_OFFERS)
		})
	}
}

func TestMesosGoFollowsRedirectFromAStandby(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1, Masters: 3})
	leader := c.Leader()
	var standby string
	for _, u := range c.Masters() {
		if u != leader {
			standby = u
			break
		}
	}
	r := postJSON(t, standby, "", map[string]any{"type": "SUBSCRIBE"})
	if r.code != 307 || r.header.Get("Location") != "//"+leader[len("http://"):]+"/api/v1/scheduler" {
		t.Fatalf("standby answered %d Location %q, want 307 to the leader", r.code, r.header.Get("Location"))
	}
	fi := frameworkInfo("redirected")
	fi.FailoverTimeout = f64(3600)
	g := startGoClient(t, standby, fi, "json")
	g.next(scheduler.Event_SUBSCRIBED)
	o := g.next(scheduler.Event_OFFERS).Offers.Offers[0]
	// mesos-go keeps sending later calls to the endpoint it was built with
	// (reference §5.4.1): the standby answers them 307 too, as a real one does.
	err := calls.CallNoData(context.Background(), g.caller, calls.Decline(o.ID))
	if err == nil {
		t.Fatalf("a call sent to the standby succeeded; a real standby redirects it")
	}
}

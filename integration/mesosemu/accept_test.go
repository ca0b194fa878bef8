package mesosemu

import (
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

func TestAcceptWithInvalidOffersLosesOrDropsTasks(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 2})
	url := c.Leader()
	for _, tc := range []struct {
		name  string
		caps  []mesos.FrameworkInfo_Capability_Type
		state mesos.TaskState
	}{
		{"not partition aware", nil, mesos.TASK_LOST},
		{"partition aware", []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_PARTITION_AWARE}, mesos.TASK_DROPPED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := subscribeRaw(t, url, frameworkInfo(tc.name, tc.caps...))
			offers := s.next(scheduler.Event_OFFERS).Offers.Offers
			o := offers[0]
			cases := []struct {
				ids  []mesos.OfferID
				want string
			}{
				{[]mesos.OfferID{{Value: "bogus"}}, "Task launched with invalid offers: Offer bogus is no longer valid"},
				{nil, "Task launched with invalid offers: No offers specified"},
			}
			if len(offers) > 1 {
				cases = append(cases, struct {
					ids  []mesos.OfferID
					want string
				}{[]mesos.OfferID{offers[0].ID, offers[1].ID}, "Aggregated offers must belong to one single agent"})
			}
			for i, cs := range cases {
				id := tc.name + "-" + string(rune('a'+i))
				s.mustCall(url, launch(cs.ids, nil, commandTask(id, o, 0.1, 16, "true")))
				st := s.update(id)
				if st.GetState() != tc.state || st.GetReason() != mesos.REASON_INVALID_OFFERS || st.GetSource() != mesos.SOURCE_MASTER || len(st.UUID) != 0 || !strings.Contains(st.GetMessage(), cs.want) {
					t.Fatalf("%v: got %s, want %v / REASON_INVALID_OFFERS / no uuid, message containing %q", cs.ids, describe(st), tc.state, cs.want)
				}
			}
		})
	}
}

func TestMasterTaskValidationAnswersTaskError(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	ok := func(id string) mesos.TaskInfo { return commandTask(id, o, 0.1, 16, "sleep 1000") }
	docker := func(id string) mesos.TaskInfo {
		tk := ok(id)
		tk.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum()}
		return tk
	}
	both := ok("both")
	both.Executor = &mesos.ExecutorInfo{ExecutorID: mesos.ExecutorID{Value: "e"}, Command: &mesos.CommandInfo{}}
	neither := ok("neither")
	neither.Command = nil
	noRes := ok("nores")
	noRes.Resources = nil
	wrongAgent := ok("wrongagent")
	wrongAgent.AgentID = mesos.AgentID{Value: "other"}
	tooBig := commandTask("toobig", o, 64, 16, "true")
	nameParam := docker("nameparam")
	nameParam.Container.Docker = &mesos.ContainerInfo_DockerInfo{Image: "x", Parameters: []mesos.Parameter{{Key: "name", Value: "n"}}}
	slash := ok("bad/id")
	unknownEnv := ok("unknownenv")
	unknownEnv.Command.Environment = &mesos.Environment{Variables: []mesos.Environment_Variable{{Name: "X", Type: mesos.Environment_Variable_UNKNOWN.Enum(), Value: new(string)}}}
	noValue := ok("novalue")
	noValue.Command.Environment = &mesos.Environment{Variables: []mesos.Environment_Variable{{Name: "JENKINS_SECRET"}}}
	twoSources := docker("twosources")
	twoSources.Container.Docker = &mesos.ContainerInfo_DockerInfo{Image: "x"}
	hp := "/var/run/docker.sock"
	twoSources.Container.Volumes = []mesos.Volume{{ContainerPath: "/x", Mode: mesos.RW.Enum(), HostPath: &hp, Image: &mesos.Image{Type: mesos.Image_DOCKER.Enum()}}}
	noSource := docker("nosource")
	noSource.Container.Docker = &mesos.ContainerInfo_DockerInfo{Image: "x"}
	noSource.Container.Volumes = []mesos.Volume{{ContainerPath: "/x", Mode: mesos.RW.Enum()}}
	limited := func(id string, limits map[string]float64) mesos.TaskInfo {
		tk := ok(id)
		tk.Limits = map[string]mesos.Value_Scalar{}
		for k, v := range limits {
			tk.Limits[k] = mesos.Value_Scalar{Value: v}
		}
		return tk
	}
	noCPU := limited("nocpu", map[string]float64{"cpus": 1})
	noCPU.Resources = noCPU.Resources[1:] // mem only
	cases := []struct {
		task mesos.TaskInfo
		want string
	}{
		{ok("dup"), "Task has duplicate ID: dup"},
		{limited("disklimit", map[string]float64{"disk": 100}), "Only cpus and mem may be included in a task's resource limits"},
		{limited("lowcpu", map[string]float64{"cpus": 0.05}), "The cpu limit must be greater than or equal to the cpu request"},
		{limited("lowmem", map[string]float64{"cpus": 1e9, "mem": 15.9}), "The memory limit must be greater than or equal to the memory request"},
		{noCPU, "When a CPU limit is specified, a CPU request must also be specified"},
		{both, "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"},
		{neither, "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"},
		{noRes, "Task uses no resources"},
		{wrongAgent, "Task uses invalid agent other while agent " + o.AgentID.Value + " is expected"},
		{tooBig, "Total resources"},
		{docker("nodocker"), "Task's `ContainerInfo` is invalid: DockerInfo 'docker' is not set for DOCKER typed ContainerInfo"},
		{nameParam, "Task's `ContainerInfo` is invalid: Parameter in DockerInfo must not be 'name'"},
		{slash, "'bad/id' contains invalid characters"},
		{unknownEnv, "Task's `CommandInfo` is invalid: Environment variable of type 'UNKNOWN' is not allowed"},
		{noValue, "Task's `CommandInfo` is invalid: Environment variable 'JENKINS_SECRET' of type 'VALUE' must have a value set"},
		{twoSources, "Task's `ContainerInfo` is invalid: Invalid volume: Only one of them should be set: 'host_path', 'image' and 'source'"},
		{noSource, "Task's `ContainerInfo` is invalid: Invalid volume: Only one of them should be set: 'host_path', 'image' and 'source'"},
	}
	// Limits at or above the requests are valid (mem is compared in whole
	// megabytes: 15.9 is 15, 16.4 is 16). These calls are JSON, which has
	// no infinity (Mesos reads "Infinity"; mesos-go cannot write it): the
	// framework's end-to-end test sends infinite limits in protobuf.
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, f64(0), ok("dup"), limited("limits-ok", map[string]float64{"cpus": 1e9, "mem": 16.4})))
	ackUntil(s, url, "dup", mesos.TASK_RUNNING)
	ackUntil(s, url, "limits-ok", mesos.TASK_RUNNING)
	o = s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	var tasks []mesos.TaskInfo
	for _, cs := range cases {
		tasks = append(tasks, cs.task)
	}
	s.mustCall(url, launch([]mesos.OfferID{o.ID}, nil, tasks...))
	for i, cs := range cases {
		id := cs.task.TaskID.Value
		st := s.update(id)
		exact := cs.want != "Total resources"
		if st.GetState() != mesos.TASK_ERROR || st.GetReason() != mesos.REASON_TASK_INVALID || len(st.UUID) != 0 ||
			(exact && st.GetMessage() != cs.want) || !strings.Contains(st.GetMessage(), cs.want) {
			t.Fatalf("case %d %s: got %s, want TASK_ERROR / REASON_TASK_INVALID with %q", i, id, describe(st), cs.want)
		}
	}
}

func TestLaunchGroupRulesAndExecution(t *testing.T) {
	c := newTestCluster(t, Config{Agents: 1})
	url := c.Leader()
	s := subscribeRaw(t, url, frameworkInfo("fw"))
	o := s.next(scheduler.Event_OFFERS).Offers.Offers[0]
	group := func(ids ...string) *mesos.Offer_Operation {
		var tasks []mesos.TaskInfo
		for _, id := range ids {
			tasks = append(tasks, commandTask(id, o, 0.1, 16, "true"))
		}
		return &mesos.Offer_Operation{Type: mesos.Offer_Operation_LAUNCH_GROUP, LaunchGroup: &mesos.Offer_Operation_LaunchGroup{
			Executor:  mesos.ExecutorInfo{Type: mesos.ExecutorInfo_DEFAULT, ExecutorID: mesos.ExecutorID{Value: "default"}},
			TaskGroup: mesos.TaskGroupInfo{Tasks: tasks},
		}}
	}
	bad := group("g-docker")
	bad.LaunchGroup.TaskGroup.Tasks[0].Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(), Docker: &mesos.ContainerInfo_DockerInfo{Image: "x"}}
	good := group("g1", "g2")
	s.mustCall(url, &scheduler.Call{Type: scheduler.Call_ACCEPT, Accept: &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{o.ID}, Operations: []mesos.Offer_Operation{*bad, *good}}})
	st := s.update("g-docker")
	if st.GetState() != mesos.TASK_ERROR || !strings.Contains(st.GetMessage(), "Docker ContainerInfo is not supported on the task") {
		t.Fatalf("docker in a group: got %s", describe(st))
	}
	for _, id := range []string{"g1", "g2"} {
		if seen := runToEnd(s, url, id); states(seen) != "TASK_STARTING TASK_RUNNING TASK_FINISHED" {
			t.Fatalf("%s: %s", id, states(seen))
		}
	}
}

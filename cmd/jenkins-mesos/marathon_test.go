package main

import (
	"encoding/json"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// marathonApp is the part of a Marathon app definition the example's
// claims rest on.
type marathonApp struct {
	ID        string                     `json:"id"`
	Instances int                        `json:"instances"`
	Args      []string                   `json:"args"`
	Env       map[string]json.RawMessage `json:"env"`
	Secrets   map[string]struct {
		Source string `json:"source"`
	} `json:"secrets"`
	Container struct {
		Type   string `json:"type"`
		Docker struct {
			Image string `json:"image"`
		} `json:"docker"`
	} `json:"container"`
	PortDefinitions []struct {
		Port int `json:"port"`
	} `json:"portDefinitions"`
	HealthChecks []struct {
		Protocol  string `json:"protocol"`
		Path      string `json:"path"`
		PortIndex int    `json:"portIndex"`
	} `json:"healthChecks"`
	Constraints     [][]string `json:"constraints"`
	UpgradeStrategy struct {
		MinimumHealthCapacity float64 `json:"minimumHealthCapacity"`
		MaximumOverCapacity   float64 `json:"maximumOverCapacity"`
	} `json:"upgradeStrategy"`
}

// TestMarathonExampleIsAValidDeployment: examples/marathon.json, with its
// secrets filled in, is a configuration run accepts (from the
// environment alone, as the image runs it); its state is in ZooKeeper (a
// task Marathon moves to another host would lose a state.dir, and two
// instances need one leader); the health check asks /healthz on the port
// the framework listens on; the secrets are secret references, never
// plain values.
func TestMarathonExampleIsAValidDeployment(t *testing.T) {
	b, err := os.ReadFile("../../examples/marathon.json")
	require.NoError(t, err)
	var app marathonApp
	dec := json.NewDecoder(strings.NewReader(string(b)))
	require.NoError(t, dec.Decode(&app))
	env := map[string]string{}
	for k, raw := range app.Env {
		var ref struct {
			Secret string `json:"secret"`
		}
		var plain string
		switch {
		case json.Unmarshal(raw, &plain) == nil:
			env[k] = plain
		case json.Unmarshal(raw, &ref) == nil && ref.Secret != "":
			_, declared := app.Secrets[ref.Secret]
			require.True(t, declared, "env %s names secret %q, which secrets does not declare", k, ref.Secret)
			env[k] = "user:value-of-" + ref.Secret
		default:
			t.Fatalf("env %s: %s is neither a string nor a secret reference", k, raw)
		}
	}
	for _, k := range []string{"JENKINS_MESOS_JENKINS_TOKEN", "JENKINS_MESOS_MESOS_SECRET", "JENKINS_MESOS_STATE_ZK_CREDENTIALS"} {
		var plain string
		require.Error(t, json.Unmarshal(app.Env[k], &plain), "%s must be a secret reference, not a value in the app definition", k)
	}
	require.Equal(t, []string{"run"}, app.Args, "the image's entrypoint is jenkins-mesos; run reads the environment")
	s, err := loadSettings("", nil, func(k string) string { return env[k] })
	require.NoError(t, err)
	saved := environ
	defer func() { environ = saved }()
	environ = func() []string {
		var out []string
		for k, v := range env {
			out = append(out, k+"="+v)
		}
		return out
	}
	require.Empty(t, unknownEnv(func(k string) string { return env[k] }), "every JENKINS_MESOS_* variable of the example is a setting")
	require.NotEmpty(t, s.file.State.ZK, "under Marathon the state must be in ZooKeeper")
	require.Equal(t, "user:value-of-jenkinsToken", s.jenkinsToken)
	require.NotEmpty(t, s.core.Templates)

	_, port, err := net.SplitHostPort(s.file.HTTP.Listen)
	require.NoError(t, err)
	require.Len(t, app.HealthChecks, 1)
	hc := app.HealthChecks[0]
	require.Equal(t, "/healthz", hc.Path)
	require.Equal(t, strconv.Itoa(app.PortDefinitions[hc.PortIndex].Port), port, "the health check's port is http.listen's")
	require.Equal(t, "DOCKER", app.Container.Type)
	require.True(t, strings.HasPrefix(app.Container.Docker.Image, "jenkins-mesos/jenkins-mesos:"), app.Container.Docker.Image)
	if app.Instances > 1 {
		require.Contains(t, app.Constraints, []string{"hostname", "UNIQUE"}, "instances on one host share its fate")
		require.Less(t, app.UpgradeStrategy.MinimumHealthCapacity, 1.0, "a rolling upgrade needs room for one instance down")
	}
	require.Zero(t, app.UpgradeStrategy.MaximumOverCapacity, "no extra instance during upgrades: a third would only stand by")
}

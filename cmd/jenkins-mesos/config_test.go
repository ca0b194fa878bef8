package main

import (
	"errors"
	"flag"
	"fmt"
	"go.yaml.in/yaml/v3"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/executor"
	"github.com/jenkins-mesos/jenkins-mesos/jenkins"
	"github.com/jenkins-mesos/jenkins-mesos/proto"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestExampleConfigLoads(t *testing.T) {
	s, err := loadSettings("../../examples/jenkins-mesos.yaml", nil, env(nil))
	require.NoError(t, err)
	require.Equal(t, []string{"http://mesos-master:5050"}, s.masters)
	require.Equal(t, 168*time.Hour, s.failover)
	require.Len(t, s.core.Templates, 1)
	tm := s.core.Templates[0]
	require.Equal(t, []string{"mesos"}, tm.Labels)
	require.Equal(t, 0.2, tm.CPUs)
	require.Equal(t, 20, tm.MaxInstances)
	require.Equal(t, 3*time.Minute, tm.ConnectTimeout)
	require.Equal(t, 5, s.core.BreakerThreshold)
	require.Equal(t, 5*time.Minute, s.core.BreakerCooldown)
	require.Equal(t, 5*time.Minute, s.core.UnreachableGrace)
	require.Equal(t, time.Minute, s.core.OrphanGrace)
	require.Equal(t, 10*time.Minute, s.core.MaintenanceHorizon)
}

func TestGracesFromFileEnvAndFlags(t *testing.T) {
	base, err := os.ReadFile("../../examples/jenkins-mesos.yaml")
	require.NoError(t, err)
	text := strings.Replace(string(base), "unreachable_grace: 5m", "unreachable_grace: 12m", 1)
	p := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	s, err := loadSettings(p, nil, env(nil))
	require.NoError(t, err)
	require.Equal(t, 12*time.Minute, s.core.UnreachableGrace, "from the file")
	s, err = loadSettings(p, map[string]string{"limits.orphan_grace": "90s"},
		env(map[string]string{"JENKINS_MESOS_LIMITS_UNREACHABLE_GRACE": "30m", "JENKINS_MESOS_LIMITS_ORPHAN_GRACE": "2m"}))
	require.NoError(t, err)
	require.Equal(t, 30*time.Minute, s.core.UnreachableGrace, "the environment overrides the file")
	require.Equal(t, 90*time.Second, s.core.OrphanGrace, "a flag overrides the environment")
}

func TestFlagsOverrideEnvOverrideFile(t *testing.T) {
	e := env(map[string]string{"JENKINS_MESOS_MESOS_MASTER": "http://env:5050", "JENKINS_MESOS_LIMITS_MAX_AGENTS": "7", "JENKINS_MESOS_JENKINS_TOKEN": "tok"})
	s, err := loadSettings("../../examples/jenkins-mesos.yaml", map[string]string{"limits.max_agents": "9"}, e)
	require.NoError(t, err)
	require.Equal(t, []string{"http://env:5050"}, s.masters, "env overrides the file")
	require.Equal(t, 9, s.core.MaxAgents, "a flag overrides env")
	require.Equal(t, "tok", s.jenkinsToken)
}

func TestBadConfigsNameTheKeyValueAndExpectation(t *testing.T) {
	base, err := os.ReadFile("../../examples/jenkins-mesos.yaml")
	require.NoError(t, err)
	cases := map[string]struct{ from, to, want string }{
		"unknown key":         {"  poll_interval: 1s", "  poll_interval: 1s\n  pollinterval: 2s", "line 21: unknown key jenkins.pollinterval (did you mean poll_interval?)"},
		"bad duration":        {"failover_timeout: 168h", "failover_timeout: a week", `"a week" is not a duration`},
		"missing master":      {"master: http://mesos-master:5050      # comma-separated URLs", "master: \"\"", "mesos.master is required"},
		"bad master":          {"master: http://mesos-master:5050", "master: mesos-master:5050", `mesos.master "mesos-master:5050": expected http(s)://host:port`},
		"bad strategy":        {"strategy: spread", "strategy: random", `strategy "random": expected spread or binpack`},
		"bad network":         {"network: host ", "network: overlay ", `templates[0] (mesos).network "overlay": expected host or bridge`},
		"bad constraint":      {"constraints: []", `constraints: ["hostname SOMETIMES"]`, "templates[0] (mesos).constraints[0]"},
		"bad retention":       {"retention: once", "retention: forever", `retention "forever": expected once or idle`},
		"no cpus":             {"cpus: 0.2", "cpus: 0", "templates[0] (mesos).cpus 0: must be positive"},
		"no templates":        {"templates:", "other_templates:", "unknown key other_templates"},
		"bad volume":          {"volumes: []", `volumes: ["docker.sock"]`, `volumes[0] "docker.sock": expected /host/path:/container/path`},
		"bad encoding":        {"encoding: protobuf", "encoding: xml", `mesos.encoding "xml": expected protobuf or json`},
		"negative agents":     {"max_agents: 100", "max_agents: -1", "limits.max_agents -1"},
		"zero threshold":      {"breaker_threshold: 5", "breaker_threshold: 0", "limits.breaker_threshold 0: must be at least 1"},
		"bad cooldown":        {"breaker_cooldown: 5m", "breaker_cooldown: -1s", "limits.breaker_cooldown -1s: must be positive"},
		"bad unreachable":     {"unreachable_grace: 5m", "unreachable_grace: 0s", "limits.unreachable_grace 0s: must be positive"},
		"bad horizon":         {"maintenance_horizon: 10m", "maintenance_horizon: -1m", "limits.maintenance_horizon -1m0s: must be zero"},
		"short orphan":        {"orphan_grace: 1m", "orphan_grace: 10ms", "limits.orphan_grace 10ms: must be at least 1s"},
		"master creds":        {"master: http://mesos-master:5050", "master: http://fw:hunter2@mesos-master:5050", `mesos.master "http://***@mesos-master:5050": credentials in the URL are refused`},
		"bad master creds":    {"master: http://mesos-master:5050", "master: http://fw:hunter2@mesos master:5050", `mesos.master "http://***@mesos master:5050": credentials in the URL are refused`},
		"jenkins creds":       {"url: http://jenkins:8080/", "url: https://admin:hunter2@jenkins:8080/", `jenkins.url "https://***@jenkins:8080/": credentials in the URL are refused`},
		"bad zk":              {"master: http://mesos-master:5050", "master: zk://zk:2181", "expected zk://host:port[,host:port...]/path"},
		"name param":          {"docker_parameters: {}", "docker_parameters: {name: x}", `docker_parameters "name"`},
		"duplicate name":      {"templates:\n", "templates:\n  - {name: mesos, labels: a, cpus: 1, mem: 1, image: i}\n", `name "mesos": used by an earlier template`},
		"bad log format":      {"format: auto", "format: xml", `log.format "xml"`},
		"short poll":          {"poll_interval: 1s", "poll_interval: 1ms", "jenkins.poll_interval 1ms: must be at least 100ms"},
		"short usage":         {"usage_interval: 15s", "usage_interval: 200ms", "mesos.usage_interval 200ms: must be 0 (off) or at least 1s"},
		"negative usage":      {"usage_interval: 15s", "usage_interval: -1s", "mesos.usage_interval -1s: must be 0 (off) or at least 1s"},
		"no image":            {"image: jenkins/inbound-agent", "image: \"\"", "templates[0] (mesos).image"},
		"bad template key":    {"force_pull: false", "force_pul: false", "unknown key templates[0] (mesos).force_pul (did you mean force_pull?)"},
		"bad containerizer":   {"containerizer: docker", "containerizer: podman", `templates[0] (mesos).containerizer "podman": expected docker or mesos`},
		"ucr bridge":          {"containerizer: docker               # or mesos: the agent pulls the image itself, no Docker daemon (host network, no docker_parameters)\n    network: host ", "containerizer: mesos\n    network: bridge ", `network "bridge": the mesos containerizer runs agents on the host network only`},
		"low cpus limit":      {"env: {}", "env: {}\n    cpus_limit: 0.1", "templates[0] (mesos).cpus_limit 0.1: must be at least cpus (0.2), or unlimited"},
		"low mem limit":       {"env: {}", "env: {}\n    mem_limit: 29.5", "templates[0] (mesos).mem_limit 29.5: must be at least mem (30 MB), or unlimited"},
		"bad limit":           {"env: {}", "env: {}\n    mem_limit: lots", `"lots" is not a limit (expected a number or unlimited)`},
		"big pool":            {"min_idle: 0 ", "min_idle: 21 ", "templates[0] (mesos).min_idle 21: must be from 0 to max_instances (20)"},
		"blank image pattern": {"images: []", "images: [\"maven:*\", \" \"]", `templates[0] (mesos).images[1] " ": an image pattern`},
		"small max cpus":      {"max_cpus: 0 ", "max_cpus: 0.1 ", "templates[0] (mesos).max_cpus 0.1: must be at least cpus (0.2)"},
		"reserved env":        {"env: {}", "env: {JENKINS_SECRET: x}", `templates[0] (mesos).env "JENKINS_SECRET": set by the framework`},
		"bad env name":        {"env: {}", `env: {"2FAST": x}`, `env "2FAST": expected a variable name`},
		"relative uri":        {"uris: []", "uris: [tools/docker.tar.gz]", `uris[0] "tools/docker.tar.gz": a relative path needs the agents' --frameworks_home`},
		"uri no path":         {"uris: []", "uris: [https://files.example.com]", `uris[0] "https://files.example.com": missing the path`},
		"uri quote":           {"uris: []", `uris: ["http://x/it's.tgz"]`, `illegal characters in URI`},
		"relative file":       {"uris: []", "uris: [file://tools/a.sh]", "a file URI takes an absolute path"},
		"uri escape":          {"uris: []", "uris: [{value: /opt/a.sh, output_file: ../../a.sh}]", `output_file "../../a.sh": expected a file path inside the sandbox`},
		"uri both":            {"uris: []", "uris: [{value: /opt/a.tgz, executable: true, extract: true}]", "executable and extract"},
		"uri unknown key":     {"uris: []", "uris: [{value: /opt/a.sh, exec: true}]", "unknown key templates[0] (mesos).uris[0].exec (did you mean executable?)"},
		"uri list":            {"uris: []", "uris: [[/opt/a.sh]]", "a uri is a string or a mapping"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			text := string(base)
			require.Contains(t, text, c.from)
			p := filepath.Join(t.TempDir(), "c.yaml")
			require.NoError(t, os.WriteFile(p, []byte(strings.Replace(text, c.from, c.to, 1)), 0o600))
			_, err := loadSettings(p, nil, env(nil))
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestTemplateEnvAndURIs(t *testing.T) {
	base, err := os.ReadFile("../../examples/jenkins-mesos.yaml")
	require.NoError(t, err)
	text := strings.Replace(string(base), "    env: {}", `    env: {JAVA_OPTS: "-Xmx256m", http_proxy: "http://proxy:3128"}`, 1)
	text = strings.Replace(text, "    uris: []", `    uris:
      - https://files.example.com/docker.tar.gz
      - {value: "file:///opt/tools/run.sh", executable: true, output_file: bin/run.sh, cache: true}
      - {value: http://files.example.com/data.tgz, extract: false}`, 1)
	p := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	s, err := loadSettings(p, nil, env(nil))
	require.NoError(t, err)
	c := s.core.Templates[0].Container
	require.Equal(t, map[string]string{"JAVA_OPTS": "-Xmx256m", "http_proxy": "http://proxy:3128"}, c.Env)
	s2, err := loadSettings(p, map[string]string{"templates": `[{"name": "t", "labels": "l", "cpus": 1, "mem": 64, "image": "i", "images": ["maven:*"], "max_cpus": 4, "max_mem": 8192}]`}, env(nil))
	require.NoError(t, err)
	require.Equal(t, []string{"maven:*"}, s2.core.Templates[0].Images)
	require.Equal(t, 4.0, s2.core.Templates[0].MaxCPUs)
	require.Equal(t, 8192.0, s2.core.Templates[0].MaxMem)
	require.Equal(t, []executor.URI{
		{Value: "https://files.example.com/docker.tar.gz", Extract: true},
		{Value: "file:///opt/tools/run.sh", Executable: true, Cache: true, OutputFile: "bin/run.sh"},
		{Value: "http://files.example.com/data.tgz"},
	}, c.URIs)

	// The same through --templates, as JSON.
	s, err = loadSettings("../../examples/jenkins-mesos.yaml", map[string]string{"templates": `[{"name": "j", "labels": "mesos", "cpus": 1, "mem": 64,
		"image": "i", "env": {"A": "1"}, "uris": ["/opt/a.tgz", {"value": "/opt/b.sh", "executable": true}]}]`}, env(nil))
	require.NoError(t, err)
	c = s.core.Templates[0].Container
	require.Equal(t, map[string]string{"A": "1"}, c.Env)
	require.Equal(t, []executor.URI{{Value: "/opt/a.tgz", Extract: true}, {Value: "/opt/b.sh", Executable: true}}, c.URIs)
}

func TestMesosContainerizerTemplate(t *testing.T) {
	tmpl := func(extra string) map[string]string {
		return map[string]string{"templates": `[{"name": "ucr", "labels": "mesos", "cpus": 1, "mem": 64, "image": "i", "containerizer": "mesos"` + extra + `}]`}
	}
	s, err := loadSettings("../../examples/jenkins-mesos.yaml", tmpl(`, "volumes": ["/srv/cache:/cache:ro"], "force_pull": true`), env(nil))
	require.NoError(t, err)
	c := s.core.Templates[0].Container
	require.Equal(t, executor.Mesos, c.Containerizer)
	require.Equal(t, []executor.Volume{{HostPath: "/srv/cache", ContainerPath: "/cache", ReadOnly: true}}, c.Volumes)
	_, err = loadSettings("../../examples/jenkins-mesos.yaml", tmpl(`, "docker_parameters": {"init": "true", "add-host": "x:1.2.3.4"}`), env(nil))
	require.ErrorContains(t, err, `templates[0] (ucr).docker_parameters [add-host init]: Docker run options do not apply to the mesos containerizer`)
	s, err = loadSettings("../../examples/jenkins-mesos.yaml", nil, env(nil))
	require.NoError(t, err)
	require.Equal(t, executor.Docker, s.core.Templates[0].Container.Containerizer, "the example's containerizer")
}

func TestTemplateLimits(t *testing.T) {
	base, err := os.ReadFile("../../examples/jenkins-mesos.yaml")
	require.NoError(t, err)
	text := strings.Replace(string(base), "    env: {}", "    env: {}\n    cpus_limit: unlimited\n    mem_limit: 512", 1)
	p := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	s, err := loadSettings(p, nil, env(nil))
	require.NoError(t, err)
	c := s.core.Templates[0].Container
	require.True(t, math.IsInf(c.CPUsLimit, 1), "cpus_limit unlimited")
	require.Equal(t, 512.0, c.MemLimit)
	// mem_limit 30.7 is 30 MB to Mesos, which is the request: accepted.
	s, err = loadSettings(p, map[string]string{"templates": `[{"name": "t", "labels": "l", "cpus": 1, "mem": 30, "image": "i", "mem_limit": 30.7, "cpus_limit": "Infinity"}]`}, env(nil))
	require.NoError(t, err)
	require.Equal(t, 30.7, s.core.Templates[0].Container.MemLimit)
	_, err = loadSettings(p, nil, env(map[string]string{"JENKINS_MESOS_MESOS_ENCODING": "json"}))
	require.ErrorContains(t, err, "templates[0] (mesos).cpus_limit unlimited: needs mesos.encoding protobuf")
}

func TestMasterURLsAreTheirBase(t *testing.T) {
	s, err := loadSettings("../../examples/jenkins-mesos.yaml", map[string]string{"mesos.master": "http://m1:5050/api/v1/scheduler, https://dcos.example.com/mesos/, http://m3:5050/api/v1/"}, env(nil))
	require.NoError(t, err)
	require.Equal(t, []string{"http://m1:5050", "https://dcos.example.com/mesos", "http://m3:5050"}, s.masters)
}

func TestZooKeeperMaster(t *testing.T) {
	s, err := loadSettings("../../examples/jenkins-mesos.yaml", map[string]string{"mesos.master": "zk://zk1:2181,zk2:2181/mesos"}, env(nil))
	require.NoError(t, err)
	require.Equal(t, []string{"zk://zk1:2181,zk2:2181/mesos"}, s.masters)
}

func TestSecretsNeverComeFromFlags(t *testing.T) {
	out := map[string]string{}
	fs, _ := flagSet("t", out)
	var usage strings.Builder
	for _, f := range []string{"--jenkins.token=s3cr3t-value", "--mesos.secret=s3cr3t-value", "--state.zk_credentials=a:s3cr3t-value", "--mesos.zk_credentials=a:s3cr3t-value"} {
		err := parseFlags(fs, []string{f}, &usage)
		require.ErrorContains(t, err, "never taken from flags", f)
		name, _, _ := strings.Cut(f, "=")
		require.True(t, strings.HasPrefix(err.Error(), name+": "), "names the flag: %v", err)
		require.NotContains(t, err.Error(), "s3cr3t-value", "the refusal must not repeat the secret")
	}
	require.NotContains(t, usage.String(), "s3cr3t-value")
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tok, []byte("s3cr3t\n"), 0o600))
	s, err := loadSettings("../../examples/jenkins-mesos.yaml", map[string]string{"jenkins.token_file": tok}, env(nil))
	require.NoError(t, err)
	require.Equal(t, "s3cr3t", s.jenkinsToken)
	_, err = loadSettings("../../examples/jenkins-mesos.yaml", map[string]string{"jenkins.token_file": filepath.Join(dir, "missing")}, env(nil))
	require.ErrorContains(t, err, "jenkins.token_file")
	_, err = loadSettings("../../examples/jenkins-mesos.yaml", nil, env(map[string]string{"JENKINS_MESOS_MESOS_SECRET": "x", "JENKINS_MESOS_MESOS_PRINCIPAL": ""}))
	require.ErrorContains(t, err, "mesos.principal is empty")
}

func FuzzConfig(f *testing.F) {
	base, _ := os.ReadFile("../../examples/jenkins-mesos.yaml")
	f.Add(string(base))
	f.Add("mesos: {master: http://m:5050}\njenkins: {url: http://j/}\ntemplates: [{name: a, labels: x, cpus: 1, mem: 1, image: i}]\n")
	f.Add("templates: [{name: \"a b\"}]")
	f.Fuzz(func(t *testing.T, text string) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Skip()
		}
		s, err := loadSettings(p, nil, env(nil))
		if err == nil && (len(s.masters) == 0 || len(s.core.Templates) == 0) {
			t.Fatalf("accepted a config without masters or templates: %q", text)
		}
		if err != nil && !strings.Contains(err.Error(), "config "+p+": yaml: ") {
			// Past YAML's own syntax errors, every refusal is in the
			// configuration's terms.
			requireNoGoTypes(t, err)
		}
	})
}

type memStore struct{ st *proto.State }

func (m *memStore) Load() (*proto.State, error) { return m.st, nil }
func (m *memStore) Save(st *proto.State) error  { m.st = st; return nil }

// Moving a single instance to state.zk: the framework ID in state.dir is
// read while ZooKeeper has none, and from then on ZooKeeper's.
func TestTakeOverReadsTheOldStateOnlyWhileTheNewHasNone(t *testing.T) {
	zk, dir := &memStore{}, &memStore{st: &proto.State{FrameworkId: "fw-old"}}
	log := logrus.New()
	log.SetOutput(io.Discard)
	to := &takeOver{primary: zk, previous: dir, log: log}
	st, err := to.Load()
	require.NoError(t, err)
	require.Equal(t, "fw-old", st.GetFrameworkId())
	require.NoError(t, to.Save(&proto.State{FrameworkId: "fw-old"}))
	require.Equal(t, "fw-old", zk.st.GetFrameworkId(), "saved to ZooKeeper")
	dir.st = &proto.State{FrameworkId: "fw-stale"}
	st, _ = to.Load()
	require.Equal(t, "fw-old", st.GetFrameworkId(), "ZooKeeper's state wins once it has one")
}

// ZooKeeper digest credentials come from the environment or a file, are
// checked for their form, never echoed, and never taken from the URL.
func TestZooKeeperCredentials(t *testing.T) {
	base, err := os.ReadFile("../../examples/jenkins-mesos.yaml")
	require.NoError(t, err)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		return p
	}
	withZK := strings.Replace(string(base), "dir: /var/lib/jenkins-mesos", "dir: /var/lib/jenkins-mesos\n  zk: zk://zk1:2181/jenkins-mesos", 1)
	require.NotEqual(t, string(base), withZK)
	credsFile := write("zk-creds", "jenkins-mesos:from-file-pw\n")
	p := write("c.yaml", strings.Replace(withZK, "zk: zk://zk1:2181/jenkins-mesos", "zk: zk://zk1:2181/jenkins-mesos\n  zk_credentials_file: "+credsFile, 1))
	s, err := loadSettings(p, nil, env(nil))
	require.NoError(t, err)
	require.Equal(t, "jenkins-mesos:from-file-pw", s.stateZKCreds, "from state.zk_credentials_file")
	s, err = loadSettings(p, nil, env(map[string]string{"JENKINS_MESOS_STATE_ZK_CREDENTIALS": "jenkins-mesos:from-env-pw"}))
	require.NoError(t, err)
	require.Equal(t, "jenkins-mesos:from-env-pw", s.stateZKCreds, "the environment wins over the file")

	_, err = loadSettings(write("bad.yaml", withZK), nil, env(map[string]string{"JENKINS_MESOS_STATE_ZK_CREDENTIALS": "only-a-secret-word"}))
	require.ErrorContains(t, err, "expected user:password")
	require.NotContains(t, err.Error(), "only-a-secret-word")

	_, err = loadSettings(write("url.yaml", strings.Replace(withZK, "zk: zk://zk1:2181/", "zk: zk://jm:url-pw@zk1:2181/", 1)), nil, env(nil))
	require.ErrorContains(t, err, `state.zk "zk://***@zk1:2181/jenkins-mesos": credentials in the URL are refused`)
	require.NotContains(t, err.Error(), "url-pw")
	_, err = loadSettings(write("murl.yaml", strings.Replace(string(base), "master: http://mesos-master:5050", "master: zk://m:murl-pw@zk1:2181/mesos", 1)), nil, env(nil))
	require.ErrorContains(t, err, "JENKINS_MESOS_MESOS_ZK_CREDENTIALS")
	require.NotContains(t, err.Error(), "murl-pw")

	_, err = loadSettings("../../examples/jenkins-mesos.yaml", nil, env(map[string]string{"JENKINS_MESOS_STATE_ZK_CREDENTIALS": "a:b"}))
	require.ErrorContains(t, err, "state.zk is empty")
	_, err = loadSettings("../../examples/jenkins-mesos.yaml", nil, env(map[string]string{"JENKINS_MESOS_MESOS_ZK_CREDENTIALS": "a:b"}))
	require.ErrorContains(t, err, "mesos.master is not a zk:// group")
	masters := strings.Replace(string(base), "master: http://mesos-master:5050", "master: zk://zk1:2181/mesos", 1)
	s, err = loadSettings(write("m.yaml", masters), nil, env(map[string]string{"JENKINS_MESOS_MESOS_ZK_CREDENTIALS": "mesos:m-pw"}))
	require.NoError(t, err)
	require.Equal(t, "mesos:m-pw", s.mesosZKCreds)
}

func TestJenkinsRefusalsSayWhatToCheck(t *testing.T) {
	refused := func(code int) error {
		return fmt.Errorf("poll: %w", &jenkins.StatusError{Method: "GET", Path: "api/json", Code: code})
	}
	crumb := &jenkins.StatusError{Method: "POST", Path: "computer/doCreateItem", Code: 403, Message: "No valid crumb was included in the request"}
	s, err := loadSettings("../../examples/jenkins-mesos.yaml", nil, env(map[string]string{"JENKINS_MESOS_JENKINS_TOKEN": "pw"}))
	require.NoError(t, err)
	require.Contains(t, s.jenkinsAuthHint(crumb), "Jenkins refused the CSRF crumb", "a crumb refusal is no missing permission")
	for _, c := range []struct {
		user, token, file string
		code              int
		want              string
	}{
		{"", "", "", 401, "Jenkins wants credentials: set jenkins.user and its API token"},
		{"admin", "", "", 401, `Jenkins refused user "admin" without a token`},
		{"admin", "s3cr3t", "", 401, `Jenkins refused user "admin" with the token from JENKINS_MESOS_JENKINS_TOKEN`},
		{"admin", "", "TOKENFILE", 401, `Jenkins refused user "admin" with the token from jenkins.token_file`},
		{"ci", "s3cr3t", "", 403, `user "ci" lacks a permission: it needs Overall/Read`},
		{"ci", "s3cr3t", "", 500, ""},
	} {
		flags := map[string]string{"jenkins.user": c.user}
		if c.file != "" {
			path := filepath.Join(t.TempDir(), "token")
			require.NoError(t, os.WriteFile(path, []byte("from-a-file\n"), 0o600))
			flags["jenkins.token_file"] = path
		}
		s, err := loadSettings("../../examples/jenkins-mesos.yaml", flags, env(map[string]string{"JENKINS_MESOS_JENKINS_TOKEN": c.token}))
		require.NoError(t, err)
		hint := s.jenkinsAuthHint(refused(c.code))
		if c.want == "" {
			require.Empty(t, hint, "a %d is no refusal", c.code)
			continue
		}
		require.Contains(t, hint, c.want)
		require.NotContains(t, hint, "s3cr3t")
		require.NotContains(t, hint, "from-a-file")
	}
	require.Empty(t, (&settings{}).jenkinsAuthHint(errors.New("connection refused")))
}

// An operator's mistakes in the file's shape are named by the key's path
// and the value, in the configuration's terms: never yaml's wording with
// Go types (main.fileConfig, struct { URL string … }, !!seq).
func TestConfigShapeErrorsNameTheKeyNotGoTypes(t *testing.T) {
	const head = "mesos: {master: http://m:5050}\njenkins: {url: http://j:8080/}\n"
	const tmpl = "templates:\n  - name: mesos\n    labels: mesos\n    cpus: 0.2\n    mem: 30\n    image: i\n"
	cases := map[string]struct{ text, want string }{
		"wrong kind":        {head + "state: {dir: [a, b]}\n" + tmpl, `line 3: state.dir: expected a string, not a list`},
		"not a number":      {head + "limits: {max_agents: lots}\n" + tmpl, `line 3: limits.max_agents: "lots" is not a whole number`},
		"not true or false": {head + "jenkins: {anchor_node: maybe}\n" + tmpl, `line 3: jenkins.anchor_node: "maybe" is not true or false`},
		"template number":   {head + strings.Replace(tmpl, "cpus: 0.2", "cpus: small", 1), `line 6: templates[0] (mesos).cpus: "small" is not a number`},
		"templates map":     {head + "templates: {mesos: {cpus: 1}}\n", `line 3: templates: expected a list of templates, not a mapping`},
		"section a list":    {"mesos: [http://m:5050]\n", `line 1: mesos: expected a mapping (keys: master, framework_name,`},
		"env value a list":  {head + tmpl + "    env: {A: [1, 2]}\n", `line 9: templates[0] (mesos).env.A: expected a string, not a list`},
		"duration a list":   {head + "limits: {orphan_grace: [1m]}\n" + tmpl, `line 3: limits.orphan_grace: expected a duration (e.g. 30s, 3m, 168h), not a list`},
		"bad duration":      {head + "limits: {orphan_grace: soon}\n" + tmpl, `line 3: limits.orphan_grace: "soon" is not a duration`},
		"typo, top level":   {head + "stratgy: binpack\n" + tmpl, `line 3: unknown key stratgy (did you mean strategy?); the keys at the top level are mesos, jenkins, state, http, strategy, limits, log, templates`},
		"a prefix":          {head + "limits: {maintenance: 1m}\n" + tmpl, `unknown key limits.maintenance (did you mean maintenance_horizon?)`},
		"no near key":       {head + "limits: {quota: 3}\n" + tmpl, `line 3: unknown key limits.quota; the keys under limits are max_agents,`},
		"unknown in merge":  {head + "base: &b {labels: mesos, cpu: 1}\n", `unknown key base`},
		"key in an anchor":  {head + "templates:\n  - &t {name: a, labels: x, cpus: 1, mem: 1, image: i, imagez: j}\n  - <<: *t\n    name: b\n", `line 4: unknown key templates[0] (a).imagez (did you mean image?)`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yaml")
			require.NoError(t, os.WriteFile(p, []byte(c.text), 0o600))
			_, err := loadSettings(p, nil, env(nil))
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
			requireNoGoTypes(t, err)
		})
	}

	// Every problem at once, each on its own line.
	p := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(p, []byte(head+"limits: {max_agents: lots, breaker_cooldown: never}\nlog: {levl: debug}\n"+tmpl), 0o600))
	_, err := loadSettings(p, nil, env(nil))
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 3, err.Error())
	require.Contains(t, lines[0], `limits.max_agents: "lots"`)
	require.Contains(t, lines[1], `limits.breaker_cooldown: "never" is not a duration`)
	require.Contains(t, lines[2], `unknown key log.levl (did you mean level?)`)

	// Aliases that expand exponentially are refused quickly, not walked.
	laughs := head + "templates:\n  - &t0 {name: a, labels: x, cpus: 1, mem: 1, image: i}\n"
	for i := 1; i < 12; i++ {
		laughs += fmt.Sprintf("  - &t%d\n    <<: [%s]\n", i, strings.Repeat(fmt.Sprintf("*t%d, ", i-1), 9)+fmt.Sprintf("*t%d", i-1))
	}
	require.NoError(t, os.WriteFile(p, []byte(laughs), 0o600))
	_, err = loadSettings(p, nil, env(nil))
	require.ErrorContains(t, err, "aliases expand to too much")

	// --templates and JENKINS_MESOS_TEMPLATES are checked the same way.
	_, err = loadSettings("../../examples/jenkins-mesos.yaml", map[string]string{"templates": `[{"name": "j", "labels": "mesos", "cpus": 1, "mem": 64, "image": "i", "retension": "idle"}]`}, env(nil))
	require.ErrorContains(t, err, `config: --templates: line 1: unknown key templates[0] (j).retension (did you mean retention?)`)
	_, err = loadSettings("../../examples/jenkins-mesos.yaml", nil, env(map[string]string{"JENKINS_MESOS_TEMPLATES": `{"name": "j"}`}))
	require.ErrorContains(t, err, `config: JENKINS_MESOS_TEMPLATES: line 1: templates: expected a list of templates, not a mapping`)
}

// Anchors, aliases and merge keys, as YAML has them, are configuration
// like any other: a template built on another keeps the other's values.
func TestConfigAnchorsAndMerges(t *testing.T) {
	text := `mesos: {master: http://m:5050}
jenkins: {url: http://j:8080/}
limits:
  max_agents: &n 7
  breaker_threshold: *n
log:
templates:
  - &base
    name: small
    labels: mesos
    cpus: 0.2
    mem: 30
    image: jenkins/inbound-agent
    env: {JAVA_OPTS: "-Xmx256m"}
  - <<: *base
    name: big
    labels: big
    cpus: 2
`
	p := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	s, err := loadSettings(p, nil, env(nil))
	require.NoError(t, err)
	require.Equal(t, 7, s.core.MaxAgents)
	require.Len(t, s.core.Templates, 2)
	big := s.core.Templates[1]
	require.Equal(t, "big", big.Name)
	require.Equal(t, 2.0, big.CPUs)
	require.Equal(t, 30.0, big.Mem, "merged from the anchor")
	require.Equal(t, map[string]string{"JAVA_OPTS": "-Xmx256m"}, big.Container.Env)
	require.Equal(t, "info", s.file.Log.Level, "an empty section keeps the defaults")
}

func requireNoGoTypes(t testing.TB, err error) {
	t.Helper()
	for _, leak := range []string{"main.", "struct {", "!!", "not found in type", "cannot unmarshal"} {
		if strings.Contains(err.Error(), leak) {
			t.Fatalf("the error speaks yaml's and Go's language (%q), not the configuration's: %v", leak, err)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"", "abc", 3}, {"abc", "", 3}, {"url", "url", 0}, {"ulr", "url", 1}, {"cpu", "cpus", 1},
		{"kitten", "sitting", 3}, {"ca", "abc", 3}, {"pollinterval", "poll_interval", 1}, {"abcdef", "badcfe", 3}} {
		require.Equal(t, c.want, editDistance(c.a, c.b), "%q %q", c.a, c.b)
		require.Equal(t, c.want, editDistance(c.b, c.a), "%q %q", c.b, c.a)
	}
}

// A mistyped flag is named with the closest one; --help still lists
// them all.
func TestFlagTyposGetASuggestion(t *testing.T) {
	fs, _ := flagSet("jenkins-mesos run", map[string]string{})
	var out strings.Builder
	err := parseFlags(fs, []string{"--mesos.mastr", "http://m:5050"}, &out)
	require.EqualError(t, err, "unknown flag --mesos.mastr (did you mean --mesos.master?); jenkins-mesos run --help lists them")
	require.Empty(t, out.String(), "no list of every flag after a typo")
	fs, _ = flagSet("jenkins-mesos status", map[string]string{})
	fs.String("url", "", "")
	require.ErrorContains(t, parseFlags(fs, []string{"-ulr=x"}, &out), "unknown flag --ulr (did you mean --url?)")
	fs, _ = flagSet("jenkins-mesos run", map[string]string{})
	require.ErrorIs(t, parseFlags(fs, []string{"--help"}, &out), flag.ErrHelp)
	require.Contains(t, out.String(), "-mesos.master")
}

// The schema walk refuses exactly what yaml's strict decoding refuses,
// only in better words, and what it accepts decodes to the same
// configuration. The reference is yaml's own KnownFields decoding, which
// shares no code with checkSchema. Three refusals are the walk's alone: an
// unknown key inside a uri mapping (Node.Decode, which uriConfig uses,
// does not inherit KnownFields), an empty key (yaml drops its pair
// silently) and aliases that expand too far.
func FuzzSchemaAgreesWithStrictDecoding(f *testing.F) {
	base, _ := os.ReadFile("../../examples/jenkins-mesos.yaml")
	for _, s := range []string{string(base), "mesos: {master: [a]}", "templates: [{name: a, cpus: x}]", "limits: {max_agents: 1.5}",
		"templates: [&a {name: a}, {<<: *a, name: b}]", "log:", "jenkins: {anchor_node: yes}", "templates: [{env: {A: [1]}}]",
		"templates: [{uris: [x, {value: y}]}]", "strategy: !!binary aGk=", "state: {dir: 12}", "templates: [{cpus_limit: unlimited, mem_limit: 3}]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got := defaults()
		errWalk := decodeStrict([]byte(text), &got)
		want := defaults()
		dec := yaml.NewDecoder(strings.NewReader(text))
		dec.KnownFields(true)
		errRef := dec.Decode(&want)
		if errors.Is(errRef, io.EOF) {
			errRef = nil
		}
		switch {
		case errWalk == nil && errRef != nil:
			t.Fatalf("the walk accepted what strict decoding refuses (%v): %q", errRef, text)
		case errWalk != nil && errRef == nil:
			if strings.Contains(errWalk.Error(), "aliases expand") || strings.Contains(errWalk.Error(), "an empty key") || regexp.MustCompile(`unknown key \S*uris\[\d+\]\.`).MatchString(errWalk.Error()) {
				return
			}
			t.Fatalf("the walk refused (%v) what strict decoding accepts: %q", errWalk, text)
		case errWalk == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("decoded differently:\n%+v\n%+v\n%q", got, want, text)
		}
	})
}

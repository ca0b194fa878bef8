package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/executor"
	"github.com/jenkins-mesos/jenkins-mesos/jenkins"
	"github.com/jenkins-mesos/jenkins-mesos/offers"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler"
	"github.com/jenkins-mesos/jenkins-mesos/scheduler/driver"
	"go.yaml.in/yaml/v3"
)

// minPollInterval is the shortest jenkins.poll_interval accepted: each
// poll is a queue and a node listing on the Jenkins controller.
const minPollInterval = 100 * time.Millisecond

// fileConfig is the YAML schema (the public contract of the framework's
// issue; more keys are welcome, these work as written).
type fileConfig struct {
	Mesos struct {
		Master          string   `yaml:"master"`
		FrameworkName   string   `yaml:"framework_name"`
		Role            string   `yaml:"role"`
		User            string   `yaml:"user"`
		FailoverTimeout duration `yaml:"failover_timeout"`
		Principal       string   `yaml:"principal"`
		SecretFile      string   `yaml:"secret_file"`
		Encoding        string   `yaml:"encoding"`
		Hostname        string   `yaml:"hostname"`
		WebUIURL        string   `yaml:"webui_url"`
		// ZKCredentialsFile holds user:password for a zk:// master group
		// that needs digest authentication.
		ZKCredentialsFile string `yaml:"zk_credentials_file"`
		// UsageInterval: how often the agents running the framework's
		// tasks are asked for their usage (GET /monitor/statistics), for
		// the templates' sizing; 0 turns it off.
		UsageInterval duration `yaml:"usage_interval"`
	} `yaml:"mesos"`
	Jenkins struct {
		URL                        string   `yaml:"url"`
		User                       string   `yaml:"user"`
		TokenFile                  string   `yaml:"token_file"`
		PollInterval               duration `yaml:"poll_interval"`
		ProvisionDuringQuietPeriod *bool    `yaml:"provision_during_quiet_period"`
		AnchorNode                 *bool    `yaml:"anchor_node"`
	} `yaml:"jenkins"`
	State struct {
		Dir string `yaml:"dir"`
		// ZK (zk://host:port,.../path) keeps the state in ZooKeeper and
		// elects one leader among the instances that share it.
		ZK               string   `yaml:"zk"`
		ZKSessionTimeout duration `yaml:"zk_session_timeout"`
		// ZKCredentialsFile holds user:password: the session authenticates
		// with it and the nodes it creates can be changed only with it.
		ZKCredentialsFile string `yaml:"zk_credentials_file"`
	} `yaml:"state"`
	HTTP struct {
		Listen string `yaml:"listen"`
	} `yaml:"http"`
	Strategy string `yaml:"strategy"`
	Limits   struct {
		MaxAgents int `yaml:"max_agents"`
		// BreakerThreshold launch failures in a row stop a template's
		// launches for BreakerCooldown (then one probe at a time).
		BreakerThreshold int      `yaml:"breaker_threshold"`
		BreakerCooldown  duration `yaml:"breaker_cooldown"`
		// UnreachableGrace: how long an agent whose Mesos agent is
		// partitioned (TASK_UNREACHABLE) keeps its node before its task is
		// killed and its node deleted.
		UnreachableGrace duration `yaml:"unreachable_grace"`
		// OrphanGrace: how long after a (re)subscription a task without a
		// node, or an adopted node without a task, is kept before it is
		// cleaned up (reconciliation answers and launches in flight).
		OrphanGrace duration `yaml:"orphan_grace"`
		// MaintenanceHorizon: offers from agents whose maintenance window
		// has begun or begins within it get no new agent.
		MaintenanceHorizon duration `yaml:"maintenance_horizon"`
	} `yaml:"limits"`
	Log struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"` // auto (text on a terminal, JSON otherwise), text, json
	} `yaml:"log"`
	Templates []templateConfig `yaml:"templates"`
}

type templateConfig struct {
	Name             string            `yaml:"name"`
	Labels           string            `yaml:"labels"`
	CPUs             float64           `yaml:"cpus"`
	Mem              float64           `yaml:"mem"`
	Disk             float64           `yaml:"disk"`
	Ports            int               `yaml:"ports"`
	Executors        int               `yaml:"executors"`
	Image            string            `yaml:"image"`
	Images           []string          `yaml:"images"`
	MaxCPUs          float64           `yaml:"max_cpus"`
	MaxMem           float64           `yaml:"max_mem"`
	Network          string            `yaml:"network"`
	Volumes          []string          `yaml:"volumes"` // host:container[:ro|rw]
	DockerParameters map[string]string `yaml:"docker_parameters"`
	ForcePull        bool              `yaml:"force_pull"`
	Constraints      []string          `yaml:"constraints"`
	MaxInstances     int               `yaml:"max_instances"`
	MinIdle          int               `yaml:"min_idle"`
	Retention        string            `yaml:"retention"`
	IdleTimeout      duration          `yaml:"idle_timeout"`
	ConnectTimeout   duration          `yaml:"connect_timeout"`
	RemoteFS         string            `yaml:"remote_fs"`
	WebSocket        *bool             `yaml:"web_socket"`
	KillGrace        duration          `yaml:"kill_grace_period"`
	Role             string            `yaml:"role"`
	Env              map[string]string `yaml:"env"`
	Containerizer    string            `yaml:"containerizer"`
	CPUsLimit        limit             `yaml:"cpus_limit"`
	MemLimit         limit             `yaml:"mem_limit"`
	URIs             []uriConfig       `yaml:"uris"`
}

// duration reads "3m", "168h" (Go durations).
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("%q is not a duration (expected e.g. 30s, 3m, 168h)", n.Value)
	}
	*d = duration(v)
	return nil
}

// limit is a template's cpus_limit or mem_limit: a number, or unlimited
// (+Inf). 0 is none.
type limit float64

func (l *limit) UnmarshalYAML(n *yaml.Node) error {
	switch strings.ToLower(n.Value) {
	case "unlimited", "infinity", "inf":
		*l = limit(math.Inf(1))
		return nil
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if n.Kind != yaml.ScalarNode || err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%q is not a limit (expected a number or unlimited)", n.Value)
	}
	*l = limit(v)
	return nil
}

func (l limit) String() string {
	if math.IsInf(float64(l), 1) {
		return "unlimited"
	}
	return strconv.FormatFloat(float64(l), 'g', -1, 64)
}

// uriConfig is one of a template's uris: a plain string (extracted if it
// is an archive, Mesos' default) or a mapping with the CommandInfo.URI
// fields.
type uriConfig struct {
	Value      string `yaml:"value"`
	Extract    *bool  `yaml:"extract"`
	Executable bool   `yaml:"executable"`
	Cache      bool   `yaml:"cache"`
	OutputFile string `yaml:"output_file"`
}

func (u *uriConfig) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		u.Value = n.Value
		return nil
	case yaml.MappingNode:
		// Node.Decode does not inherit KnownFields: checkSchema, which
		// runs before any decoding, has checked the keys.
		type plain uriConfig
		return n.Decode((*plain)(u))
	}
	return errors.New("a uri is a string or a mapping with value, extract, executable, cache, output_file")
}

func defaults() fileConfig {
	var c fileConfig
	c.Mesos.FrameworkName = "jenkins-mesos"
	c.Mesos.Role = "*"
	c.Mesos.User = "jenkins"
	c.Mesos.FailoverTimeout = duration(168 * time.Hour)
	c.Mesos.Encoding = "protobuf"
	c.Mesos.UsageInterval = duration(15 * time.Second)
	c.Jenkins.PollInterval = duration(time.Second)
	c.State.Dir = "/var/lib/jenkins-mesos"
	c.State.ZKSessionTimeout = duration(10 * time.Second)
	c.HTTP.Listen = "0.0.0.0:8090"
	c.Strategy = "spread"
	c.Limits.MaxAgents = 100
	c.Limits.BreakerThreshold = 5
	c.Limits.BreakerCooldown = duration(5 * time.Minute)
	c.Limits.UnreachableGrace = duration(5 * time.Minute)
	c.Limits.OrphanGrace = duration(time.Minute)
	c.Limits.MaintenanceHorizon = duration(10 * time.Minute)
	c.Log.Level = "info"
	c.Log.Format = "auto"
	return c
}

// scalarKeys are the keys a flag (--mesos.master) or an environment
// variable (JENKINS_MESOS_MESOS_MASTER) can set; templates take a YAML
// list through --templates / JENKINS_MESOS_TEMPLATES.
func scalarKeys(c *fileConfig) map[string]any {
	return map[string]any{
		"mesos.master": &c.Mesos.Master, "mesos.framework_name": &c.Mesos.FrameworkName, "mesos.role": &c.Mesos.Role,
		"mesos.user": &c.Mesos.User, "mesos.failover_timeout": &c.Mesos.FailoverTimeout, "mesos.principal": &c.Mesos.Principal,
		"mesos.secret_file": &c.Mesos.SecretFile, "mesos.encoding": &c.Mesos.Encoding, "mesos.hostname": &c.Mesos.Hostname,
		"mesos.webui_url": &c.Mesos.WebUIURL, "mesos.zk_credentials_file": &c.Mesos.ZKCredentialsFile,
		"mesos.usage_interval": &c.Mesos.UsageInterval,
		"jenkins.url":          &c.Jenkins.URL, "jenkins.user": &c.Jenkins.User, "jenkins.token_file": &c.Jenkins.TokenFile,
		"jenkins.poll_interval": &c.Jenkins.PollInterval, "jenkins.provision_during_quiet_period": &c.Jenkins.ProvisionDuringQuietPeriod,
		"jenkins.anchor_node": &c.Jenkins.AnchorNode,
		"state.dir":           &c.State.Dir, "state.zk": &c.State.ZK, "state.zk_session_timeout": &c.State.ZKSessionTimeout,
		"state.zk_credentials_file": &c.State.ZKCredentialsFile, "http.listen": &c.HTTP.Listen, "strategy": &c.Strategy, "limits.max_agents": &c.Limits.MaxAgents,
		"limits.breaker_threshold": &c.Limits.BreakerThreshold, "limits.breaker_cooldown": &c.Limits.BreakerCooldown,
		"limits.unreachable_grace": &c.Limits.UnreachableGrace, "limits.orphan_grace": &c.Limits.OrphanGrace,
		"limits.maintenance_horizon": &c.Limits.MaintenanceHorizon,
		"log.level":                  &c.Log.Level, "log.format": &c.Log.Format,
	}
}

func setScalar(key, value string, p any) error {
	bad := func(expected string) error { return fmt.Errorf("%s: %q is not %s", key, value, expected) }
	switch v := p.(type) {
	case *string:
		*v = value
	case *int:
		n, err := strconv.Atoi(value)
		if err != nil {
			return bad("a whole number")
		}
		*v = n
	case *duration:
		d, err := time.ParseDuration(value)
		if err != nil {
			return bad("a duration (e.g. 30s, 3m, 168h)")
		}
		*v = duration(d)
	case **bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return bad("true or false")
		}
		*v = &b
	default:
		return fmt.Errorf("%s: cannot be set here", key)
	}
	return nil
}

// settings is the whole resolved configuration, secrets included (never
// printed: they have no String method and are not logged).
type settings struct {
	file         fileConfig
	jenkinsToken string
	// jenkinsTokenFrom names where the token came from, for messages.
	jenkinsTokenFrom string
	mesosSecret      string
	mesosZKCreds     string // user:password for the masters' ZooKeeper
	stateZKCreds     string // user:password for state.zk
	masters          []string
	core             scheduler.Config
	pollInterval     time.Duration
	failover         time.Duration
	newFramework     string // --new-framework: a removed framework's ID to forget
	// envWarnings: JENKINS_MESOS_* variables that are no setting.
	envWarnings []string
}

// environ lists the process's environment; tests replace it.
var environ = os.Environ

// unknownEnv names the JENKINS_MESOS_* variables that are set but are no
// setting, with the closest one: a typo in a Marathon app's env would
// otherwise be ignored without a word. Only variables getenv also sees
// count.
func unknownEnv(getenv func(string) string) []string {
	known := map[string]bool{}
	c := defaults()
	for _, k := range append(append(sortedKeys(scalarKeys(&c)), secretKeys...), "templates", "config") {
		known[envName(k)] = true
	}
	names := sortedKeys(known)
	var out []string
	for _, kv := range environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "JENKINS_MESOS_") || known[name] || getenv(name) == "" {
			continue
		}
		msg := name + " is set but is no setting: it is ignored"
		if near := closest(name, names); near != "" {
			msg = fmt.Sprintf("%s is set but is no setting (did you mean %s?): it is ignored", name, near)
		}
		out = append(out, msg)
	}
	sort.Strings(out)
	return out
}

// errRequired: a key that must be set is not.
var errRequired = errors.New("is required")

// secretKeys are the secrets' keys: never flags, only their environment
// variables (JENKINS_MESOS_JENKINS_TOKEN, …) or their _file keys.
var secretKeys = []string{"jenkins.token", "mesos.secret", "mesos.zk_credentials", "state.zk_credentials"}

// errSecretFlag: secrets come from the environment or files only.
var errSecretFlag = errors.New("secrets are never taken from flags (they would show in ps and shell history): use JENKINS_MESOS_JENKINS_TOKEN / JENKINS_MESOS_MESOS_SECRET / JENKINS_MESOS_MESOS_ZK_CREDENTIALS / JENKINS_MESOS_STATE_ZK_CREDENTIALS or jenkins.token_file / mesos.secret_file / mesos.zk_credentials_file / state.zk_credentials_file")

// loadSettings reads the file, then the environment, then flags (each
// overriding the one before), then the secrets, and validates it all.
func loadSettings(path string, flags map[string]string, getenv func(string) string) (*settings, error) {
	c := defaults()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := decodeStrict(b, &c); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	keys := scalarKeys(&c)
	for _, k := range sortedKeys(keys) {
		if v := getenv(envName(k)); v != "" {
			if err := setScalar(envName(k), v, keys[k]); err != nil {
				return nil, fmt.Errorf("config: %w", err)
			}
		}
	}
	if v := getenv("JENKINS_MESOS_TEMPLATES"); v != "" {
		if err := decodeTemplates(v, &c); err != nil {
			return nil, fmt.Errorf("config: JENKINS_MESOS_TEMPLATES: %w", err)
		}
	}
	for k, v := range flags {
		if k == "templates" {
			if err := decodeTemplates(v, &c); err != nil {
				return nil, fmt.Errorf("config: --templates: %w", err)
			}
			continue
		}
		p, ok := keys[k]
		if !ok {
			return nil, fmt.Errorf("config: unknown flag --%s", k)
		}
		if err := setScalar("--"+k, v, p); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	s := &settings{file: c}
	var err error
	if s.jenkinsToken, err = secret(getenv, "JENKINS_MESOS_JENKINS_TOKEN", "jenkins.token_file", c.Jenkins.TokenFile); err != nil {
		return nil, err
	}
	s.jenkinsTokenFrom = "JENKINS_MESOS_JENKINS_TOKEN"
	if getenv("JENKINS_MESOS_JENKINS_TOKEN") == "" {
		s.jenkinsTokenFrom = "jenkins.token_file " + c.Jenkins.TokenFile
	}
	if s.mesosSecret, err = secret(getenv, "JENKINS_MESOS_MESOS_SECRET", "mesos.secret_file", c.Mesos.SecretFile); err != nil {
		return nil, err
	}
	if s.mesosZKCreds, err = secret(getenv, "JENKINS_MESOS_MESOS_ZK_CREDENTIALS", "mesos.zk_credentials_file", c.Mesos.ZKCredentialsFile); err != nil {
		return nil, err
	}
	if s.stateZKCreds, err = secret(getenv, "JENKINS_MESOS_STATE_ZK_CREDENTIALS", "state.zk_credentials_file", c.State.ZKCredentialsFile); err != nil {
		return nil, err
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func envName(key string) string {
	return "JENKINS_MESOS_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(key))
}

// decodeStrict decodes a configuration file: parsed, checked against the
// schema (checkSchema: unknown keys and values of the wrong kind, named by
// their path), then decoded.
func decodeStrict(b []byte, c *fileConfig) error {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // an empty file
			return nil
		}
		return err
	}
	if err := checkSchema(&doc, reflect.TypeOf(*c), ""); err != nil {
		return err
	}
	return doc.Decode(c)
}

// decodeTemplates decodes --templates or JENKINS_MESOS_TEMPLATES: a YAML
// or JSON list of templates, checked as the file's templates are.
func decodeTemplates(v string, c *fileConfig) error {
	var doc yaml.Node
	if err := yaml.NewDecoder(strings.NewReader(v)).Decode(&doc); err != nil {
		return fmt.Errorf("expected a YAML or JSON list of templates: %w", err)
	}
	var ts []templateConfig
	if err := checkSchema(&doc, reflect.TypeOf(ts), "templates"); err != nil {
		return err
	}
	if err := doc.Decode(&ts); err != nil {
		return fmt.Errorf("expected a YAML or JSON list of templates: %w", err)
	}
	c.Templates = ts
	return nil
}

func secret(getenv func(string) string, env, key, file string) (string, error) {
	if v := getenv(env); v != "" {
		return strings.TrimSpace(v), nil
	}
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("config: %s %s: %w", key, file, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// isHTTPURL tells whether raw is an http(s) URL with a host.
func isHTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// jenkinsAuthHint says, for a refusal by Jenkins (401, 403), what to
// check, in the configuration's terms; "" for any other error. It never
// shows the token.
func (s *settings) jenkinsAuthHint(err error) string {
	var se *jenkins.StatusError
	if !errors.As(err, &se) {
		return ""
	}
	user := s.file.Jenkins.User
	switch se.Code {
	case http.StatusUnauthorized:
		switch {
		case s.jenkinsToken == "" && user == "":
			return "Jenkins wants credentials: set jenkins.user and its API token (JENKINS_MESOS_JENKINS_TOKEN or jenkins.token_file)"
		case s.jenkinsToken == "":
			return fmt.Sprintf("Jenkins refused user %q without a token: set its API token in JENKINS_MESOS_JENKINS_TOKEN or jenkins.token_file", user)
		default:
			return fmt.Sprintf("Jenkins refused user %q with the token from %s: check both, and that the token was not revoked", user, s.jenkinsTokenFrom)
		}
	case http.StatusForbidden:
		if se.CrumbRefused() {
			return fmt.Sprintf("Jenkins refused the CSRF crumb for user %q even after fetching a new one: a proxy between may drop the session cookie or the crumb header; an API token (rather than the password) in %s needs no crumb", user, s.jenkinsTokenFrom)
		}
		return fmt.Sprintf("user %q lacks a permission: it needs Overall/Read, Job/Read on the jobs it serves, and Agent/Create, Connect, Disconnect and Delete (README: The Jenkins user and its permissions)", user)
	}
	return ""
}

func (s *settings) validate() error {
	c := &s.file
	need := func(key, v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("config: %s %w", key, errRequired)
		}
		return nil
	}
	if err := need("mesos.master", c.Mesos.Master); err != nil {
		return err
	}
	if m := strings.TrimSpace(c.Mesos.Master); strings.HasPrefix(m, "zk://") {
		if _, _, err := driver.ParseZK(m); err != nil {
			if errors.Is(err, driver.ErrCredentialsInURL) {
				return fmt.Errorf("config: mesos.master %q: credentials in the URL are refused (they would show in files and logs): give user:password in JENKINS_MESOS_MESOS_ZK_CREDENTIALS or mesos.zk_credentials_file", driver.RedactURL(m))
			}
			return fmt.Errorf("config: mesos.master %q: expected zk://host:port[,host:port...]/path (the masters' ZooKeeper group, e.g. zk://zk1:2181,zk2:2181/mesos)", m)
		}
		s.masters = []string{m}
	} else {
		for _, m := range strings.Split(c.Mesos.Master, ",") {
			m = strings.TrimSpace(m)
			if driver.RedactURL(m) != m {
				return fmt.Errorf("config: mesos.master %q: credentials in the URL are refused (they would show in files and logs): give mesos.principal and its secret in JENKINS_MESOS_MESOS_SECRET or mesos.secret_file", driver.RedactURL(m))
			}
			if !isHTTPURL(m) {
				return fmt.Errorf("config: mesos.master %q: expected http(s)://host:port (comma-separated for several masters) or one zk://host:port,.../path", m)
			}
			// The scheduler API's own path, pasted from the Mesos docs, is
			// not part of the master's URL (a proxy's prefix, such as
			// DC/OS's /mesos, is).
			m = strings.TrimSuffix(m, "/")
			for _, api := range []string{"/api/v1/scheduler", "/api/v1"} {
				m = strings.TrimSuffix(m, api)
			}
			s.masters = append(s.masters, m)
		}
	}
	for _, kv := range [][2]string{{"mesos.framework_name", c.Mesos.FrameworkName}, {"mesos.user", c.Mesos.User}, {"mesos.role", c.Mesos.Role},
		{"jenkins.url", c.Jenkins.URL}, {"state.dir", c.State.Dir}, {"http.listen", c.HTTP.Listen}} {
		if err := need(kv[0], kv[1]); err != nil {
			return err
		}
	}
	if z := strings.TrimSpace(c.State.ZK); z != "" {
		if _, _, err := driver.ParseZK(z); err != nil {
			if errors.Is(err, driver.ErrCredentialsInURL) {
				return fmt.Errorf("config: state.zk %q: credentials in the URL are refused (they would show in files and logs): give user:password in JENKINS_MESOS_STATE_ZK_CREDENTIALS or state.zk_credentials_file", driver.RedactURL(z))
			}
			return fmt.Errorf("config: state.zk %q: expected zk://host:port[,host:port...]/path (where the instances keep their state and elect a leader, e.g. zk://zk1:2181/jenkins-mesos)", z)
		}
	}
	for _, zc := range []struct{ creds, what string }{
		{s.mesosZKCreds, "the masters' ZooKeeper credentials (JENKINS_MESOS_MESOS_ZK_CREDENTIALS or mesos.zk_credentials_file)"},
		{s.stateZKCreds, "the state.zk credentials (JENKINS_MESOS_STATE_ZK_CREDENTIALS or state.zk_credentials_file)"},
	} {
		if zc.creds != "" {
			if err := driver.CheckZKCredentials(zc.creds); err != nil {
				return fmt.Errorf("config: %s: %w", zc.what, err)
			}
		}
	}
	if s.mesosZKCreds != "" && !strings.HasPrefix(strings.TrimSpace(c.Mesos.Master), "zk://") {
		return fmt.Errorf("config: ZooKeeper credentials for the masters are set but mesos.master is not a zk:// group")
	}
	if s.stateZKCreds != "" && strings.TrimSpace(c.State.ZK) == "" {
		return fmt.Errorf("config: ZooKeeper credentials for the state are set but state.zk is empty")
	}
	if d := time.Duration(c.State.ZKSessionTimeout); d < time.Second || d > 60*time.Second {
		return fmt.Errorf("config: state.zk_session_timeout %s: expected 1s to 60s (a standby takes over within it)", d)
	}
	if driver.RedactURL(c.Jenkins.URL) != c.Jenkins.URL {
		// The URL is also the agents' JENKINS_URL: credentials in it
		// would reach every container's environment.
		return fmt.Errorf("config: jenkins.url %q: credentials in the URL are refused (they would show in files, logs and the agents' environment): set jenkins.user and its API token in JENKINS_MESOS_JENKINS_TOKEN or jenkins.token_file", driver.RedactURL(c.Jenkins.URL))
	}
	if !isHTTPURL(c.Jenkins.URL) {
		return fmt.Errorf("config: jenkins.url %q: expected http(s)://host[:port]/", c.Jenkins.URL)
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		return fmt.Errorf("config: http.listen %q: expected host:port", c.HTTP.Listen)
	}
	if c.Mesos.Encoding != "protobuf" && c.Mesos.Encoding != "json" {
		return fmt.Errorf("config: mesos.encoding %q: expected protobuf or json", c.Mesos.Encoding)
	}
	if time.Duration(c.Mesos.FailoverTimeout) <= 0 {
		return fmt.Errorf("config: mesos.failover_timeout %s: must be positive (the framework's tasks survive its restarts only within it)", time.Duration(c.Mesos.FailoverTimeout))
	}
	if u := time.Duration(c.Mesos.UsageInterval); u != 0 && u < time.Second {
		return fmt.Errorf("config: mesos.usage_interval %s: must be 0 (off) or at least 1s", u)
	}
	if time.Duration(c.Jenkins.PollInterval) < minPollInterval {
		return fmt.Errorf("config: jenkins.poll_interval %s: must be at least %s", time.Duration(c.Jenkins.PollInterval), minPollInterval)
	}
	if c.Limits.MaxAgents < 0 {
		return fmt.Errorf("config: limits.max_agents %d: must be zero (no cap) or positive", c.Limits.MaxAgents)
	}
	if c.Limits.BreakerThreshold < 1 {
		return fmt.Errorf("config: limits.breaker_threshold %d: must be at least 1 (launch failures in a row that stop a template)", c.Limits.BreakerThreshold)
	}
	if time.Duration(c.Limits.BreakerCooldown) <= 0 {
		return fmt.Errorf("config: limits.breaker_cooldown %s: must be positive (how long a failing template's launches stop)", time.Duration(c.Limits.BreakerCooldown))
	}
	if time.Duration(c.Limits.UnreachableGrace) <= 0 {
		return fmt.Errorf("config: limits.unreachable_grace %s: must be positive (how long a partitioned agent keeps its node)", time.Duration(c.Limits.UnreachableGrace))
	}
	if time.Duration(c.Limits.OrphanGrace) < time.Second {
		return fmt.Errorf("config: limits.orphan_grace %s: must be at least 1s (how long reconciliation answers have to arrive before tasks and nodes without each other are cleaned up)", time.Duration(c.Limits.OrphanGrace))
	}
	if time.Duration(c.Limits.MaintenanceHorizon) < 0 {
		return fmt.Errorf("config: limits.maintenance_horizon %s: must be zero (only windows that have begun) or positive", time.Duration(c.Limits.MaintenanceHorizon))
	}
	if c.Mesos.Principal == "" && s.mesosSecret != "" {
		return fmt.Errorf("config: a Mesos secret is set but mesos.principal is empty")
	}
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		return fmt.Errorf("config: log.format %q: expected auto, text or json", c.Log.Format)
	}
	strategy, err := offers.ParseStrategy(c.Strategy)
	if err != nil {
		return fmt.Errorf("config: strategy %q: expected spread or binpack", c.Strategy)
	}
	if len(c.Templates) == 0 {
		return fmt.Errorf("config: templates: at least one template %w", errRequired)
	}
	quiet := true
	if c.Jenkins.ProvisionDuringQuietPeriod != nil {
		quiet = *c.Jenkins.ProvisionDuringQuietPeriod
	}
	core := scheduler.Config{FrameworkName: c.Mesos.FrameworkName, JenkinsURL: strings.TrimSuffix(c.Jenkins.URL, "/") + "/",
		MaxAgents: c.Limits.MaxAgents, Strategy: strategy, ProvisionDuringQuietPeriod: quiet,
		BreakerThreshold: c.Limits.BreakerThreshold, BreakerCooldown: time.Duration(c.Limits.BreakerCooldown),
		UnreachableGrace: time.Duration(c.Limits.UnreachableGrace), OrphanGrace: time.Duration(c.Limits.OrphanGrace),
		MaintenanceHorizon: time.Duration(c.Limits.MaintenanceHorizon)}
	seen := map[string]bool{}
	for i, t := range c.Templates {
		key := fmt.Sprintf("templates[%d]", i)
		if t.Name != "" {
			key += " (" + t.Name + ")"
		}
		tmpl, err := t.toTemplate(key)
		if err != nil {
			return err
		}
		if seen[tmpl.Name] {
			return fmt.Errorf("config: %s.name %q: used by an earlier template", key, tmpl.Name)
		}
		if c.Mesos.Encoding == "json" {
			for field, v := range map[string]float64{"cpus_limit": tmpl.Container.CPUsLimit, "mem_limit": tmpl.Container.MemLimit} {
				if math.IsInf(v, 1) {
					return fmt.Errorf("config: %s.%s unlimited: needs mesos.encoding protobuf (mesos-go cannot write an infinity in JSON); give a number", key, field)
				}
			}
		}
		seen[tmpl.Name] = true
		core.Templates = append(core.Templates, tmpl)
	}
	s.core = core
	s.pollInterval = time.Duration(c.Jenkins.PollInterval)
	s.failover = time.Duration(c.Mesos.FailoverTimeout)
	return nil
}

func (t templateConfig) toTemplate(key string) (scheduler.Template, error) {
	fail := func(field, value, expected string) (scheduler.Template, error) {
		return scheduler.Template{}, fmt.Errorf("config: %s.%s %s: %s", key, field, value, expected)
	}
	if t.Name == "" {
		return fail("name", `""`, "required")
	}
	for _, c := range t.Name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fail("name", strconv.Quote(t.Name), "letters, digits, - and _ only (it prefixes node names and task IDs)")
		}
	}
	labels := strings.Fields(t.Labels)
	if len(labels) == 0 {
		return fail("labels", `""`, "at least one label (the node's label set, space-separated)")
	}
	if t.CPUs <= 0 {
		return fail("cpus", fmt.Sprint(t.CPUs), "must be positive (e.g. 0.2)")
	}
	if t.Mem <= 0 {
		return fail("mem", fmt.Sprint(t.Mem), "must be positive, in MB (e.g. 30)")
	}
	if t.MinIdle < 0 || (t.MaxInstances > 0 && t.MinIdle > t.MaxInstances) {
		return fail("min_idle", fmt.Sprint(t.MinIdle), fmt.Sprintf("must be from 0 to max_instances (%d)", t.MaxInstances))
	}
	if t.Disk < 0 || t.Ports < 0 || t.Executors < 0 || t.MaxInstances < 0 {
		return fail("disk/ports/executors/max_instances", "", "must not be negative")
	}
	if t.Image == "" {
		return fail("image", `""`, "required (e.g. jenkins/inbound-agent)")
	}
	for j, p := range t.Images {
		if strings.TrimSpace(p) == "" || strings.ContainsAny(p, " \t") {
			return fail(fmt.Sprintf("images[%d]", j), strconv.Quote(p), "an image pattern (e.g. maven:* or registry.example.com/ci/*; * matches anything)")
		}
	}
	if t.MaxCPUs != 0 && t.MaxCPUs < t.CPUs {
		return fail("max_cpus", fmt.Sprint(t.MaxCPUs), fmt.Sprintf("must be at least cpus (%g), or 0 (builds do not choose)", t.CPUs))
	}
	if t.MaxMem != 0 && t.MaxMem < t.Mem {
		return fail("max_mem", fmt.Sprint(t.MaxMem), fmt.Sprintf("must be at least mem (%g MB), or 0 (builds do not choose)", t.Mem))
	}
	network, ok := executor.ParseNetwork(t.Network)
	if !ok {
		return fail("network", strconv.Quote(t.Network), "expected host or bridge")
	}
	containerizer, ok := executor.ParseContainerizer(t.Containerizer)
	if !ok {
		return fail("containerizer", strconv.Quote(t.Containerizer), "expected docker or mesos")
	}
	if containerizer == executor.Mesos {
		if network != executor.Host {
			return fail("network", strconv.Quote(t.Network), "the mesos containerizer runs agents on the host network only (bridge is Docker's)")
		}
		if len(t.DockerParameters) > 0 {
			return fail("docker_parameters", fmt.Sprint(sortedKeys(t.DockerParameters)), "Docker run options do not apply to the mesos containerizer")
		}
	}
	tmpl := scheduler.Template{Name: t.Name, Labels: labels, CPUs: t.CPUs, Mem: t.Mem, Disk: t.Disk, Ports: t.Ports, Executors: t.Executors,
		RemoteFS: t.RemoteFS, WebSocket: t.WebSocket == nil || *t.WebSocket, MaxInstances: t.MaxInstances, MinIdle: t.MinIdle, Images: t.Images, MaxCPUs: t.MaxCPUs, MaxMem: t.MaxMem,
		IdleTimeout: time.Duration(t.IdleTimeout), ConnectTimeout: time.Duration(t.ConnectTimeout), KillGrace: time.Duration(t.KillGrace), Role: t.Role,
		Container: executor.Container{Containerizer: containerizer, Image: t.Image, Network: network, Parameters: t.DockerParameters, ForcePull: t.ForcePull}}
	switch t.Retention {
	case "", "once":
		tmpl.Retention = scheduler.RetainOnce
	case "idle":
		tmpl.Retention = scheduler.RetainIdle
	default:
		return fail("retention", strconv.Quote(t.Retention), "expected once or idle")
	}
	for j, v := range t.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 || !strings.HasPrefix(parts[0], "/") || parts[1] == "" || (len(parts) == 3 && parts[2] != "ro" && parts[2] != "rw") {
			return fail(fmt.Sprintf("volumes[%d]", j), strconv.Quote(v), "expected /host/path:/container/path[:ro|rw]")
		}
		tmpl.Container.Volumes = append(tmpl.Container.Volumes, executor.Volume{HostPath: parts[0], ContainerPath: parts[1], ReadOnly: len(parts) == 3 && parts[2] == "ro"})
	}
	for k := range t.DockerParameters {
		if k == "name" || k == "" {
			return fail("docker_parameters", strconv.Quote(k), "a docker run option other than name (Mesos names the container)")
		}
	}
	if t.CPUsLimit != 0 {
		if t.CPUsLimit < 0 || float64(t.CPUsLimit) < t.CPUs {
			return fail("cpus_limit", t.CPUsLimit.String(), fmt.Sprintf("must be at least cpus (%g), or unlimited", t.CPUs))
		}
		tmpl.Container.CPUsLimit = float64(t.CPUsLimit)
	}
	if t.MemLimit != 0 {
		// Mesos compares whole megabytes (validateResourceLimits).
		if t.MemLimit < 0 || math.Floor(float64(t.MemLimit)) < math.Floor(t.Mem) {
			return fail("mem_limit", t.MemLimit.String(), fmt.Sprintf("must be at least mem (%g MB), or unlimited", t.Mem))
		}
		tmpl.Container.MemLimit = float64(t.MemLimit)
	}
	for _, k := range sortedKeys(t.Env) {
		if err := checkEnvName(k); err != nil {
			return fail("env", strconv.Quote(k), err.Error())
		}
	}
	if len(t.Env) > 0 {
		tmpl.Container.Env = t.Env
	}
	for j, u := range t.URIs {
		uri, err := u.toURI()
		if err != nil {
			return fail(fmt.Sprintf("uris[%d]", j), strconv.Quote(u.Value), err.Error())
		}
		tmpl.Container.URIs = append(tmpl.Container.URIs, uri)
	}
	for j, src := range t.Constraints {
		k, err := offers.ParseConstraint(src)
		if err != nil {
			return fail(fmt.Sprintf("constraints[%d]", j), strconv.Quote(src), err.Error())
		}
		tmpl.Constraints = append(tmpl.Constraints, k)
	}
	if t.ConnectTimeout < 0 || t.IdleTimeout < 0 {
		return fail("connect_timeout/idle_timeout", "", "must not be negative")
	}
	return tmpl, nil
}

// checkEnvName accepts a POSIX environment variable name that is not one
// of the variables the framework sets itself.
func checkEnvName(k string) error {
	for _, r := range executor.Reserved {
		if k == r {
			return fmt.Errorf("set by the framework for every agent (%s)", strings.Join(executor.Reserved, ", "))
		}
	}
	for i, c := range k {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return fmt.Errorf("expected a variable name: letters, digits and _, not starting with a digit")
		}
	}
	if k == "" {
		return fmt.Errorf("expected a variable name")
	}
	return nil
}

// toURI checks a uri the way the Mesos fetcher will (Fetcher::basename,
// validateOutputFile, uriToLocalPath) so that a mistake is refused here,
// not as a failed launch on every agent.
func (u uriConfig) toURI() (executor.URI, error) {
	v := strings.TrimLeft(u.Value, " \t")
	out := executor.URI{Value: v, Extract: u.Extract == nil || *u.Extract, Executable: u.Executable, Cache: u.Cache, OutputFile: u.OutputFile}
	if v == "" {
		return out, fmt.Errorf("required: a URL (http, https, ftp, ftps, hdfs, s3…) or an absolute path on the Mesos agent")
	}
	if strings.ContainsAny(v, "\\'\x00") {
		return out, fmt.Errorf("illegal characters in URI (\\, ' or NUL), which the Mesos fetcher refuses")
	}
	if scheme, rest, ok := strings.Cut(v, "://"); ok && len(scheme) > 1 {
		if scheme == "file" {
			if !strings.HasPrefix(strings.TrimPrefix(rest, "localhost"), "/") {
				return out, fmt.Errorf("a file URI takes an absolute path (file:///path)")
			}
		} else if i := strings.IndexByte(rest, '/'); i < 0 || i == len(rest)-1 {
			return out, fmt.Errorf("missing the path to a file after the host")
		}
	} else if !strings.HasPrefix(v, "/") {
		return out, fmt.Errorf("a relative path needs the agents' --frameworks_home; give a URL or an absolute path")
	}
	if f := u.OutputFile; f != "" {
		if strings.HasPrefix(f, "/") || f == ".." || strings.HasPrefix(f, "../") || strings.Contains(f, "/../") || strings.HasSuffix(f, "/") {
			return out, fmt.Errorf("output_file %q: expected a file path inside the sandbox (relative, no ..)", f)
		}
	}
	if u.Executable && u.Extract != nil && *u.Extract {
		return out, fmt.Errorf("executable and extract: Mesos does not extract an executable; set one")
	}
	if u.Executable {
		out.Extract = false
	}
	return out, nil
}

// flagSet declares every scalar key as a flag, --templates, and refuses
// the secrets as flags with a clear message.
func flagSet(name string, out map[string]string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	path := fs.String("config", "", "the YAML configuration file")
	c := defaults()
	keys := scalarKeys(&c)
	for _, k := range sortedKeys(keys) {
		k := k
		def := fmt.Sprint(reflect.ValueOf(keys[k]).Elem().Interface())
		if d, ok := keys[k].(*duration); ok {
			def = time.Duration(*d).String()
		}
		if b, ok := keys[k].(**bool); ok && *b == nil {
			def = "true"
		}
		usage := fmt.Sprintf("overrides %s (env %s; default %s)", k, envName(k), def)
		if def == "" {
			usage = fmt.Sprintf("overrides %s (env %s; no default)", k, envName(k))
		}
		fs.Func(k, usage, func(v string) error { out[k] = v; return nil })
	}
	fs.Func("templates", "overrides templates with a YAML/JSON list (env JENKINS_MESOS_TEMPLATES)", func(v string) error { out["templates"] = v; return nil })
	for _, k := range secretKeys {
		fs.Func(k, "refused: "+errSecretFlag.Error(), func(string) error { return errSecretFlag })
	}
	return fs, path
}

// parseFlags parses a command's flags. --help prints them all; a mistyped
// flag is refused with the closest defined one, rather than by printing
// the whole list after the error.
func parseFlags(fs *flag.FlagSet, args []string, out io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return err
	}
	if err != nil && strings.HasSuffix(err.Error(), errSecretFlag.Error()) {
		// The flag package's message quotes the value given, here a
		// secret: name the flag only.
		_, name, _ := strings.Cut(err.Error(), " for flag -")
		name, _, _ = strings.Cut(name, ":")
		return fmt.Errorf("--%s: %w", name, errSecretFlag)
	}
	if name, ok := strings.CutPrefix(fmt.Sprint(err), "flag provided but not defined: -"); ok {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		msg := fmt.Sprintf("unknown flag --%s", strings.TrimPrefix(name, "-"))
		if near := closest(strings.TrimPrefix(name, "-"), names); near != "" {
			msg += fmt.Sprintf(" (did you mean --%s?)", near)
		}
		return fmt.Errorf("%s; %s --help lists them", msg, fs.Name())
	}
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

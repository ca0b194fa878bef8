// Command mesos-emulator runs an emulated Apache Mesos master (or several,
// for high availability) with simulated agents that really run tasks. Any
// v1 scheduler API client can use it as if it were a real master.
//
//	mesos-emulator --listen 127.0.0.1:5050 --agents 2 \
//	   --agent-resources 'cpus:4;mem:8192;disk:20000;ports:[31000-32000]' \
//	   [--agent-attributes 'rack:r1;os:centos7'] [--masters 1] [--zk zk://127.0.0.1:2181/mesos] \
//	   [--heartbeat 15s] [--allocation-interval 1s] [--offer-timeout 0s] [--time-scale 1] \
//	   [--image jenkins/inbound-agent=PROGRAM ...] [--private-image IMAGE=USER:PASSWORD ...]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jenkins-mesos/jenkins-mesos/integration/mesosemu"
	"github.com/sirupsen/logrus"
)

type imageFlags map[string][]string

func (f imageFlags) String() string { return fmt.Sprint(map[string][]string(f)) }
func (f imageFlags) Set(s string) error {
	image, prog, err := mesosemu.ParseImageMapping(s)
	if err != nil {
		return err
	}
	f[image] = prog
	return nil
}

// privateFlags are --private-image IMAGE=USER:PASSWORD mappings.
type privateFlags map[string]string

func (f privateFlags) String() string { return fmt.Sprint(len(f), " private image(s)") }
func (f privateFlags) Set(s string) error {
	image, creds, ok := strings.Cut(s, "=")
	user, _, hasColon := strings.Cut(creds, ":")
	if !ok || strings.TrimSpace(image) == "" || !hasColon || user == "" {
		return fmt.Errorf("expected IMAGE=USER:PASSWORD")
	}
	f[strings.TrimSpace(image)] = creds
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return // --help printed the usage: that is success
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mesos-emulator:", err)
		os.Exit(2)
	}
}

// run starts the emulator and serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mesos-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:5050", "address of the first master; master i listens on port+i")
	agents := fs.Int("agents", 2, "number of simulated agents")
	res := fs.String("agent-resources", mesosemu.DefaultAgentResources, "resources of each agent, in Mesos --resources syntax")
	attrs := fs.String("agent-attributes", "", "attributes of each agent, e.g. 'rack:r1;os:centos7'")
	masters := fs.Int("masters", 1, "number of masters sharing the agents")
	zkURL := fs.String("zk", "", "ZooKeeper URL for master contention, e.g. zk://127.0.0.1:2181/mesos")
	heartbeat := fs.Duration("heartbeat", 15*time.Second, "interval between HEARTBEAT events (emulated time)")
	alloc := fs.Duration("allocation-interval", time.Second, "allocation interval (emulated time)")
	offerTimeout := fs.Duration("offer-timeout", 0, "rescind offers held longer than this (0: never)")
	scale := fs.Float64("time-scale", 1, "emulated time runs this many times faster than real time")
	sandbox := fs.String("sandbox", "", "directory for agent sandboxes (default: a temporary directory)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	seed := fs.Int64("seed", 0, "seed of the allocator's randomness, to replay an allocation order (0: random, logged)")
	images := imageFlags{}
	fs.Var(images, "image", "IMAGE=PROGRAM [ARGS]: run PROGRAM for Docker tasks of IMAGE (repeatable)")
	private := privateFlags{}
	fs.Var(private, "private-image", "IMAGE=USER:PASSWORD: IMAGE's registry wants these credentials; a Docker pull needs a fetched .docker/config.json with them (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for image := range private {
		if _, ok := images[image]; !ok {
			return fmt.Errorf("--private-image %s: no --image stand-in for it", image)
		}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: mesos-emulator takes only flags (see --help)", fs.Arg(0))
	}
	for name, d := range map[string]time.Duration{"--heartbeat": *heartbeat, "--allocation-interval": *alloc} {
		if d <= 0 {
			return fmt.Errorf("%s %s: must be positive", name, d)
		}
	}
	if *offerTimeout < 0 {
		return fmt.Errorf("--offer-timeout %s: must be zero (never) or positive", *offerTimeout)
	}
	host, portStr, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("--listen %q: expected host:port", *listen)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("--listen %q: port must be a number from 0 to 65535", *listen)
	}
	if *agents < 0 {
		return fmt.Errorf("--agents %d: must be zero or more", *agents)
	}
	if *masters < 1 {
		return fmt.Errorf("--masters %d: must be at least 1", *masters)
	}
	if *scale <= 0 {
		return fmt.Errorf("--time-scale %g: must be positive", *scale)
	}
	if _, err := mesosemu.ParseResources(*res); err != nil {
		return fmt.Errorf("--agent-resources: %w", err)
	}
	if _, err := mesosemu.ParseAttributes(*attrs); err != nil {
		return fmt.Errorf("--agent-attributes: %w", err)
	}
	if *zkURL != "" {
		if _, _, err := mesosemu.ParseZK(*zkURL); err != nil {
			return fmt.Errorf("--zk: %w", err)
		}
	}
	lvl, err := logrus.ParseLevel(*logLevel)
	if err != nil {
		return fmt.Errorf("--log-level %q: expected debug, info, warn or error", *logLevel)
	}
	log := logrus.New()
	log.SetOutput(stderr)
	log.SetLevel(lvl)

	c, err := mesosemu.NewCluster(mesosemu.Config{
		Hostname: host, Port: port, Masters: *masters, ZK: *zkURL,
		Agents: *agents, AgentResources: *res, AgentAttributes: *attrs,
		Heartbeat: *heartbeat, AllocationInterval: *alloc, OfferTimeout: *offerTimeout,
		TimeScale: *scale, Images: images, PrivateImages: private, SandboxRoot: *sandbox, Seed: *seed, Log: log,
	})
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(stdout, "mesos-emulator %s: %d master(s), %d agent(s), time scale %g, seed %d\n", mesosemu.Version, *masters, *agents, *scale, c.Seed())
	for i, u := range c.Masters() {
		fmt.Fprintf(stdout, "  master %d: %s/api/v1/scheduler\n", i, u)
	}
	if *zkURL != "" {
		fmt.Fprintf(stdout, "  contending in %s\n", *zkURL)
	}
	for _, a := range c.Agents() {
		fmt.Fprintf(stdout, "  agent %s (%s): %s; files at %s/files/read\n", a.ID, a.Hostname, *res, a.Endpoint)
	}
	fmt.Fprintf(stdout, "  faults: POST /emulator/agents/{id}/remove|partition|restore, /emulator/frameworks/{id}/drop|stall, /emulator/failover, /emulator/images/fail?image=I&count=N\n")
	if *zkURL != "" || *masters > 1 {
		fmt.Fprintf(stdout, "  leader: %s\n", waitLeader(c))
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "mesos-emulator: shutting down")
	return nil
}

func waitLeader(c *mesosemu.Cluster) string {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if u := c.Leader(); u != "" {
			return u
		}
		if li := c.LeaderInfo(); li != nil {
			return "elsewhere: " + strings.TrimSpace(li.GetHostname()) + ":" + strconv.Itoa(int(li.GetPort()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "none yet"
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// runStatus is `jenkins-mesos status`: an instance's GET /status, for
// people. The instance is --url, or the http.listen of --config (a
// wildcard address asked on loopback).
func runStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// The configuration's keys as flags too, as for run: an instance
	// started with --http.listen is found with the same flag.
	flags := map[string]string{}
	fs, path := flagSet("jenkins-mesos status", flags)
	fs.SetOutput(stderr)
	base := fs.String("url", "", "the instance's HTTP address, e.g. http://10.0.0.5:8090 (default: http.listen of --config)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("status: unexpected argument %q", fs.Arg(0))
	}
	u := strings.TrimSpace(*base)
	if u != "" && !strings.Contains(u, "://") {
		u = "http://" + u // host:port, as http.listen is written
	}
	if u != "" && !isHTTPURL(u) {
		return fmt.Errorf("status: --url %q: expected http://host:port (the instance's http.listen), e.g. http://10.0.0.5:8090", *base)
	}
	u = strings.TrimSuffix(u, "/")
	if u == "" {
		if *path == "" {
			*path = getenv("JENKINS_MESOS_CONFIG")
		}
		s, err := loadSettings(*path, flags, getenv)
		if err != nil {
			return err
		}
		host, port, err := net.SplitHostPort(s.file.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("status: http.listen %q: %w", s.file.HTTP.Listen, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		u = "http://" + net.JoinHostPort(host, port)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/status", nil)
	if err != nil {
		return fmt.Errorf("status: --url %q: %w", u, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status: GET %s/status: %s", u, resp.Status)
	}
	var st statusView
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return fmt.Errorf("status: %s/status is not a jenkins-mesos status: %w", u, err)
	}
	return st.print(stdout, u)
}

// statusView is GET /status as the command reads it.
type statusView struct {
	Role        string         `json:"role"`
	Leader      string         `json:"leader"`
	Subscribed  bool           `json:"subscribed"`
	Suppressed  bool           `json:"suppressed"`
	FrameworkID string         `json:"framework_id"`
	Agents      map[string]int `json:"agents"`
	Templates   []struct {
		Name    string `json:"name"`
		Waiting int    `json:"waiting"`
		Agents  int    `json:"agents"`
		Code    string `json:"code"`
		Reason  string `json:"reason"`
	} `json:"templates"`
	Waiting []struct {
		Build    int64    `json:"build"`
		Job      string   `json:"job"`
		Template string   `json:"template"`
		Waited   *float64 `json:"waited_seconds"`
		Code     string   `json:"code"`
		Reason   string   `json:"reason"`
	} `json:"waiting"`
	Sizing []templateSizing `json:"sizing"`
}

func (st statusView) print(w io.Writer, u string) error {
	if st.Role == "" {
		return errors.New("status: the answer has no role: not a jenkins-mesos instance?")
	}
	if st.Role != "leader" {
		fmt.Fprintf(w, "%s: %s", u, st.Role)
		if st.Leader != "" {
			fmt.Fprintf(w, " (the leader is %s)", st.Leader)
		}
		fmt.Fprintln(w)
		return nil
	}
	sub := "subscribed"
	if !st.Subscribed {
		sub = "NOT subscribed"
	}
	offers := "receiving offers"
	if st.Suppressed {
		offers = "offers suppressed (nothing waits)"
	}
	fmt.Fprintf(w, "%s: leader, %s as framework %s, %s\n", u, sub, st.FrameworkID, offers)
	states := make([]string, 0, len(st.Agents))
	for s, n := range st.Agents {
		states = append(states, fmt.Sprintf("%d %s", n, s))
	}
	sort.Strings(states)
	if len(states) == 0 {
		states = []string{"none"}
	}
	fmt.Fprintf(w, "agents: %s\n\n", strings.Join(states, ", "))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TEMPLATE\tWAITING\tAGENTS\tSTATUS\tREASON")
	for _, t := range st.Templates {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", t.Name, t.Waiting, t.Agents, t.Code, t.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := st.printSizing(w); err != nil {
		return err
	}
	if len(st.Waiting) == 0 {
		fmt.Fprintln(w, "\nno build waits for an agent")
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BUILD\tJOB\tSTATUS\tTEMPLATE\tWAITED\tREASON")
	for _, b := range st.Waiting {
		tmpl, waited := b.Template, "-"
		if tmpl == "" {
			tmpl = "-"
		}
		if b.Waited != nil {
			waited = (time.Duration(*b.Waited*10) * time.Second / 10).String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", b.Build, b.Job, b.Code, tmpl, waited, b.Reason)
	}
	return tw.Flush()
}

// printSizing shows what the sampled agents used against their slices.
func (st statusView) printSizing(w io.Writer) error {
	if len(st.Sizing) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SIZING	AGENTS	CPUS	USED	MEM	PEAK	MEDIAN	ADVICE")
	for _, z := range st.Sizing {
		advice := z.Advice
		if advice == "" {
			advice = "ok"
		}
		fmt.Fprintf(tw, "%s\t%d\t%g\t%g\t%g MB\t%g MB\t%g MB\t%s\n", z.Template, z.Agents, z.CPUs, z.CPUsUsed, z.Mem, z.PeakMemMB, z.MedianMB, advice)
	}
	return tw.Flush()
}

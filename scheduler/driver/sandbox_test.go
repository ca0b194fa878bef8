package driver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
)

// TestReadTailReadsTheEndOfALongFile: the size first, then the last
// 2 KiB from a whole line; secrets masked; a missing file is an error.
func TestReadTailReadsTheEndOfALongFile(t *testing.T) {
	var file strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&file, "line %03d of the agent's output\n", i)
	}
	file.WriteString("secret " + strings.Repeat("ab", 32) + " and mesos-pass\n")
	content := file.String()
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		queries = append(queries, q.Get("offset")+"/"+q.Get("length"))
		if r.URL.Path != "/files/read" || q.Get("path") != "/frameworks/fw/executors/t1/runs/latest/stderr" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if u, p, _ := r.BasicAuth(); u != "jm" || p != "mesos-pass" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		off, _ := strconv.Atoi(q.Get("offset"))
		n, _ := strconv.Atoi(q.Get("length"))
		if off == -1 {
			_ = json.NewEncoder(w).Encode(map[string]any{"data": "", "offset": len(content)})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": content[off : off+n], "offset": off})
	}))
	defer srv.Close()
	d := New(Config{Principal: "jm", Secret: "mesos-pass", Log: logrus.New()}, nil, nil)
	got, err := d.readTail(t.Context(), srv.URL, "/frameworks/fw/executors/t1/runs/latest/stderr")
	require.NoError(t, err)
	require.Equal(t, []string{"-1/", fmt.Sprintf("%d/%d", len(content)-outputTail, outputTail)}, queries)
	require.True(t, strings.HasPrefix(got, "line "), "starts at a whole line: %q", got[:20])
	require.LessOrEqual(t, len(got), outputTail)
	require.True(t, strings.HasSuffix(got, "secret "+strings.Repeat("ab", 32)+" and mesos-pass"))
	masked := d.mask(got)
	require.True(t, strings.HasSuffix(masked, "secret ******** and ********"), masked[len(masked)-40:])
	require.Equal(t, "secret ******** and ********", lastLine(masked+"\n\n  \n"))
	_, err = d.readTail(t.Context(), srv.URL, "/frameworks/fw/executors/t2/runs/latest/stderr")
	require.ErrorContains(t, err, "404")
}

// TestLookupAgentAsksTheMaster: an agent no offer named is found by its
// pid in /master/slaves, and remembered.
func TestLookupAgentAsksTheMaster(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/master/slaves" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		slaves := []map[string]any{}
		if id := r.URL.Query().Get("slave_id"); id == "S1" {
			slaves = append(slaves, map[string]any{"id": "S1", "pid": "slave(1)@10.0.0.7:5051", "hostname": "agent7"})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"slaves": slaves, "recovered_slaves": []any{}})
	}))
	defer srv.Close()
	d := New(Config{Log: logrus.New()}, nil, nil)
	base, err := d.lookupAgent(t.Context(), srv.URL, "S1")
	require.NoError(t, err)
	require.Equal(t, "http://10.0.0.7:5051", base)
	require.Equal(t, "http://10.0.0.7:5051", d.endpoint("S1"), "remembered")
	_, err = d.lookupAgent(t.Context(), srv.URL, "S9")
	require.ErrorContains(t, err, "does not list agent S9")
}

// TestUsageAsksTheAgentsOfLiveTasks: only agents running one of the given
// live tasks are asked, and only those tasks' entries come back.
func TestUsageAsksTheAgentsOfLiveTasks(t *testing.T) {
	asked := make(chan string, 10)
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- r.URL.Path
		_, _ = w.Write([]byte(`[
 {"framework_id":"fw","executor_id":"mesos-1","statistics":{"timestamp":1700000000.5,"cpus_user_time_secs":1.5,"cpus_system_time_secs":0.25,"cpus_limit":0.3,"mem_rss_bytes":41943040,"mem_limit_bytes":65011712}},
 {"framework_id":"fw","executor_id":"mesos-gone","statistics":{"cpus_user_time_secs":9}},
 {"framework_id":"other","executor_id":"mesos-1","statistics":{"cpus_user_time_secs":9}}]`))
	}))
	defer agent.Close()
	d := New(Config{Log: logrus.New()}, nil, nil)
	d.frameworkID = "fw"
	d.agentURLs["S1"] = endpointURL(t, agent.URL)
	d.agentURLs["S2"] = endpointURL(t, "http://127.0.0.1:1") // no live task there: not asked
	// mesos-gone ended (the caller no longer lists it); S2 runs nothing.
	got, err := d.Usage(t.Context(), map[string]string{"mesos-1": "S1"})
	require.NoError(t, err)
	require.Equal(t, []TaskUsage{{Task: "mesos-1", CPUSeconds: 1.75, RSSBytes: 40 << 20, CPUsLimit: 0.3, MemLimitBytes: 62 << 20, At: time.Unix(1700000000, 5e8)}}, got)
	require.Equal(t, "/monitor/statistics", <-asked)
	require.Empty(t, asked, "one agent asked")
}

// endpointURL is an agent's address as an offer's URL carries it.
func endpointURL(t *testing.T, base string) *mesos.URL {
	t.Helper()
	u, err := url.Parse(base)
	require.NoError(t, err)
	host := u.Hostname()
	port, err := strconv.Atoi(u.Port())
	require.NoError(t, err)
	return &mesos.URL{Scheme: u.Scheme, Address: mesos.Address{Hostname: &host, Port: int32(port)}}
}

// TestAgentBaseFromAnOffersURL: the IP before the hostname, http unless
// the URL says otherwise, IPv6 bracketed, nothing without a host.
func TestAgentBaseFromAnOffersURL(t *testing.T) {
	ip, host, v6 := "10.1.2.3", "agent7", "fd00::7"
	require.Equal(t, "http://10.1.2.3:5051", agentBase(&mesos.URL{Address: mesos.Address{IP: &ip, Hostname: &host, Port: 5051}}))
	require.Equal(t, "https://agent7:5051", agentBase(&mesos.URL{Scheme: "https", Address: mesos.Address{Hostname: &host, Port: 5051}}))
	require.Equal(t, "http://[fd00::7]:5051", agentBase(&mesos.URL{Address: mesos.Address{IP: &v6, Port: 5051}}))
	require.Equal(t, "", agentBase(&mesos.URL{Address: mesos.Address{Port: 5051}}))
	require.Equal(t, "", agentBase(nil))
}

package mesosemu

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEachRecordIsItsOwnChunk: the master writes every event to the
// subscription's pipe as one RecordIO record, and libprocess sends each
// write as one HTTP chunk. Clients that read a record per chunk (the
// Node.js mesos-framework library does) depend on it, so the stream is
// read here chunk by chunk, off the wire: SUBSCRIBED, the first
// HEARTBEAT and OFFERS each arrive as exactly "LEN\n" + LEN bytes.
func TestEachRecordIsItsOwnChunk(t *testing.T) {
	u := leaderURL(t, newTestCluster(t, Config{Agents: 2}))
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	body := `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"jenkins","name":"chunks"}}}`
	fmt.Fprintf(conn, "POST /api/v1/scheduler HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: %d\r\n\r\n%s", u.Host, len(body), body)
	r := bufio.NewReader(conn)
	status, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("status line %q: %v", status, err)
	}
	chunked := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
		chunked = chunked || strings.EqualFold(strings.TrimSpace(line), "Transfer-Encoding: chunked")
	}
	if !chunked {
		t.Fatal("the stream is not chunked")
	}
	seen := map[string]bool{}
	for !(seen["SUBSCRIBED"] && seen["HEARTBEAT"] && seen["OFFERS"]) {
		sizeLine, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("chunk size: %v (seen %v)", err, seen)
		}
		size, err := strconv.ParseInt(strings.TrimSpace(sizeLine), 16, 64)
		if err != nil || size == 0 {
			t.Fatalf("chunk size line %q", sizeLine)
		}
		chunk := make([]byte, size+2) // the data and its CRLF
		if _, err := io.ReadFull(r, chunk); err != nil {
			t.Fatal(err)
		}
		data := string(chunk[:size])
		n, rest, ok := strings.Cut(data, "\n")
		length, err := strconv.Atoi(n)
		if !ok || err != nil || length != len(rest) {
			t.Fatalf("a chunk that is not exactly one record: %q", data)
		}
		var ev struct{ Type string }
		if err := json.Unmarshal([]byte(rest), &ev); err != nil {
			t.Fatalf("record %q: %v", rest, err)
		}
		seen[ev.Type] = true
	}
}

// leaderURL is the leading master's URL, parsed.
func leaderURL(t *testing.T, c *Cluster) *url.URL {
	t.Helper()
	u, err := url.Parse(c.Leader())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

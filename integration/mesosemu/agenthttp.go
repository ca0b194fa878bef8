package mesosemu

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The agent's own HTTP endpoint (an agent listens on its port, 5051 by
// default, and the master's state and offers name it): the sandbox files
// of its executors, as the agent's files process serves them
// (src/files/files.cpp). Each emulated agent listens on 127.0.0.1 with a
// port of its own.

// maxRead is the files process's cap on one read: 16 pages.
const maxRead = 16 * 4096

// serveHTTP starts the agent's endpoint; Close stops it.
func (a *Agent) serveHTTP() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	a.port = ln.Addr().(*net.TCPAddr).Port
	mux := http.NewServeMux()
	for _, p := range []string{"/files/read", "/files/read.json"} {
		mux.HandleFunc(p, a.handleFilesRead)
	}
	for _, p := range []string{"/monitor/statistics", "/monitor/statistics.json"} {
		mux.HandleFunc(p, a.handleStatistics)
	}
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.srv.Serve(ln) }()
	return nil
}

// runsKey names an executor's runs: the sandbox of its latest run is
// attached at /frameworks/FW/executors/EX/runs/latest
// (paths::getExecutorVirtualPath), and stays readable after the task
// ends, until the agent's garbage collection (not emulated).
func runsKey(fw, executor string) string { return fw + "\x00" + executor }

// resolve maps a path the files process would accept (the virtual path
// of an executor's latest run, or a sandbox's own directory) to a file.
func (a *Agent) resolve(p string) (string, bool) {
	clean := filepath.Clean("/" + strings.TrimPrefix(p, "/"))
	parts := strings.Split(strings.TrimPrefix(clean, "/"), "/")
	if len(parts) >= 6 && parts[0] == "frameworks" && parts[2] == "executors" && parts[4] == "runs" && parts[5] == "latest" {
		a.c.mu.Lock()
		dir, ok := a.latestRun[runsKey(parts[1], parts[3])]
		a.c.mu.Unlock()
		if !ok {
			return "", false
		}
		return filepath.Join(append([]string{dir}, parts[6:]...)...), true
	}
	root := filepath.Join(a.c.sandboxRoot, "agents", a.id) + string(filepath.Separator)
	if strings.HasPrefix(clean, root) {
		return clean, true
	}
	return "", false
}

// handleFilesRead is GET /files/read?path=P[&offset=N][&length=N]:
// {"data": ..., "offset": N}; offset -1 (the default) answers the file's
// size with no data; a read is capped at 16 pages.
func (a *Agent) handleFilesRead(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := q.Get("path")
	if p == "" {
		plain(w, http.StatusBadRequest, "Expecting 'path=value' in query.\n")
		return
	}
	offset, badOffset := readArg(q, "offset")
	length, badLength := readArg(q, "length")
	if badOffset == "" { // Mesos says the first thing wrong
		badOffset = badLength
	}
	if badOffset != "" {
		plain(w, http.StatusBadRequest, badOffset)
		return
	}
	a.serveRead(w, p, offset, length)
}

// readArg is /files/read's offset or length: -1 when absent; the files
// process's message when it is not a number or below -1.
func readArg(q url.Values, name string) (int64, string) {
	s, ok := q[name]
	if !ok {
		return -1, ""
	}
	n, err := strconv.ParseInt(s[0], 10, 64)
	if err != nil {
		return 0, "Failed to parse " + name + ": " + err.Error() + ".\n"
	}
	if n < -1 {
		return 0, "Negative " + name + " provided: " + s[0] + ".\n"
	}
	return n, ""
}

// serveRead answers a read of path from offset for length bytes.
func (a *Agent) serveRead(w http.ResponseWriter, p string, offset, length int64) {
	from := offset
	if offset == -1 {
		from, length = 0, 0
	}
	file, ok := a.resolve(p)
	st, err := os.Stat(file)
	if !ok || errors.Is(err, os.ErrNotExist) {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if err != nil {
		plain(w, http.StatusInternalServerError, "Failed to open file at '"+file+"': "+err.Error()+".\n")
		return
	}
	if st.IsDir() {
		plain(w, http.StatusBadRequest, "Cannot read a directory.\n")
		return
	}
	f, err := os.Open(file)
	if err != nil {
		plain(w, http.StatusInternalServerError, "Failed to open file at '"+file+"': "+err.Error()+".\n")
		return
	}
	defer f.Close()
	size := st.Size()
	data := ""
	if from < size && length != 0 {
		n := size - from
		if length > 0 {
			n = min(n, length)
		}
		buf := make([]byte, min(n, maxRead))
		k, err := f.ReadAt(buf, from)
		if err != nil && !errors.Is(err, io.EOF) {
			plain(w, http.StatusInternalServerError, "Failed to read file at '"+file+"': "+err.Error()+".\n")
			return
		}
		data = string(buf[:k])
	}
	answer := offset
	if offset == -1 {
		answer = size
	}
	writeJSON(w, map[string]any{"data": data, "offset": answer})
}

func plain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

package jenkins

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/jenkins-mesos/jenkins-mesos/integration/jenkinsemu"
	"github.com/stretchr/testify/require"
)

// freestyleMesos is a freestyle job's config.xml tied to label mesos.
const freestyleMesos = "<project><assignedNode>mesos</assignedNode><canRoam>false</canRoam><builders/></project>"

// post POSTs body (XML when there is one) to path and gives the status.
func post(t *testing.T, c *Client, path, body string) int {
	t.Helper()
	r, _, err := c.doBody(context.Background(), "POST", path, "application/xml", body)
	require.NoError(t, err)
	return r.StatusCode
}

// doBody is do with a raw body (tests create jobs with it).
func (c *Client) doBody(ctx context.Context, method, path, contentType, body string) (*http.Response, []byte, error) {
	u := *c.base
	p, q, _ := strings.Cut(path, "?")
	u.Path = strings.TrimSuffix(c.base.Path, "/") + "/" + p
	u.RawQuery = q
	req, err := http.NewRequestWithContext(ctx, method, u.String(), strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.SetBasicAuth(c.cfg.User, c.cfg.Token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// connectedAgent creates an inbound node labelled mesos through the
// adapter and runs the emulator's stand-in agent on it until the test ends.
func connectedAgent(t *testing.T, j *jenkinsemu.Jenkins, c *Client, name string) {
	t.Helper()
	secret, err := c.CreateNode(context.Background(), NodeSpec{Name: name, Description: "jenkins-mesos agent of test (template mesos)", Labels: "mesos", Executors: 1, RemoteFS: "/tmp", WebSocket: true})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- jenkinsemu.RunAgent(ctx, jenkinsemu.AgentOptions{URL: j.URL(), Secret: secret, Name: name, WorkDir: t.TempDir(), WebSocket: true})
	}()
	t.Cleanup(func() { cancel(); <-done })
}

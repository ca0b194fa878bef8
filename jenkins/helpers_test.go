package jenkins

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

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

package jenkins

import (
	"context"
	"io"
	"net/http"
	"strings"
)

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

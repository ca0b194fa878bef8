package jenkins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bndr/gojenkins"
)

// Config is how to reach Jenkins.
type Config struct {
	URL  string // root URL, e.g. http://jenkins:8080/
	User string
	// Token is the user's API token (Basic auth with it needs no crumb),
	// or the user's password: POSTs then carry a CSRF crumb, fetched
	// when Jenkins asks for one and sent with the session cookie it is
	// bound to.
	Token string
	// Timeout bounds each request (default 10 s).
	Timeout time.Duration
	// DescriptionPrefix marks the framework's own nodes; only nodes whose
	// description starts with it are listed, retired or deleted.
	DescriptionPrefix string
}

// Client is the Jenkins REST adapter.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client

	mu         sync.Mutex
	crumbField string // e.g. Jenkins-Crumb; "" until Jenkins asked for a crumb
	crumb      string
}

// noCrumb is CrumbFilter's refusal of a POST without a valid crumb.
const noCrumb = "No valid crumb was included in the request"

// ErrNotFound is a 404 from Jenkins.
var ErrNotFound = errors.New("jenkins: not found")

// StatusError is an unexpected HTTP answer.
type StatusError struct {
	Method, Path string
	Code         int
	Message      string // X-Error or a short body excerpt
}

func (e *StatusError) Error() string {
	msg := e.Message
	if msg != "" {
		msg = ": " + msg
	}
	return fmt.Sprintf("jenkins: %s %s: %d %s%s", e.Method, e.Path, e.Code, http.StatusText(e.Code), msg)
}

// CrumbRefused tells whether Jenkins refused a POST for want of a valid
// CSRF crumb (CrumbFilter's 403), not for a missing permission.
func (e *StatusError) CrumbRefused() bool {
	return e.Code == http.StatusForbidden && strings.Contains(e.Message, noCrumb)
}

// Temporary tells whether retrying later may help (5xx, 429).
func (e *StatusError) Temporary() bool { return e.Code >= 500 || e.Code == http.StatusTooManyRequests }

// New checks the configuration; it does not contact Jenkins.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(cfg.URL, "/") + "/")
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("jenkins: url %q: expected http(s)://host[:port]/[path]", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	// The jar keeps Jenkins' session cookie: a crumb is valid only in the
	// session it was issued in (SECURITY-626).
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, base: u,
		http: &http.Client{Timeout: cfg.Timeout, Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// Ping reads the controller's root object through gojenkins (a plain
// read it gets right) and returns the Jenkins version.
func (c *Client) Ping(ctx context.Context) (string, error) {
	// gojenkins decodes whatever comes back: a refusal (401, 403) would
	// read as "invalid character '<'". Ask once plainly for the status.
	var root struct{}
	if err := c.getJSON(ctx, "api/json", url.Values{"tree": {"mode"}}, &root); err != nil {
		return "", err
	}
	j := gojenkins.CreateJenkins(&http.Client{Timeout: c.cfg.Timeout, Transport: headerTransport{}}, c.base.String(), c.cfg.User, c.cfg.Token)
	if _, err := j.Init(ctx); err != nil {
		return "", fmt.Errorf("jenkins: %s: %w", c.base.Redacted(), err)
	}
	return j.Version, nil
}

// QuietingDown tells whether Jenkins prepares for shutdown (it then starts
// no queued build), and its reason if one was given.
func (c *Client) QuietingDown(ctx context.Context) (bool, string, error) {
	var root struct {
		QuietingDown    bool    `json:"quietingDown"`
		QuietDownReason *string `json:"quietDownReason"`
	}
	if err := c.getJSON(ctx, "api/json", url.Values{"tree": {"quietingDown,quietDownReason"}}, &root); err != nil {
		return false, "", err
	}
	reason := ""
	if root.QuietDownReason != nil {
		reason = *root.QuietDownReason
	}
	return root.QuietingDown, reason, nil
}

// headerTransport adds Accept-Language: en, so `why` texts come in the
// language the parser reads.
type headerTransport struct{}

func (headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept-Language", "en")
	return http.DefaultTransport.RoundTrip(r)
}

// do sends one request. A POST that Jenkins refuses for want of a CSRF
// crumb (Basic auth with a password rather than an API token) is sent
// once more with a fresh crumb.
func (c *Client) do(ctx context.Context, method, path string, form url.Values, query url.Values) (*http.Response, []byte, error) {
	resp, b, err := c.send(ctx, method, path, form, query)
	if err != nil || method == http.MethodGet || resp.StatusCode != http.StatusForbidden || !bytes.Contains(b, []byte(noCrumb)) {
		return resp, b, err
	}
	if cerr := c.fetchCrumb(ctx); cerr != nil {
		return resp, b, nil // the refusal stands, with its message
	}
	return c.send(ctx, method, path, form, query)
}

// fetchCrumb asks the crumb issuer for a crumb in the client's session.
func (c *Client) fetchCrumb(ctx context.Context) error {
	var issued struct {
		Crumb string `json:"crumb"`
		Field string `json:"crumbRequestField"`
	}
	if err := c.getJSON(ctx, "crumbIssuer/api/json", nil, &issued); err != nil {
		return err
	}
	if issued.Crumb == "" || issued.Field == "" {
		return fmt.Errorf("jenkins: GET crumbIssuer/api/json: no crumb in the answer")
	}
	c.mu.Lock()
	c.crumbField, c.crumb = issued.Field, issued.Crumb
	c.mu.Unlock()
	return nil
}

func (c *Client) send(ctx context.Context, method, path string, form url.Values, query url.Values) (*http.Response, []byte, error) {
	u := *c.base
	u.Path = strings.TrimSuffix(c.base.Path, "/") + "/" + strings.TrimPrefix(path, "/")
	if query != nil {
		u.RawQuery = query.Encode()
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, nil, fmt.Errorf("jenkins: %s %s: %w", method, path, err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept-Language", "en")
	if c.cfg.User != "" || c.cfg.Token != "" {
		req.SetBasicAuth(c.cfg.User, c.cfg.Token)
	}
	if method != http.MethodGet {
		c.mu.Lock()
		if c.crumbField != "" {
			req.Header.Set(c.crumbField, c.crumb)
		}
		c.mu.Unlock()
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error carries the URL, never the credentials (they are in a header).
		return nil, nil, fmt.Errorf("jenkins: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("jenkins: %s %s: reading the answer: %w", method, path, err)
	}
	return resp, b, nil
}

func statusError(method, path string, resp *http.Response, body []byte) error {
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %s %s", ErrNotFound, method, path)
	}
	msg := resp.Header.Get("X-Error")
	if msg == "" && bytes.Contains(body, []byte(noCrumb)) {
		msg = noCrumb // in an HTML error page
	}
	if msg == "" && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		msg = strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200]
		}
	}
	return &StatusError{Method: method, Path: path, Code: resp.StatusCode, Message: msg}
}

func (c *Client) getJSON(ctx context.Context, path string, query url.Values, v any) error {
	resp, body, err := c.do(ctx, http.MethodGet, path, nil, query)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return statusError("GET", path, resp, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("jenkins: GET %s: %w", path, err)
	}
	return nil
}

// URL is the controller's root URL with a trailing slash.
func (c *Client) URL() string { return c.base.String() }

package jenkins

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// NodeSpec is an inbound agent node to create.
type NodeSpec struct {
	Name        string
	Description string // must start with Config.DescriptionPrefix
	Labels      string // space-separated label set
	Executors   int
	RemoteFS    string
	WebSocket   bool
}

// Node is one of the framework's nodes as Jenkins lists it.
type Node struct {
	Name               string
	Description        string
	Online             bool
	TemporarilyOffline bool
	Executors          int
	Busy               int      // executors running something
	Labels             []string // its label atoms (assignedLabels; the node's own name included)
	// Builds are the URLs of what its executors run now (currentExecutable,
	// which Jenkins shows only to those with Item/READ on it).
	Builds []string
}

// CreateNode creates an inbound (JNLP) agent node, EXCLUSIVE, with the
// spec's executors, labels and remote FS (ComputerSet.doDoCreateItem,
// answered with a 302), then reads its secret from jenkins-agent.jnlp.
func (c *Client) CreateNode(ctx context.Context, spec NodeSpec) (secret string, err error) {
	if spec.Executors <= 0 {
		spec.Executors = 1
	}
	form := map[string]any{
		"name":              spec.Name,
		"nodeDescription":   spec.Description,
		"numExecutors":      fmt.Sprint(spec.Executors),
		"remoteFS":          spec.RemoteFS,
		"labelString":       spec.Labels,
		"mode":              "EXCLUSIVE",
		"retentionStrategy": map[string]any{"stapler-class": "hudson.slaves.RetentionStrategy$Always"},
		"nodeProperties":    map[string]any{"stapler-class-bag": "true"},
		"launcher": map[string]any{"stapler-class": "hudson.slaves.JNLPLauncher", "webSocket": spec.WebSocket,
			"workDirSettings": map[string]any{"disabled": false, "internalDir": "remoting", "failIfWorkDirIsMissing": false}},
	}
	js, err := json.Marshal(form)
	if err != nil {
		return "", fmt.Errorf("jenkins: create node %q: %w", spec.Name, err)
	}
	path := "computer/doCreateItem"
	resp, body, err := c.do(ctx, http.MethodPost, path, url.Values{"name": {spec.Name}, "type": {"hudson.slaves.DumbSlave"}, "json": {string(js)}}, nil)
	if err != nil {
		return "", fmt.Errorf("jenkins: create node %q: %w", spec.Name, err)
	}
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("jenkins: create node %q: %w", spec.Name, statusError("POST", path, resp, body))
	}
	return c.Secret(ctx, spec.Name)
}

// Secret reads a node's inbound agent secret: the first <argument> of
// /computer/NAME/jenkins-agent.jnlp.
func (c *Client) Secret(ctx context.Context, name string) (string, error) {
	path := "computer/" + url.PathEscape(name) + "/jenkins-agent.jnlp"
	resp, body, err := c.do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return "", fmt.Errorf("jenkins: secret of %q: %w", name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("jenkins: secret of %q: %w", name, statusError("GET", path, resp, body))
	}
	var jnlp struct {
		Args []string `xml:"application-desc>argument"`
	}
	if err := xml.Unmarshal(body, &jnlp); err != nil || len(jnlp.Args) == 0 {
		return "", fmt.Errorf("jenkins: secret of %q: jenkins-agent.jnlp has no <argument> (%v)", name, err)
	}
	return jnlp.Args[0], nil
}

// RetireNode marks a node temporarily offline with a message, so that no
// new build lands on it; the running one finishes.
func (c *Client) RetireNode(ctx context.Context, name, message string) error {
	path := "computer/" + url.PathEscape(name) + "/changeOfflineCause"
	resp, body, err := c.do(ctx, http.MethodPost, path, url.Values{"offlineMessage": {message}}, nil)
	if err != nil {
		return fmt.Errorf("jenkins: retire node %q: %w", name, err)
	}
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jenkins: retire node %q: %w", name, statusError("POST", path, resp, body))
	}
	return nil
}

// DeleteNode deletes a node; one that is already gone counts as deleted.
func (c *Client) DeleteNode(ctx context.Context, name string) error {
	path := "computer/" + url.PathEscape(name) + "/doDelete"
	resp, body, err := c.do(ctx, http.MethodPost, path, url.Values{}, nil)
	if err != nil {
		return fmt.Errorf("jenkins: delete node %q: %w", name, err)
	}
	switch resp.StatusCode {
	case http.StatusFound, http.StatusOK, http.StatusNotFound:
		return nil
	}
	return fmt.Errorf("jenkins: delete node %q: %w", name, statusError("POST", path, resp, body))
}

const nodesTree = "computer[displayName,description,offline,temporarilyOffline,numExecutors,executors[idle,currentExecutable[url]],assignedLabels[name]]"

// Nodes lists the framework's own nodes (description prefix) in one
// request.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	var set struct {
		Computer []struct {
			DisplayName        string `json:"displayName"`
			Description        string `json:"description"`
			Offline            bool   `json:"offline"`
			TemporarilyOffline bool   `json:"temporarilyOffline"`
			NumExecutors       int    `json:"numExecutors"`
			Executors          []struct {
				Idle              bool `json:"idle"`
				CurrentExecutable *struct {
					URL string `json:"url"`
				} `json:"currentExecutable"`
			} `json:"executors"`
			AssignedLabels []struct {
				Name string `json:"name"`
			} `json:"assignedLabels"`
		} `json:"computer"`
	}
	if err := c.getJSON(ctx, "computer/api/json", url.Values{"tree": {nodesTree}}, &set); err != nil {
		return nil, err
	}
	var out []Node
	for _, comp := range set.Computer {
		if c.cfg.DescriptionPrefix == "" || !strings.HasPrefix(comp.Description, c.cfg.DescriptionPrefix) {
			continue
		}
		n := Node{Name: comp.DisplayName, Description: comp.Description, Online: !comp.Offline || comp.TemporarilyOffline, // offline says nothing of the channel once temporarily offline
			TemporarilyOffline: comp.TemporarilyOffline, Executors: comp.NumExecutors}
		for _, e := range comp.Executors {
			if !e.Idle {
				n.Busy++
			}
			if x := e.CurrentExecutable; x != nil && x.URL != "" {
				n.Builds = append(n.Builds, x.URL)
			}
		}
		for _, l := range comp.AssignedLabels {
			n.Labels = append(n.Labels, l.Name)
		}
		out = append(out, n)
	}
	return out, nil
}

// AnchorNode is the name of the node EnsureAnchor keeps.
const AnchorNode = "jenkins-mesos-anchor"

// EnsureAnchor keeps one never-connected EXCLUSIVE node in Jenkins. With
// no agent at all Jenkins explains every buildable item with the
// label-less "Waiting for next available executor", which hides what a
// Pipeline node block waits for; with one node present the reason names
// the label ("There are no nodes with the label ‘mesos&&linux’"). The
// anchor takes no build (its label is its own) and is not one of the
// framework's agent nodes.
func (c *Client) EnsureAnchor(ctx context.Context) error {
	resp, body, err := c.do(ctx, http.MethodGet, "computer/"+AnchorNode+"/api/json", nil, url.Values{"tree": {"displayName"}})
	if err == nil && resp.StatusCode == http.StatusOK && strings.Contains(string(body), AnchorNode) {
		return nil
	}
	_, err = c.CreateNode(ctx, NodeSpec{Name: AnchorNode, Labels: AnchorNode, Executors: 1, RemoteFS: "/nonexistent",
		Description: "jenkins-mesos anchor: keeps queue reasons label-specific; never connects, takes no build"})
	if err != nil && strings.Contains(err.Error(), "already exists") {
		return nil
	}
	return err
}

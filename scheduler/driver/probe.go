package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Probe finds the leading master as Run would (ZooKeeper or
// /master/redirect) and reads its /version, changing nothing: no
// subscription, so a running instance is not failed over. It returns the
// leader's URL and the Mesos version it reports.
func Probe(ctx context.Context, cfg Config) (leader, version string, err error) {
	d := New(cfg, nil, nil)
	if leader, err = d.findLeader(ctx); err != nil {
		return "", "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, leader+"/version", nil)
	if err != nil {
		return leader, "", err
	}
	resp, err := (&http.Client{Timeout: callTimeout}).Do(req)
	if err != nil {
		return leader, "", fmt.Errorf("mesos: %s: %w", leader, err)
	}
	defer resp.Body.Close()
	var v struct {
		Version string `json:"version"`
	}
	if resp.StatusCode != http.StatusOK {
		return leader, "", fmt.Errorf("mesos: GET %s/version: %s", leader, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.Version == "" {
		return leader, "", fmt.Errorf("mesos: %s/version does not look like a Mesos master's (%v)", leader, err)
	}
	return leader, v.Version, nil
}

package driver

import (
	"fmt"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/sirupsen/logrus"
)

// BenchmarkNoteAgents10k: what remembering the agents' endpoints adds to
// an OFFERS event of 10,000 offers (on the hot path, beside decoding).
func BenchmarkNoteAgents10k(b *testing.B) {
	d := New(Config{Log: logrus.New()}, nil, nil)
	offers := make([]mesos.Offer, 10000)
	for i := range offers {
		h, ip := fmt.Sprintf("agent%d", i), "10.0.0.1"
		offers[i] = mesos.Offer{AgentID: mesos.AgentID{Value: fmt.Sprintf("20261202-S%d", i)}, URL: &mesos.URL{Scheme: "http", Address: mesos.Address{Hostname: &h, IP: &ip, Port: 5051}}}
	}
	b.ResetTimer()
	for range b.N {
		d.noteAgents(offers)
	}
}

package mesosemu

import (
	"testing"

	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

func FuzzParseResources(f *testing.F) {
	for _, s := range []string{DefaultAgentResources, "cpus(jenkins):2;mem:1", "disks:{a,b}", "ports:[1-2,5-9]", "cpus:-1", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		rs, err := ParseResources(spec)
		if err != nil {
			return
		}
		for _, r := range rs {
			if err := r.Validate(); err != nil {
				t.Fatalf("ParseResources(%q) accepted an invalid resource %v: %v", spec, r, err)
			}
		}
	})
}

func FuzzDecodeJSONCall(f *testing.F) {
	f.Add([]byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`))
	f.Add([]byte(`{"type":"ACCEPT","framework_id":{"value":"x"},"accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t"}]}}]}}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var call scheduler.Call
		status, msg := decodeJSONCall(body, &call)
		if status != 0 && msg == "" {
			t.Fatalf("status %d without a message", status)
		}
		if status == 0 {
			_ = validateCall(&call)
		}
	})
}

func FuzzParseZK(f *testing.F) {
	f.Add("zk://127.0.0.1:2181/mesos")
	f.Add("zk://a:1,b:2/x/y/")
	f.Fuzz(func(t *testing.T, url string) {
		servers, path, err := ParseZK(url)
		if err == nil && (len(servers) == 0 || path == "" || path[0] != '/') {
			t.Fatalf("ParseZK(%q) = %v %q without error", url, servers, path)
		}
	})
}

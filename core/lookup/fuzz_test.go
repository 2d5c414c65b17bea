package lookup

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bodies, with and without the v1 header and
// with any status, to the response decoder: it must never panic, and a
// non-2xx status must always give an *HTTPError.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"nsqd-a.stats.json", "lookupd.lookup-orders.json", "lookupd.nodes.json", "lookupd.lookup-missing.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(200, true, b)
		f.Add(200, false, legacy(route{status: 200, header: http.Header{}, body: b}).body)
	}
	f.Add(403, true, []byte(`{"message": "TLS_REQUIRED", "https_port": 4152}`))
	f.Add(200, false, []byte(`{"status_code":404,"status_txt":"TOPIC_NOT_FOUND","data":null}`))
	f.Add(500, false, []byte("NOK - boom"))
	f.Add(200, false, []byte(`{"status_code":200,"data":"x"}`))
	c := NewClient(Options{})
	defer c.Close()
	f.Fuzz(func(t *testing.T, status int, v1 bool, body []byte) {
		h := http.Header{}
		if v1 {
			h.Set("X-NSQ-Content-Type", v1ContentType)
		}
		rep := &reply{status: status, header: h, body: body}
		req := request{method: "GET", addr: "127.0.0.1:4151", path: "/stats"}
		for _, out := range []any{nil, new(NodeStats), new(LookupResponse), new(struct {
			Producers []Node `json:"producers"`
		})} {
			err := c.decode(req, rep, out)
			if status < 200 || status > 299 {
				if _, ok := err.(*HTTPError); !ok {
					t.Fatalf("status %d: %v", status, err)
				}
			}
		}
	})
}

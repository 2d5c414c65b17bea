package cluster_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/lookup"
	"github.com/nsqkit/nsqkit/core/top/cluster"
)

// TestExternalCluster polls a cluster you run yourself (e.g. the original
// NSQ 1.3.0 binaries) and prints what WriteText makes of it:
//
//	NSQTOP_LOOKUPD=127.0.0.1:49161 go test -run External -v ./core/top/cluster/
//
// (NSQTOP_NSQD=a:4151,b:4151 for nsqd addresses instead). Skipped
// without either variable.
func TestExternalCluster(t *testing.T) {
	var src cluster.Source
	if v := os.Getenv("NSQTOP_LOOKUPD"); v != "" {
		src.LookupdHTTPAddrs = strings.Split(v, ",")
	}
	if v := os.Getenv("NSQTOP_NSQD"); v != "" {
		src.NSQDHTTPAddrs = strings.Split(v, ",")
	}
	if len(src.LookupdHTTPAddrs)+len(src.NSQDHTTPAddrs) == 0 {
		t.Skip("set NSQTOP_LOOKUPD or NSQTOP_NSQD to poll a running cluster")
	}
	client := lookup.NewClient(lookup.Options{})
	defer client.Close()
	o := cluster.NewOptions()
	o.Source, o.Client, o.Interval = src, client, time.Second
	p := cluster.NewPoller(o)
	ctx := context.Background()
	p.Poll(ctx)
	time.Sleep(time.Second) // a real interval between the two polls
	st := p.Poll(ctx)
	var b strings.Builder
	if err := cluster.WriteText(&b, st); err != nil {
		t.Fatal(err)
	}
	t.Logf("WriteText:\n%s", b.String())
	for _, ld := range p.PollLookupds(ctx) {
		t.Logf("lookupd %s err=%q", ld.Addr, ld.Err)
		for _, tp := range ld.Topics {
			t.Logf("  topic %s channels %v producers %v", tp.Name, tp.Channels, tp.Producers)
		}
		for _, n := range ld.Producers {
			t.Logf("  node %s topics %v tombstones %v", n.HTTPAddress(), n.Topics, n.Tombstones)
		}
	}
	if st.Cluster.NodesUp == 0 {
		t.Errorf("no node answered: %+v", st.Nodes)
	}
}

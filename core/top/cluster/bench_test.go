package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/lookup"
	"github.com/nsqkit/nsqkit/core/top/cluster"
	"github.com/nsqkit/nsqkit/core/top/cluster/clustertest"
)

// BenchmarkPoll is the load the lead measures: 2 nsqd with 50 topics of
// 3 channels each (plus the fixture's), polled with clients and memory.
// It includes the fake daemons' own work (they run in this process).
func BenchmarkPoll(b *testing.B) {
	c := clustertest.Start(b)
	client := lookup.NewClient(lookup.Options{})
	defer client.Close()
	ctx := context.Background()
	for _, n := range []string{c.NSQDA, c.NSQDB} {
		for i := range 50 {
			topic := fmt.Sprintf("topic%02d", i)
			if err := client.CreateTopic(ctx, n, topic); err != nil {
				b.Fatal(err)
			}
			for j := range 3 {
				if err := client.CreateChannel(ctx, n, topic, fmt.Sprintf("ch%d", j)); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	c.SetTraffic(clustertest.Traffic{Published: 100, Consumed: 90})
	clock := clustertest.NewClock()
	o := cluster.NewOptions()
	o.Source, o.Client, o.Now = c.Source(), client, clock.Now
	p := cluster.NewPoller(o)
	p.Poll(ctx)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.Advance(1)
		clock.Add(time.Second)
		st := p.Poll(ctx)
		if len(st.Topics) != 54 {
			b.Fatalf("%d topics", len(st.Topics))
		}
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/logger"
)

// The demo's cluster: lookupd HTTP and the two nsqd.
const (
	demoLookupd = "127.0.0.1:4161"
	demoNSQDA   = "127.0.0.1:4150"
	demoNSQDB   = "127.0.0.1:4250"
	demoHTTPA   = "127.0.0.1:4151"
)

// flow is one topic's synthetic publishing: rate messages a second in
// batches of batch, spread over both nsqd.
type flow struct {
	topic string
	rate  int
	batch int
}

// sink is one consumer: a channel of a topic handled at most perSec
// messages a second (0: as fast as it comes).
type sink struct {
	topic, channel string
	perSec         int
	maxInFlight    int
}

var (
	flows = []flow{
		{"orders", 300, 10},
		{"clicks", 2000, 100},
		{"events", 40, 1},
		{"audit_log", 100, 10},
	}
	sinks = []sink{
		{"orders", "billing", 0, 50},
		{"orders", "shipping", 250, 20}, // a bit slower than the flow: falls behind
		{"orders", "analytics#ephemeral", 0, 50},
		{"clicks", "analytics", 0, 200},
		{"clicks", "archive", 0, 500},
		{"events", "alerts", 0, 10},
		{"audit_log", "warehouse", 150, 20}, // keeps up, with a little slack
	}
	// channels created but never consumed (one of them paused): depth
	// only grows
	idle = [][2]string{{"events", "replay"}, {"clicks", "backfill"}}
)

// traffic is the demo's producers and consumers.
type traffic struct {
	wg        sync.WaitGroup
	producer  *client.Producer
	consumers []*client.Consumer
}

// startTraffic creates the topics and channels (so lookupd knows them at
// once), then starts the producers and consumers; they run until ctx is
// done. Their logs go to logw.
func startTraffic(ctx context.Context, logw io.Writer) (*traffic, error) {
	lg := logger.New(logw, "[demo] ", logger.Warn)
	if err := waitHTTP(ctx, demoHTTPA); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, "127.0.0.1:4251"); err != nil {
		return nil, err
	}
	for _, f := range flows {
		if err := post(ctx, demoHTTPA, "/topic/create?topic="+f.topic); err != nil {
			return nil, err
		}
	}
	for _, ic := range idle {
		if err := post(ctx, demoHTTPA, "/channel/create?topic="+ic[0]+"&channel="+ic[1]); err != nil {
			return nil, err
		}
	}
	if err := post(ctx, demoHTTPA, "/channel/pause?topic=events&channel=replay"); err != nil {
		return nil, err
	}

	cfg := client.NewConfig()
	cfg.Logger = lg
	cfg.PublishRoundRobin = true
	p, err := client.NewProducer(cfg, demoNSQDA, demoNSQDB)
	if err != nil {
		return nil, err
	}
	t := &traffic{producer: p}
	for _, f := range flows {
		t.wg.Add(1)
		go t.publish(ctx, f)
	}
	for _, s := range sinks {
		c, err := t.consume(s, lg)
		if err != nil {
			t.stopConsumers()
			p.Stop()
			return nil, err
		}
		t.consumers = append(t.consumers, c)
	}
	return t, nil
}

// publish sends f's messages until ctx is done.
func (t *traffic) publish(ctx context.Context, f flow) {
	defer t.wg.Done()
	every := time.Second * time.Duration(f.batch) / time.Duration(f.rate)
	tick := time.NewTicker(every)
	defer tick.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		bodies := make([][]byte, f.batch)
		for i := range bodies {
			n++
			bodies[i] = []byte(f.topic + "-" + strconv.Itoa(n))
		}
		_ = t.producer.MultiPublishAsync(f.topic, bodies, nil)
	}
}

// consume starts s's consumer through lookupd.
func (t *traffic) consume(s sink, lg *logger.Logger) (*client.Consumer, error) {
	cfg := client.NewConfig()
	cfg.Logger = lg
	cfg.MaxInFlight = s.maxInFlight
	cfg.UserAgent = "demo/" + s.channel
	cfg.LookupdPollInterval = 5 * time.Second
	c, err := client.NewConsumer(s.topic, s.channel, cfg)
	if err != nil {
		return nil, err
	}
	var pace <-chan time.Time
	if s.perSec > 0 {
		pace = time.NewTicker(time.Second / time.Duration(s.perSec)).C
	}
	c.AddHandler(client.HandlerFunc(func(*client.Message) error {
		if pace != nil {
			<-pace
		}
		return nil
	}))
	if err := c.ConnectToNSQLookupd(demoLookupd); err != nil {
		return nil, err
	}
	return c, nil
}

func (t *traffic) stopConsumers() {
	for _, c := range t.consumers {
		c.Stop()
	}
	for _, c := range t.consumers {
		<-c.StopChan
	}
}

// wait stops everything after ctx is done.
func (t *traffic) wait() {
	t.wg.Wait()
	t.stopConsumers()
	t.producer.Stop()
}

func post(ctx context.Context, addr, path string) error {
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("POST %s%s: %s", addr, path, resp.Status)
	}
	return nil
}

// waitHTTP waits up to 10 s for a daemon's /ping.
func waitHTTP(ctx context.Context, addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/ping", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer /ping within 10s: %v", addr, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

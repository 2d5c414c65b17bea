package pipe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/client"
	"github.com/nsqkit/nsqkit/core/internal/testdaemon"
	"github.com/nsqkit/nsqkit/core/logger"
)

func pubQuietConfig() *client.Config {
	cfg := client.NewConfig()
	cfg.Logger = logger.Discard()
	return cfg
}

// pubConsumeAll reads topic/channel until want messages arrived (or 20 s).
func pubConsumeAll(t *testing.T, addr, topic, channel string, want int) map[string]int {
	t.Helper()
	cfg := pubQuietConfig()
	cfg.MaxInFlight = 1000
	c, err := client.NewConsumer(topic, channel, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	n := 0
	all := make(chan struct{})
	c.AddHandler(client.HandlerFunc(func(m *client.Message) error {
		mu.Lock()
		defer mu.Unlock()
		got[string(m.Body)]++
		if n++; n == want {
			close(all)
		}
		return nil
	}))
	if err := c.ConnectToNSQD(addr); err != nil {
		t.Fatal(err)
	}
	select {
	case <-all:
	case <-time.After(20 * time.Second):
		mu.Lock()
		t.Fatalf("%d of %d messages arrived", n, want)
	}
	c.Stop()
	<-c.StopChan
	return got
}

// Records of every shape reach a real nsqd through core/client, once each,
// byte for byte.
func TestPublishToNSQD(t *testing.T) {
	n := testdaemon.NSQD(t)
	addr := n.TCPAddr().String()
	// Make the channel first, so it receives every message.
	cfg := pubQuietConfig()
	p, err := client.NewProducer(cfg, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()

	var in strings.Builder
	want := map[string]int{}
	big := strings.Repeat("b", 200<<10)
	empty := uint64(0)
	for i := range 20000 {
		rec := fmt.Sprintf("record %d", i)
		switch {
		case i >= 3000 && i < 3030:
			rec = big + rec // 30 records of 200 KiB: over the 5 MiB body limit together
		case i%1000 == 8:
			in.WriteString("\r\n") // an empty record
			empty++
		}
		want[rec]++
		in.WriteString(rec)
		if i < 19999 {
			in.WriteString("\r\n")
		}
	}
	pub := pubMust(t, PublishOptions{Topic: "e2e", Delimiter: []byte("\r\n"), BatchSize: 300, Targets: []PublishTarget{p}})
	consumed := make(chan map[string]int)
	go func() { consumed <- pubConsumeAll(t, addr, "e2e", "ch", 20000) }()
	// The consumer's channel must exist before the first message.
	pubWaitFor(t, "the channel", func() bool {
		tp, err := n.GetExistingTopic("e2e")
		if err != nil {
			return false
		}
		_, err = tp.GetExistingChannel("ch")
		return err == nil
	})
	st, err := pub.Run(context.Background(), &splitChunkedReader{data: []byte(in.String()), sizes: []int{65536, 7, 4096}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Published != 20000 || st.Empty != empty || st.Errors() != 0 {
		t.Errorf("stats %+v", st)
	}
	got := <-consumed
	if len(got) != len(want) {
		t.Fatalf("%d distinct messages, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("message %.40q arrived %d times", k, got[k])
		}
	}
}

// An nsqd that is not there: every record is reported not acknowledged,
// within publish_timeout.
func TestPublishNoNSQD(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := pubQuietConfig()
	cfg.PublishTimeout = 200 * time.Millisecond
	p, err := client.NewProducer(cfg, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	in, _ := pubLines(1000)
	pub := pubMust(t, PublishOptions{Topic: "e2e", BatchSize: 100, Targets: []PublishTarget{p}})
	st, err := pub.Run(context.Background(), strings.NewReader(in))
	if !errors.Is(err, client.ErrPublishTimeout) {
		t.Fatalf("err %v", err)
	}
	if st.Published != 0 || st.NotAcked+st.Unsent != 1000 || st.Read != 1000 {
		t.Errorf("stats %+v", st)
	}
}

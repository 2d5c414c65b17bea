package nsqd

import (
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
)

// Tests driving the broker with the official Go client, go-nsq v1.1.0.

// gnLog collects go-nsq's log lines and prints them if the test fails.
func gnLog(t testing.TB) *log.Logger {
	tl := &testLog{t: t}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("go-nsq log:\n%s", tl.String())
		}
	})
	return log.New(tl, "", log.Lmicroseconds)
}

func gnProducer(t testing.TB, addr string, cfg *nsq.Config) *nsq.Producer {
	t.Helper()
	p, err := nsq.NewProducer(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.SetLogger(gnLog(t), nsq.LogLevelInfo)
	t.Cleanup(p.Stop)
	return p
}

// gnConsumer makes a consumer with handler h, stopped at the end of the test.
func gnConsumer(t testing.TB, topic, channel string, cfg *nsq.Config, h nsq.Handler) *nsq.Consumer {
	t.Helper()
	c, err := nsq.NewConsumer(topic, channel, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetLogger(gnLog(t), nsq.LogLevelInfo)
	c.AddHandler(h)
	t.Cleanup(func() {
		c.Stop()
		select {
		case <-c.StopChan:
		case <-time.After(10 * time.Second):
			t.Errorf("consumer %s/%s did not stop", topic, channel)
		}
	})
	return c
}

// gnStartConsumer is gnConsumer connected to addr.
func gnStartConsumer(t testing.TB, addr, topic, channel string, cfg *nsq.Config, h nsq.Handler) *nsq.Consumer {
	t.Helper()
	c := gnConsumer(t, topic, channel, cfg, h)
	if err := c.ConnectToNSQD(addr); err != nil {
		t.Fatalf("ConnectToNSQD: %v", err)
	}
	return c
}

// gnDelivery is one handler invocation.
type gnDelivery struct {
	id       nsq.MessageID
	body     string
	attempts uint16
	at       time.Time
}

// gnRecorder records deliveries; its handler returns nil (auto FIN).
type gnRecorder struct {
	mu     sync.Mutex
	all    []gnDelivery
	counts map[string]int
}

func gnNewRecorder() *gnRecorder { return &gnRecorder{counts: map[string]int{}} }

func (r *gnRecorder) record(m *nsq.Message) gnDelivery {
	d := gnDelivery{id: m.ID, body: string(m.Body), attempts: m.Attempts, at: time.Now()}
	r.mu.Lock()
	r.all = append(r.all, d)
	r.counts[d.body]++
	r.mu.Unlock()
	return d
}

func (r *gnRecorder) HandleMessage(m *nsq.Message) error {
	r.record(m)
	return nil
}

func (r *gnRecorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.counts)
}

func (r *gnRecorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.all)
}

func (r *gnRecorder) deliveries() []gnDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]gnDelivery(nil), r.all...)
}

// exactlyOnce checks that each body in want was delivered exactly once and
// nothing else was.
func (r *gnRecorder) exactlyOnce(t testing.TB, want []string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	bad := 0
	for _, b := range want {
		if n := r.counts[b]; n != 1 && bad < 10 {
			t.Errorf("message %q delivered %d times", b, n)
			bad++
		}
	}
	if len(r.counts) != len(want) || len(r.all) != len(want) {
		t.Errorf("%d deliveries of %d distinct gnBodies, want %d", len(r.all), len(r.counts), len(want))
	}
}

func gnBodies(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

func gnBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// gnWaitReady waits until the channel has one client with RDY rdy.
func gnWaitReady(t testing.TB, n *NSQD, topic, channel string, rdy int64) *client {
	t.Helper()
	var cl *client
	eventually(t, 5*time.Second, fmt.Sprintf("a client with RDY %d on %s/%s", rdy, topic, channel), func() bool {
		ch, err := n.GetTopic(topic).GetExistingChannel(channel)
		if err != nil {
			return false
		}
		list := ch.clientList()
		if len(list) != 1 || list[0].readyCount.Load() != rdy {
			return false
		}
		cl = list[0]
		return true
	})
	return cl
}

// gnChannel waits for the channel to exist (go-nsq subscribes
// asynchronously) and returns it.
func gnChannel(t testing.TB, n *NSQD, topic, channel string) *Channel {
	t.Helper()
	var ch *Channel
	eventually(t, 5*time.Second, "channel "+topic+"/"+channel, func() bool {
		var err error
		ch, err = n.GetTopic(topic).GetExistingChannel(channel)
		return err == nil
	})
	return ch
}

// gnDrained reports whether the channel has nothing queued, in flight or deferred.
func gnDrained(ch *Channel) bool {
	return ch.Depth() == 0 && ch.InFlightCount() == 0 && ch.DeferredCount() == 0
}

func TestGoNSQPublishConsume(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	addr := n.TCPAddr().String()
	cfg := nsq.NewConfig()
	p := gnProducer(t, addr, cfg)
	const total = 1000
	want := gnBodies("m", total)
	for _, b := range want[:total/2] {
		if err := p.Publish("t1", []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.MultiPublish("t1", gnBytes(want[total/2:])); err != nil {
		t.Fatal(err)
	}
	rec := gnNewRecorder()
	cfg.MaxInFlight = 50
	gnStartConsumer(t, addr, "t1", "ch", cfg, rec)
	eventually(t, 10*time.Second, "all messages", func() bool { return rec.total() >= total })
	ch := protoChannel(t, n, "t1", "ch")
	eventually(t, 5*time.Second, "channel gnDrained", func() bool { return gnDrained(ch) })
	rec.exactlyOnce(t, want)
	for _, d := range rec.deliveries() {
		if d.attempts != 1 {
			t.Fatalf("message %q attempts %d, want 1", d.body, d.attempts)
		}
	}
}

func TestGoNSQDeferredPublish(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	addr := n.TCPAddr().String()
	rec := gnNewRecorder()
	gnStartConsumer(t, addr, "dpub", "ch", nsq.NewConfig(), rec)
	gnWaitReady(t, n, "dpub", "ch", 1)
	ch := protoChannel(t, n, "dpub", "ch")

	p := gnProducer(t, addr, nsq.NewConfig())
	const delay = 1200 * time.Millisecond
	start := time.Now()
	if err := p.DeferredPublish("dpub", delay, []byte("later")); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish("dpub", []byte("now")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "the immediate message", func() bool { return rec.total() == 1 })
	if d := rec.deliveries()[0]; d.body != "now" {
		t.Fatalf("first gnDelivery %q, want now (deferred message arrived early)", d.body)
	}
	if dc := ch.DeferredCount(); dc != 1 {
		t.Errorf("deferred count %d, want 1", dc)
	}
	eventually(t, 5*time.Second, "the deferred message", func() bool { return rec.total() == 2 })
	d := rec.deliveries()[1]
	if d.body != "later" || d.attempts != 1 {
		t.Fatalf("got %q attempts %d", d.body, d.attempts)
	}
	if got := d.at.Sub(start); got < delay {
		t.Errorf("deferred message arrived after %s, before the %s delay", got, delay)
	}
	eventually(t, 2*time.Second, "channel gnDrained", func() bool { return gnDrained(ch) })
}

func TestGoNSQPublishAsync(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	addr := n.TCPAddr().String()
	p := gnProducer(t, addr, nsq.NewConfig())
	const count = 500
	want := gnBodies("async", count)
	done := make(chan *nsq.ProducerTransaction, count+2)
	for i, b := range want[:count-10] {
		if err := p.PublishAsync("async", []byte(b), done, i, "pub"); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.MultiPublishAsync("async", gnBytes(want[count-10:count-1]), done, -1, "mpub"); err != nil {
		t.Fatal(err)
	}
	if err := p.DeferredPublishAsync("async", 10*time.Millisecond, []byte(want[count-1]), done, -2, "dpub"); err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	timeout := time.After(10 * time.Second)
	for len(seen) < count-10+2 {
		select {
		case tr := <-done:
			if tr.Error != nil {
				t.Fatalf("transaction %v: %v", tr.Args, tr.Error)
			}
			if len(tr.Args) != 2 {
				t.Fatalf("args %v", tr.Args)
			}
			i := tr.Args[0].(int)
			if seen[i] {
				t.Fatalf("transaction %d completed twice", i)
			}
			seen[i] = true
		case <-timeout:
			t.Fatalf("only %d of %d transactions completed", len(seen), count-10+2)
		}
	}
	rec := gnNewRecorder()
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = 100
	gnStartConsumer(t, addr, "async", "ch", cfg, rec)
	eventually(t, 10*time.Second, "all messages", func() bool { return rec.total() >= count })
	ch := protoChannel(t, n, "async", "ch")
	eventually(t, 5*time.Second, "channel gnDrained", func() bool { return gnDrained(ch) })
	rec.exactlyOnce(t, want)
}

// TestGoNSQTransports sends 2000 messages through each transport/upgrade
// combination and checks each arrives exactly once, and that the broker
// really negotiated what was asked for.
func TestGoNSQTransports(t *testing.T) {
	certs := makeTestCerts(t)
	cases := []struct {
		name       string
		tls        bool
		clientCert bool
		snappy     bool
		deflate    int
	}{
		{name: "tcp"},
		{name: "tls", tls: true},
		{name: "tls+client-cert", tls: true, clientCert: true},
		{name: "snappy", snappy: true},
		{name: "deflate", deflate: 3},
		{name: "tls+snappy", tls: true, snappy: true},
		{name: "tls+deflate", tls: true, deflate: 6},
		{name: "tls+client-cert+deflate", tls: true, clientCert: true, deflate: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(t)
			if tc.tls {
				o.TLSCert, o.TLSKey = certs.ServerCert, certs.ServerKey
			}
			if tc.clientCert {
				o.TLSRootCAFile = certs.CAFile
				o.TLSClientAuthPolicy = "require-verify"
			}
			n := startNSQD(t, o)
			addr := n.TCPAddr().String()

			cfg := nsq.NewConfig()
			cfg.MaxInFlight = 250
			if tc.tls {
				cfg.TlsV1 = true
				cfg.TlsConfig = certs.ClientTLS(t, tc.clientCert)
			}
			if tc.snappy {
				if err := cfg.Set("snappy", true); err != nil {
					t.Fatal(err)
				}
			}
			if tc.deflate > 0 {
				cfg.Deflate = true
				if err := cfg.Set("deflate_level", tc.deflate); err != nil {
					t.Fatal(err)
				}
			}

			const total = 2000
			want := gnBodies(tc.name, total)
			p := gnProducer(t, addr, cfg)
			for _, b := range want[:100] {
				if err := p.Publish("tr", []byte(b)); err != nil {
					t.Fatalf("Publish: %v", err)
				}
			}
			for i := 100; i < total; i += 100 {
				if err := p.MultiPublish("tr", gnBytes(want[i:i+100])); err != nil {
					t.Fatalf("MultiPublish: %v", err)
				}
			}

			rec := gnNewRecorder()
			gnStartConsumer(t, addr, "tr", "ch", cfg, rec)
			eventually(t, 10*time.Second, "all messages", func() bool { return rec.total() >= total })
			ch := protoChannel(t, n, "tr", "ch")
			eventually(t, 5*time.Second, "channel gnDrained", func() bool { return gnDrained(ch) })
			rec.exactlyOnce(t, want)

			// what did the broker negotiate with the consumer?
			cl := protoChannelClient(t, ch)
			cl.metaMu.RLock()
			st, snappyOn, deflateOn := cl.tlsState, cl.snappy, cl.deflate
			cl.metaMu.RUnlock()
			if (st != nil) != tc.tls || snappyOn != tc.snappy || deflateOn != (tc.deflate > 0) {
				t.Errorf("negotiated tls=%v snappy=%v deflate=%v", st != nil, snappyOn, deflateOn)
			}
			if tc.clientCert {
				if st == nil || len(st.PeerCertificates) == 0 || st.PeerCertificates[0].Subject.CommonName != "test-client" {
					t.Errorf("client certificate not seen by the broker")
				} else if len(st.VerifiedChains) == 0 {
					t.Errorf("client certificate not verified")
				}
			}
		})
	}
}

// TestGoNSQClientCertificates: with --tls-client-auth-policy=require-verify
// only clients presenting a certificate from the configured CA get in.
func TestGoNSQClientCertificates(t *testing.T) {
	certs := makeTestCerts(t)
	other := makeOtherCerts(t)
	o := testOptions(t)
	o.TLSCert, o.TLSKey = certs.ServerCert, certs.ServerKey
	o.TLSRootCAFile = certs.CAFile
	o.TLSClientAuthPolicy = "require-verify"
	n := startNSQD(t, o)
	addr := n.TCPAddr().String()
	if n.opts.TLSRequired != TLSRequired {
		t.Errorf("TLSRequired = %d, want %d (implied by the client auth policy)", n.opts.TLSRequired, TLSRequired)
	}

	tlsCfg := func(set func(c *tls.Config)) *nsq.Config {
		cfg := nsq.NewConfig()
		cfg.TlsV1 = true
		cfg.TlsConfig = certs.ClientTLS(t, false)
		if set != nil {
			set(cfg.TlsConfig)
		}
		return cfg
	}
	publishFails := func(name string, cfg *nsq.Config) {
		t.Helper()
		p := gnProducer(t, addr, cfg)
		if err := p.Publish("certs", []byte("x")); err == nil {
			t.Errorf("%s: Publish succeeded", name)
		}
	}

	publishFails("no TLS", nsq.NewConfig())
	publishFails("TLS without a client certificate", tlsCfg(nil))
	otherPair, err := tls.LoadX509KeyPair(other.ClientCert, other.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	publishFails("client certificate of an unknown CA", tlsCfg(func(c *tls.Config) {
		c.Certificates = []tls.Certificate{otherPair}
	}))

	// a consumer without a certificate cannot connect
	c := gnConsumer(t, "certs", "ch", tlsCfg(nil), gnNewRecorder())
	if err := c.ConnectToNSQD(addr); err == nil {
		t.Error("consumer without a client certificate connected")
	}

	// go-nsq's own option path: tls_root_ca_file, tls_cert, tls_key
	good := nsq.NewConfig()
	for k, v := range map[string]any{"tls_v1": true, "tls_root_ca_file": certs.CAFile} {
		if err := good.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := good.Set("tls_cert", certs.ClientCert); err != nil {
		t.Fatal(err)
	}
	if err := good.Set("tls_key", certs.ClientKey); err != nil {
		t.Fatal(err)
	}
	p := gnProducer(t, addr, good)
	if err := p.Publish("certs", []byte("welcome")); err != nil {
		t.Fatalf("Publish with a client certificate: %v", err)
	}
	rec := gnNewRecorder()
	gnStartConsumer(t, addr, "certs", "ch", good, rec)
	eventually(t, 5*time.Second, "the message", func() bool { return rec.total() == 1 })
}

// TestGoNSQTLSRequired: --tls-required=tcp-https refuses plaintext
// producers and accepts TLS ones.
func TestGoNSQTLSRequired(t *testing.T) {
	certs := makeTestCerts(t)
	o := testOptions(t)
	o.TLSCert, o.TLSKey = certs.ServerCert, certs.ServerKey
	o.TLSRequired = TLSRequiredExceptHTTP
	n := startNSQD(t, o)
	addr := n.TCPAddr().String()

	plain := gnProducer(t, addr, nsq.NewConfig())
	err := plain.Publish("req", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "E_INVALID cannot PUB in current state (TLS required)") {
		t.Errorf("plaintext Publish: got %v, want the TLS required error", err)
	}

	cfg := nsq.NewConfig()
	cfg.TlsV1 = true
	cfg.TlsConfig = certs.ClientTLS(t, false)
	p := gnProducer(t, addr, cfg)
	if err := p.Publish("req", []byte("secure")); err != nil {
		t.Fatalf("TLS Publish: %v", err)
	}
	if err := p.Ping(); err != nil {
		t.Errorf("TLS Ping: %v", err)
	}
	rec := gnNewRecorder()
	gnStartConsumer(t, addr, "req", "ch", cfg, rec)
	eventually(t, 5*time.Second, "the message", func() bool { return rec.total() == 1 })
}

// gnFailFirst fails the first attempt of every message.
type gnFailFirst struct {
	*gnRecorder
}

func (f gnFailFirst) HandleMessage(m *nsq.Message) error {
	d := f.record(m)
	if d.attempts == 1 {
		return fmt.Errorf("first attempt of %s fails", d.body)
	}
	return nil
}

func TestGoNSQRequeueWithoutBackoff(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	addr := n.TCPAddr().String()
	const count = 50
	want := gnBodies("rq", count)
	p := gnProducer(t, addr, nsq.NewConfig())
	if err := p.MultiPublish("rq", gnBytes(want)); err != nil {
		t.Fatal(err)
	}
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = 10
	cfg.MaxBackoffDuration = 0 // no backoff
	cfg.DefaultRequeueDelay = 0
	rec := gnNewRecorder()
	gnStartConsumer(t, addr, "rq", "ch", cfg, gnFailFirst{rec})
	eventually(t, 10*time.Second, "two attempts per message", func() bool { return rec.total() >= 2*count })
	ch := protoChannel(t, n, "rq", "ch")
	eventually(t, 5*time.Second, "channel gnDrained", func() bool { return gnDrained(ch) })

	first := map[string]gnDelivery{}
	for _, d := range rec.deliveries() {
		switch d.attempts {
		case 1:
			first[d.body] = d
		case 2:
			f, ok := first[d.body]
			if !ok {
				t.Fatalf("%s: attempt 2 before attempt 1", d.body)
			}
			if f.id != d.id {
				t.Errorf("%s: requeued with a new ID", d.body)
			}
		default:
			t.Errorf("%s: attempts %d", d.body, d.attempts)
		}
	}
	rec.mu.Lock()
	for _, b := range want {
		if rec.counts[b] != 2 {
			t.Errorf("%s delivered %d times, want 2", b, rec.counts[b])
		}
	}
	rec.mu.Unlock()
	if got := ch.requeueCount.Load(); got != count {
		t.Errorf("requeue_count %d, want %d", got, count)
	}
	if got := ch.timeoutCount.Load(); got != 0 {
		t.Errorf("timeout_count %d, want 0", got)
	}
}

func TestGoNSQRequeueWithBackoff(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	addr := n.TCPAddr().String()
	const count = 30
	want := gnBodies("bo", count)
	p := gnProducer(t, addr, nsq.NewConfig())

	cfg := nsq.NewConfig()
	cfg.MaxInFlight = 5
	cfg.DefaultRequeueDelay = 0
	cfg.BackoffMultiplier = 50 * time.Millisecond
	cfg.MaxBackoffDuration = 200 * time.Millisecond
	rec := gnNewRecorder()
	var failures atomic.Int32
	handler := nsq.HandlerFunc(func(m *nsq.Message) error {
		d := rec.record(m)
		// the first three messages fail once each
		if d.attempts == 1 && failures.Load() < 3 {
			failures.Add(1)
			return fmt.Errorf("fail %s", d.body)
		}
		return nil
	})

	// watch the broker-side RDY: backoff sets it to 0 for a while
	var sawZero atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()

	c := gnConsumer(t, "bo", "ch", cfg, handler)
	if err := c.ConnectToNSQD(addr); err != nil {
		t.Fatal(err)
	}
	cl := gnWaitReady(t, n, "bo", "ch", 5)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if failures.Load() > 0 && cl.readyCount.Load() == 0 {
				sawZero.Store(true)
			}
		}
	}()
	if err := p.MultiPublish("bo", gnBytes(want)); err != nil {
		t.Fatal(err)
	}

	ch := protoChannel(t, n, "bo", "ch")
	eventually(t, 10*time.Second, "all messages handled", func() bool { return rec.total() >= count+3 && gnDrained(ch) })
	if got := failures.Load(); got != 3 {
		t.Errorf("%d failures, want 3", got)
	}
	rec.mu.Lock()
	for _, b := range want {
		if n := rec.counts[b]; n < 1 || n > 2 {
			t.Errorf("%s delivered %d times", b, n)
		}
	}
	rec.mu.Unlock()
	if rec.total() != count+3 {
		t.Errorf("%d deliveries, want %d", rec.total(), count+3)
	}
	if !sawZero.Load() {
		t.Error("broker never saw RDY 0 during backoff")
	}
	// the consumer keeps going after backing off
	if err := p.Publish("bo", []byte("after")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "message after backoff", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.counts["after"] == 1
	})
	eventually(t, 5*time.Second, "RDY restored", func() bool { return cl.readyCount.Load() == 5 })
}

func TestGoNSQDefaultRequeueDelay(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	addr := n.TCPAddr().String()
	cfg := nsq.NewConfig()
	cfg.MaxBackoffDuration = 0
	const delay = 600 * time.Millisecond
	cfg.DefaultRequeueDelay = delay
	rec := gnNewRecorder()
	gnStartConsumer(t, addr, "drd", "ch", cfg, gnFailFirst{rec})
	gnWaitReady(t, n, "drd", "ch", 1)
	ch := protoChannel(t, n, "drd", "ch")
	p := gnProducer(t, addr, nsq.NewConfig())
	if err := p.Publish("drd", []byte("m")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "first attempt", func() bool { return rec.total() == 1 })
	eventually(t, 2*time.Second, "message deferred", func() bool { return ch.DeferredCount() == 1 || rec.total() == 2 })
	if rec.total() != 1 {
		t.Fatal("requeued message redelivered before the requeue delay")
	}
	eventually(t, 5*time.Second, "second attempt", func() bool { return rec.total() == 2 })
	ds := rec.deliveries()
	// go-nsq's delay is DefaultRequeueDelay * attempts = 1 × 600ms
	if gap := ds[1].at.Sub(ds[0].at); gap < delay {
		t.Errorf("redelivered after %s, want >= %s", gap, delay)
	}
	if ds[1].attempts != 2 || ds[1].id != ds[0].id {
		t.Errorf("second gnDelivery attempts %d", ds[1].attempts)
	}
	eventually(t, 2*time.Second, "channel gnDrained", func() bool { return gnDrained(ch) })
}

func TestGoNSQConsumerPauseResume(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	addr := n.TCPAddr().String()
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = 10
	rec := gnNewRecorder()
	c := gnStartConsumer(t, addr, "cpr", "ch", cfg, rec)
	cl := gnWaitReady(t, n, "cpr", "ch", 10)

	c.ChangeMaxInFlight(0)
	eventually(t, 2*time.Second, "RDY 0 at the broker", func() bool { return cl.readyCount.Load() == 0 })
	want := gnBodies("cpr", 20)
	p := gnProducer(t, addr, nsq.NewConfig())
	if err := p.MultiPublish("cpr", gnBytes(want)); err != nil {
		t.Fatal(err)
	}
	ch := protoChannel(t, n, "cpr", "ch")
	eventually(t, 2*time.Second, "messages queued", func() bool { return ch.Depth() == 20 })
	time.Sleep(500 * time.Millisecond) // nothing may arrive while paused
	if got := rec.total(); got != 0 {
		t.Fatalf("%d messages delivered with max-in-flight 0", got)
	}

	c.ChangeMaxInFlight(10)
	eventually(t, 5*time.Second, "all messages after resume", func() bool { return rec.total() >= 20 })
	eventually(t, 2*time.Second, "channel gnDrained", func() bool { return gnDrained(ch) })
	rec.exactlyOnce(t, want)
}

func TestGoNSQChannelPause(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	addr := n.TCPAddr().String()
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = 10
	rec := gnNewRecorder()
	gnStartConsumer(t, addr, "cp", "ch", cfg, rec)
	gnWaitReady(t, n, "cp", "ch", 10)
	ch, err := n.GetTopic("cp").GetExistingChannel("ch")
	if err != nil {
		t.Fatal(err)
	}
	ch.Pause()
	if !ch.Paused() {
		t.Fatal("channel not paused")
	}
	want := gnBodies("cp", 20)
	p := gnProducer(t, addr, nsq.NewConfig())
	if err := p.MultiPublish("cp", gnBytes(want)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "messages accumulate", func() bool { return ch.Depth() == 20 })
	time.Sleep(500 * time.Millisecond)
	if got := rec.total(); got != 0 {
		t.Fatalf("%d messages delivered from a paused channel", got)
	}
	if ch.Depth() != 20 || ch.InFlightCount() != 0 {
		t.Errorf("paused: depth %d in flight %d", ch.Depth(), ch.InFlightCount())
	}
	ch.Unpause()
	eventually(t, 5*time.Second, "all messages after unpause", func() bool { return rec.total() >= 20 })
	eventually(t, 2*time.Second, "channel gnDrained", func() bool { return gnDrained(ch) })
	rec.exactlyOnce(t, want)
}

// TestGoNSQProducerHeartbeats: an idle producer with a 1s heartbeat keeps
// its connection for 3s (it answers heartbeats) and can still publish.
func TestGoNSQProducerHeartbeats(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	addr := n.TCPAddr().String()
	cfg := nsq.NewConfig()
	cfg.HeartbeatInterval = time.Second
	p := gnProducer(t, addr, cfg)
	if err := p.Ping(); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := p.Publish("hbp", []byte("1")); err != nil {
		t.Fatal(err)
	}
	cl := protoOnlyClient(t, n)
	if hb := cl.heartbeat(); hb != time.Second {
		t.Fatalf("broker heartbeat interval %s, want 1s", hb)
	}
	time.Sleep(3 * time.Second) // idle for more than 2 heartbeat intervals
	if err := p.Publish("hbp", []byte("2")); err != nil {
		t.Fatalf("Publish after idling: %v", err)
	}
	if err := p.Ping(); err != nil {
		t.Fatalf("Ping after idling: %v", err)
	}
	// still the same connection: it survived on heartbeats
	if after := protoOnlyClient(t, n); after.id != cl.id {
		t.Errorf("producer reconnected (client %d, was %d)", after.id, cl.id)
	}
	if pc := cl.pubCountList(); len(pc) != 1 || pc[0].Count != 2 {
		t.Errorf("pub counts %+v, want hbp:2", pc)
	}

	// Ping of an address with nothing listening fails
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	if err := gnProducer(t, dead, nsq.NewConfig()).Ping(); err == nil {
		t.Error("Ping of a closed port succeeded")
	}
}

// gnGiveUp fails every attempt and records messages go-nsq gives up on.
type gnGiveUp struct {
	*gnRecorder
	failed chan uint16
}

func (g gnGiveUp) HandleMessage(m *nsq.Message) error {
	g.record(m)
	return fmt.Errorf("always fails")
}

func (g gnGiveUp) LogFailedMessage(m *nsq.Message) { g.failed <- m.Attempts }

func TestGoNSQMaxAttempts(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	addr := n.TCPAddr().String()
	cfg := nsq.NewConfig()
	cfg.MaxAttempts = 2
	cfg.MaxBackoffDuration = 0
	cfg.DefaultRequeueDelay = 0
	h := gnGiveUp{gnNewRecorder(), make(chan uint16, 4)}
	gnStartConsumer(t, addr, "ma", "ch", cfg, h)
	p := gnProducer(t, addr, nsq.NewConfig())
	if err := p.Publish("ma", []byte("doomed")); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-h.failed:
		if a != 3 {
			t.Errorf("given up at attempts %d, want 3 (after 2 handled attempts)", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("message never given up")
	}
	ch := protoChannel(t, n, "ma", "ch")
	eventually(t, 2*time.Second, "message finished", func() bool { return gnDrained(ch) })
	time.Sleep(200 * time.Millisecond)
	ds := h.deliveries()
	if len(ds) != 2 || ds[0].attempts != 1 || ds[1].attempts != 2 {
		t.Errorf("handler deliveries %+v, want attempts 1 and 2", ds)
	}
	if got := ch.requeueCount.Load(); got != 2 {
		t.Errorf("requeue_count %d, want 2", got)
	}
}

// TestGoNSQMsgTimeout: a message never answered within the client's 1s
// msg_timeout is redelivered with attempts 2 and counted as a timeout.
func TestGoNSQMsgTimeout(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	addr := n.TCPAddr().String()
	cfg := nsq.NewConfig()
	cfg.MsgTimeout = time.Second
	cfg.MaxInFlight = 1 // not ready after one message: frames are flushed at once
	rec := gnNewRecorder()
	var mu sync.Mutex
	var held []*nsq.Message
	handler := nsq.HandlerFunc(func(m *nsq.Message) error {
		m.DisableAutoResponse()
		rec.record(m)
		mu.Lock()
		held = append(held, m)
		mu.Unlock()
		return nil
	})
	gnStartConsumer(t, addr, "mt", "ch", cfg, handler)
	cl := gnWaitReady(t, n, "mt", "ch", 1)
	cl.metaMu.RLock()
	mt := cl.msgTimeout
	cl.metaMu.RUnlock()
	if mt != time.Second {
		t.Fatalf("broker msg timeout %s, want 1s", mt)
	}
	p := gnProducer(t, addr, nsq.NewConfig())
	if err := p.Publish("mt", []byte("slow")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "redelivery after timeout", func() bool { return rec.total() == 2 })
	ds := rec.deliveries()
	if ds[0].attempts != 1 || ds[1].attempts != 2 || ds[0].id != ds[1].id {
		t.Errorf("deliveries %+v", ds)
	}
	if gap := ds[1].at.Sub(ds[0].at); gap < 900*time.Millisecond {
		t.Errorf("redelivered after %s, before the 1s msg timeout", gap)
	}
	ch := protoChannel(t, n, "mt", "ch")
	if got := ch.timeoutCount.Load(); got != 1 {
		t.Errorf("timeout_count %d, want 1", got)
	}
	// answer both copies so the consumer can stop (the second FIN fails
	// at the broker: same ID, already finished)
	mu.Lock()
	for _, m := range held {
		m.Finish()
	}
	mu.Unlock()
	eventually(t, 2*time.Second, "channel gnDrained", func() bool { return gnDrained(ch) })
	if f := cl.inFlightCount.Load(); f != 0 {
		t.Errorf("client in-flight count %d after timeout+FIN, want 0", f)
	}
}

// TestGoNSQTouch: TOUCHing every 300ms keeps a message with a 1s timeout
// from being redelivered for 1.8s.
func TestGoNSQTouch(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	addr := n.TCPAddr().String()
	cfg := nsq.NewConfig()
	cfg.MsgTimeout = time.Second
	rec := gnNewRecorder()
	finished := make(chan struct{})
	handler := nsq.HandlerFunc(func(m *nsq.Message) error {
		rec.record(m)
		if m.Attempts > 1 {
			return nil // a redelivery: the test fails below
		}
		for i := 0; i < 6; i++ {
			time.Sleep(300 * time.Millisecond)
			m.Touch()
		}
		close(finished)
		return nil // FIN
	})
	gnStartConsumer(t, addr, "touch", "ch", cfg, handler)
	gnWaitReady(t, n, "touch", "ch", 1)
	p := gnProducer(t, addr, nsq.NewConfig())
	if err := p.Publish("touch", []byte("long job")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-finished:
	case <-time.After(8 * time.Second):
		t.Fatal("handler did not finish")
	}
	ch := protoChannel(t, n, "touch", "ch")
	eventually(t, 2*time.Second, "channel gnDrained", func() bool { return gnDrained(ch) })
	if got := rec.total(); got != 1 {
		t.Errorf("%d deliveries, want 1 (TOUCH did not extend the deadline)", got)
	}
	if got := ch.timeoutCount.Load(); got != 0 {
		t.Errorf("timeout_count %d, want 0", got)
	}
}

func TestGoNSQSampleRate(t *testing.T) {
	n := startNSQD(t, testOptions(t))
	addr := n.TCPAddr().String()
	const total = 1000
	p := gnProducer(t, addr, nsq.NewConfig())
	if err := p.MultiPublish("sr", gnBytes(gnBodies("sr", total))); err != nil {
		t.Fatal(err)
	}
	cfg := nsq.NewConfig()
	cfg.SampleRate = 10
	cfg.MaxInFlight = 100
	rec := gnNewRecorder()
	gnStartConsumer(t, addr, "sr", "ch", cfg, rec)
	gnWaitReady(t, n, "sr", "ch", 100) // subscribed: the channel exists and has its client
	ch := gnChannel(t, n, "sr", "ch")
	topic := n.GetTopic("sr")
	eventually(t, 10*time.Second, "channel consumed", func() bool { return topic.Depth() == 0 && gnDrained(ch) })
	cl := protoChannelClient(t, ch)
	cl.metaMu.RLock()
	rate := cl.sampleRate
	cl.metaMu.RUnlock()
	if rate != 10 {
		t.Errorf("broker sample rate %d, want 10", rate)
	}
	// about 11% (r in [0,99] kept when r <= 10)
	got := rec.total()
	if got < 30 || got > 250 {
		t.Errorf("received %d of %d messages with sample rate 10, want roughly 110", got, total)
	}
	if rec.distinct() != got {
		t.Errorf("duplicates among sampled messages")
	}
	t.Logf("sample rate 10: %d of %d delivered", got, total)
}

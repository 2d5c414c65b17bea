package e2e

import (
	"crypto/tls"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"

	"github.com/nsqkit/nsqkit/core/internal/testcerts"
)

// TestNSQDGoNSQTransports: go-nsq consumers over every transport the
// binary offers: plain, TLS, TLS with a client certificate, snappy,
// deflate, TLS+snappy, TLS+deflate.
func TestNSQDGoNSQTransports(t *testing.T) {
	certs := testcerts.New(t)
	d := startNSQD(t, t.TempDir(),
		"--tls-cert="+certs.ServerCert, "--tls-key="+certs.ServerKey,
		"--tls-root-ca-file="+certs.CAFile)
	cases := []struct {
		name            string
		tls, cert       bool
		snappy, deflate bool
	}{
		{name: "plain"},
		{name: "tls", tls: true},
		{name: "tls+client-cert", tls: true, cert: true},
		{name: "snappy", snappy: true},
		{name: "deflate", deflate: true},
		{name: "tls+snappy", tls: true, snappy: true},
		{name: "tls+deflate", tls: true, deflate: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := nsq.NewConfig()
			if tc.tls {
				cfg.TlsV1 = true
				cfg.TlsConfig = &tls.Config{RootCAs: certs.Pool, MinVersion: tls.VersionTLS12}
				if tc.cert {
					pair, err := tls.LoadX509KeyPair(certs.ClientCert, certs.ClientKey)
					if err != nil {
						t.Fatal(err)
					}
					cfg.TlsConfig.Certificates = []tls.Certificate{pair}
				}
			}
			cfg.Snappy = tc.snappy
			cfg.Deflate = tc.deflate
			cfg.DeflateLevel = 5
			cfg.MaxInFlight = 200
			topic := "tr_" + strconv.Itoa(int(time.Now().UnixNano()%1e9))
			p, err := nsq.NewProducer(d.tcp, cfg)
			if err != nil {
				t.Fatal(err)
			}
			p.SetLogger(nil, nsq.LogLevelError)
			defer p.Stop()
			const total = 1000
			for i := 0; i < total; i += 50 {
				var batch [][]byte
				for j := i; j < i+50; j++ {
					batch = append(batch, []byte("m"+strconv.Itoa(j)))
				}
				if err := p.MultiPublish(topic, batch); err != nil {
					t.Fatal(err)
				}
			}
			c, err := nsq.NewConsumer(topic, "ch", cfg)
			if err != nil {
				t.Fatal(err)
			}
			c.SetLogger(nil, nsq.LogLevelError)
			var mu sync.Mutex
			seen := map[string]int{}
			all := make(chan struct{})
			c.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
				mu.Lock()
				defer mu.Unlock()
				seen[string(m.Body)]++
				if len(seen) == total {
					close(all)
				}
				return nil
			}))
			if err := c.ConnectToNSQD(d.tcp); err != nil {
				t.Fatal(err)
			}
			select {
			case <-all:
			case <-time.After(15 * time.Second):
			}
			c.Stop()
			<-c.StopChan
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != total {
				t.Fatalf("got %d of %d messages", len(seen), total)
			}
			for body, n := range seen {
				if n != 1 {
					t.Errorf("%s delivered %d times", body, n)
				}
			}
		})
	}
	if code := d.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

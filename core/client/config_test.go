package client

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c := NewConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"dial_timeout", c.DialTimeout, time.Second},
		{"read_timeout", c.ReadTimeout, 60 * time.Second},
		{"write_timeout", c.WriteTimeout, time.Second},
		{"lookupd_poll_interval", c.LookupdPollInterval, 60 * time.Second},
		{"lookupd_poll_jitter", c.LookupdPollJitter, 0.3},
		{"lookupd_poll_timeout", c.LookupdPollTimeout, time.Minute},
		{"max_requeue_delay", c.MaxRequeueDelay, 15 * time.Minute},
		{"default_requeue_delay", c.DefaultRequeueDelay, 90 * time.Second},
		{"backoff_strategy", c.BackoffStrategy, "exponential"},
		{"max_backoff_duration", c.MaxBackoffDuration, 2 * time.Minute},
		{"backoff_multiplier", c.BackoffMultiplier, time.Second},
		{"max_attempts", c.MaxAttempts, 5},
		{"low_rdy_idle_timeout", c.LowRdyIdleTimeout, 10 * time.Second},
		{"low_rdy_timeout", c.LowRdyTimeout, 30 * time.Second},
		{"rdy_redistribute_interval", c.RDYRedistributeInterval, 5 * time.Second},
		{"heartbeat_interval", c.HeartbeatInterval, 30 * time.Second},
		{"sample_rate", c.SampleRate, 0},
		{"tls_v1", c.TLSV1, false},
		{"tls_min_version", c.TLSMinVersion, "tls1.0"},
		{"deflate", c.Deflate, false},
		{"deflate_level", c.DeflateLevel, 6},
		{"snappy", c.Snappy, false},
		{"output_buffer_size", c.OutputBufferSize, 16384},
		{"output_buffer_timeout", c.OutputBufferTimeout, 250 * time.Millisecond},
		{"max_in_flight", c.MaxInFlight, 1},
		{"msg_timeout", c.MsgTimeout, time.Duration(0)},
		{"max_msg_size", c.MaxMsgSize, 0},
		{"skip_lookupd_authorization", c.SkipLookupdAuthorization, true},
		{"reconnect_initial_interval", c.ReconnectInitialInterval, 250 * time.Millisecond},
		{"reconnect_max_interval", c.ReconnectMaxInterval, 30 * time.Second},
		{"publish_attempts", c.PublishAttempts, 3},
		{"publish_max_msg_size", c.PublishMaxMsgSize, 1 << 20},
		{"publish_max_body_size", c.PublishMaxBodySize, 5 << 20},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if c.ClientID == "" || strings.Contains(c.ClientID, ".") || c.Hostname == "" {
		t.Errorf("client_id %q hostname %q", c.ClientID, c.Hostname)
	}
}

func TestConfigSet(t *testing.T) {
	tests := []struct {
		name, value string
		check       func(c *Config) bool
	}{
		{"dial_timeout", "5s", func(c *Config) bool { return c.DialTimeout == 5*time.Second }},
		{"dial-timeout", "1500", func(c *Config) bool { return c.DialTimeout == 1500*time.Millisecond }},
		{"read_timeout", "2m", func(c *Config) bool { return c.ReadTimeout == 2*time.Minute }},
		{"max_in_flight", "200", func(c *Config) bool { return c.MaxInFlight == 200 }},
		{"snappy", "true", func(c *Config) bool { return c.Snappy }},
		{"snappy", "", func(c *Config) bool { return c.Snappy }},
		{"deflate", "1", func(c *Config) bool { return c.Deflate }},
		{"tls_v1", "false", func(c *Config) bool { return !c.TLSV1 }},
		{"lookupd_poll_jitter", "0.5", func(c *Config) bool { return c.LookupdPollJitter == 0.5 }},
		{"backoff_strategy", "full_jitter", func(c *Config) bool { return c.BackoffStrategy == BackoffFullJitter }},
		{"user_agent", "nsq_tail/1.3.0", func(c *Config) bool { return c.UserAgent == "nsq_tail/1.3.0" }},
		{"heartbeat_interval", "-1ns", func(c *Config) bool { return c.HeartbeatInterval < 0 }},
		{"local_addr", "127.0.0.1", func(c *Config) bool { return c.LocalAddr != nil && c.LocalAddr.String() == "127.0.0.1:0" }},
		{"reconnect_max_interval", "10s", func(c *Config) bool { return c.ReconnectMaxInterval == 10*time.Second }},
		{"publish_round_robin", "", func(c *Config) bool { return c.PublishRoundRobin }},
		{"publish_attempts", "5", func(c *Config) bool { return c.PublishAttempts == 5 }},
		{"tls_min_version", "tls1.2", func(c *Config) bool { return c.TLSMinVersion == "tls1.2" && c.tlsOptsSet }},
	}
	for _, tt := range tests {
		c := NewConfig()
		if err := c.Set(tt.name, tt.value); err != nil {
			t.Errorf("Set(%q, %q): %v", tt.name, tt.value, err)
			continue
		}
		if !tt.check(c) {
			t.Errorf("Set(%q, %q) did not take", tt.name, tt.value)
		}
	}
}

func TestConfigSetErrors(t *testing.T) {
	tests := []struct{ name, value string }{
		{"no_such_option", "1"},
		{"read_timeout", "10ms"},  // below 100ms
		{"read_timeout", "6m"},    // above 5m
		{"write_timeout", "junk"}, // not a duration
		{"max_in_flight", "-1"},   // negative
		{"max_in_flight", "x"},    // not an int
		{"sample_rate", "100"},    // 0..99
		{"deflate_level", "0"},    // 1..9
		{"lookupd_poll_jitter", "2"},
		{"backoff_strategy", "linear"},
		{"snappy", "maybe"},
		{"max_attempts", "70000"},
		{"rdy_redistribute_interval", "6s"},
		{"low_rdy_idle_timeout", "10ms"},
		{"tls_min_version", "tls9"},
		{"publish_attempts", "0"},
	}
	for _, tt := range tests {
		c := NewConfig()
		if err := c.Set(tt.name, tt.value); err == nil {
			t.Errorf("Set(%q, %q) succeeded, want error", tt.name, tt.value)
		}
	}
}

func TestConfigSetOpt(t *testing.T) {
	c := NewConfig()
	for _, o := range []string{"max_in_flight,10", "snappy", "msg-timeout,30s", "auth_secret,a,b"} {
		if err := c.SetOpt(o); err != nil {
			t.Fatalf("SetOpt(%q): %v", o, err)
		}
	}
	if c.MaxInFlight != 10 || !c.Snappy || c.MsgTimeout != 30*time.Second || c.AuthSecret != "a,b" {
		t.Fatalf("got %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	c := NewConfig()
	c.HeartbeatInterval = 60 * time.Second
	if err := c.Validate(); err == nil {
		t.Error("read_timeout == heartbeat_interval accepted")
	}
	c = NewConfig()
	c.Deflate, c.Snappy = true, true
	if err := c.Validate(); err == nil {
		t.Error("deflate+snappy accepted")
	}
	c = NewConfig()
	c.TLSCert = "x.pem"
	if err := c.Validate(); err == nil {
		t.Error("tls_cert without tls_key accepted")
	}
	c = NewConfig()
	c.MaxInFlight = -3
	if err := c.Validate(); err == nil {
		t.Error("negative max_in_flight accepted")
	}
	c = NewConfig()
	c.HeartbeatInterval = -1
	if err := c.Validate(); err != nil {
		t.Errorf("disabled heartbeat rejected: %v", err)
	}
	if _, err := NewProducer(&Config{}); err == nil {
		t.Error("NewProducer accepted a zero Config")
	}
}

func TestConfigOptionNames(t *testing.T) {
	want := []string{
		"dial_timeout", "read_timeout", "write_timeout", "local_addr", "lookupd_poll_interval",
		"lookupd_poll_jitter", "lookupd_poll_timeout", "max_requeue_delay", "default_requeue_delay",
		"backoff_strategy", "max_backoff_duration", "backoff_multiplier", "max_attempts",
		"low_rdy_idle_timeout", "low_rdy_timeout", "rdy_redistribute_interval", "client_id",
		"hostname", "user_agent", "heartbeat_interval", "sample_rate", "tls_v1", "tls_root_ca_file",
		"tls_cert", "tls_key", "tls_insecure_skip_verify", "tls_min_version", "deflate",
		"deflate_level", "snappy", "output_buffer_size", "output_buffer_timeout", "max_in_flight",
		"msg_timeout", "max_msg_size", "auth_secret", "skip_lookupd_authorization",
	}
	have := map[string]bool{}
	for _, n := range OptionNames() {
		have[n] = true
	}
	for _, n := range want {
		if !have[n] {
			t.Errorf("option %s missing", n)
		}
	}
}

func TestConfigTLS(t *testing.T) {
	c := NewConfig()
	if err := c.Set("tls_insecure_skip_verify", "true"); err != nil {
		t.Fatal(err)
	}
	tc, err := c.clientTLS("example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !tc.InsecureSkipVerify || tc.MaxVersion != tls.VersionTLS12 || tc.MinVersion != tls.VersionTLS10 || tc.ServerName != "example.com" {
		t.Fatalf("tls config %+v", tc)
	}
	c = NewConfig()
	c.TLSRootCAFile = "/does/not/exist"
	if _, err := c.clientTLS("h"); err == nil {
		t.Fatal("missing CA file accepted")
	}
}

func TestBackoffAndReconnectDelays(t *testing.T) {
	c := NewConfig()
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		if got := backoffDuration(c, i); got != want {
			t.Errorf("exponential(%d) = %s, want %s", i, got, want)
		}
	}
	if got := backoffDuration(c, 200); got <= 0 {
		t.Errorf("exponential(200) overflowed: %s", got)
	}
	c.BackoffStrategy = BackoffFullJitter
	for i := 0; i < 100; i++ {
		if got := backoffDuration(c, 3); got < 0 || got >= 8*time.Second {
			t.Fatalf("full_jitter(3) = %s", got)
		}
	}
	c = NewConfig()
	c.ReconnectJitter = 0
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second}
	for i, w := range want {
		if got := reconnectDelay(c, i+1); got != w {
			t.Errorf("reconnectDelay(%d) = %s, want %s", i+1, got, w)
		}
	}
	if got := reconnectDelay(c, 100); got != 30*time.Second {
		t.Errorf("reconnectDelay(100) = %s", got)
	}
	c.ReconnectJitter = 0.5
	for i := 0; i < 100; i++ {
		if got := reconnectDelay(c, 3); got < 500*time.Millisecond || got > time.Second {
			t.Fatalf("jittered delay %s", got)
		}
	}
}

func TestValidationErrorsMatch(t *testing.T) {
	err := invalid(ErrMessageTooBig, "%d > %d", 2, 1)
	if !errors.Is(err, ErrMessageTooBig) || err.Error() != "message too big: 2 > 1" {
		t.Fatalf("%v", err)
	}
	ce := &connError{addr: "a:1", cause: errors.New("EOF")}
	if !errors.Is(ce, ErrNotConnected) || !retryablePublishError(ce) {
		t.Fatal("connError does not match ErrNotConnected")
	}
	if e := parseErrorFrame([]byte("E_FIN_FAILED FIN x failed")); e.Fatal || e.Code != "E_FIN_FAILED" {
		t.Fatalf("%+v", e)
	}
	if e := parseErrorFrame([]byte("E_PUB_FAILED PUB failed exiting")); !e.Fatal || !retryablePublishError(e) {
		t.Fatalf("%+v", e)
	}
	if e := parseErrorFrame([]byte("E_BAD_TOPIC PUB topic name \"x!\" is not valid")); retryablePublishError(e) {
		t.Fatal("E_BAD_TOPIC retryable")
	}
}

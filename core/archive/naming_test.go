package archive

import (
	"strings"
	"testing"
	"time"
)

func TestStrftime(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	at := time.Date(2024, time.March, 5, 14, 7, 9, 0, loc)
	tests := []struct {
		format, want string
	}{
		{"%Y-%m-%d_%H", "2024-03-05_14"},
		{"%y%m%d", "240305"},
		{"%I:%M:%S %p", "02:07:09 PM"},
		{"%b %B %a %A", "Mar March Tue Tuesday"},
		{"%Z %z", "CET +0100"},
		{"100%%", "100%"},
		// unknown directives are copied literally, as NSQ does
		{"%j-%q-%F", "%j-%q-%F"},
		{"%Y%", "2024%"},
		{"%%x", "%x"},
		{"%Y%j%q%%x%", "2024%j%q%x%"},
		{"", ""},
		// literal text is never taken for a Go layout
		{"v1 Jan 2006 PM", "v1 Jan 2006 PM"},
		{"a/b/%H", "a/b/14"},
	}
	for _, tt := range tests {
		got, err := Strftime(tt.format, at)
		if err != nil {
			t.Errorf("Strftime(%q): %v", tt.format, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Strftime(%q) = %q, want %q", tt.format, got, tt.want)
		}
	}
}

func TestNamer(t *testing.T) {
	at := time.Date(2024, time.March, 5, 14, 7, 9, 0, time.UTC)
	tests := []struct {
		name string
		set  func(o *Options)
		rev  int
		want string
	}{
		{"default plain: no revision", nil, 0, "events.web1.2024-03-05_14.log"},
		{"gzip: revision and .gz", func(o *Options) { o.GZIP = true }, 0, "events.web1-000000.2024-03-05_14.log.gz"},
		{"gzip, name already .gz", func(o *Options) {
			o.GZIP = true
			o.FilenameFormat = "<TOPIC><REV>.gz"
		}, 3, "events-000003.gz"},
		{"rotate-size: revision", func(o *Options) { o.RotateSize = 10 }, 12, "events.web1-000012.2024-03-05_14.log"},
		{"rotate-interval: revision", func(o *Options) { o.RotateInterval = time.Minute }, 1, "events.web1-000001.2024-03-05_14.log"},
		{"work dir: revision", func(o *Options) { o.WorkDir = "/w" }, 1234567, "events.web1-1234567.2024-03-05_14.log"},
		{"work dir equal to output dir: none", func(o *Options) { o.WorkDir = "/out/" }, 1, "events.web1.2024-03-05_14.log"},
		{"host identifier tokens", func(o *Options) { o.HostIdentifier = "<SHORT_HOST>@<HOSTNAME>" }, 0,
			"events.web1@web1.example.com.2024-03-05_14.log"},
		{"host identifier literal", func(o *Options) { o.HostIdentifier = "box" }, 0, "events.box.2024-03-05_14.log"},
		{"pid and subdirectories", func(o *Options) {
			o.FilenameFormat = "<TOPIC>/<DATETIME>/<HOST>.<PID>.log"
			o.DatetimeFormat = "%Y/%m"
		}, 0, "events/2024/03/web1.4242.log"},
		{"unknown tokens stay", func(o *Options) { o.FilenameFormat = "<TOPIC>.<NOPE>" }, 0, "events.<NOPE>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOptions()
			o.OutputDir = "/out"
			o.Hostname = "web1.example.com"
			o.PID = 4242
			if tt.set != nil {
				tt.set(o)
			}
			n, err := NewNamer(o)
			if err != nil {
				t.Fatal(err)
			}
			if got := n.Name("events", n.Datetime(at), tt.rev); got != tt.want {
				t.Errorf("Name = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNamePattern(t *testing.T) {
	o := NewOptions()
	o.Hostname = "web1"
	o.GZIP = true
	n, err := NewNamer(o)
	if err != nil {
		t.Fatal(err)
	}
	re := namePattern(n, "events")
	at := time.Date(2024, time.March, 5, 14, 7, 9, 0, time.UTC)
	name := n.Name("events", n.Datetime(at), 7)
	m := re.FindStringSubmatch(name)
	if m == nil {
		t.Fatalf("%s does not match %s", name, re)
	}
	if rev := m[re.SubexpIndex("rev")]; rev != "-000007" {
		t.Errorf("rev = %q", rev)
	}
	for _, other := range []string{
		n.Name("events2", n.Datetime(at), 0),
		strings.Replace(name, "web1", "web2", 1),
		"unrelated.log",
	} {
		if re.MatchString(other) {
			t.Errorf("%s matches %s", other, re)
		}
	}
}

func TestValidate(t *testing.T) {
	base := func() *Options {
		o := NewOptions()
		o.Topics = []string{"t"}
		o.NSQDTCPAddresses = []string{"127.0.0.1:4150"}
		return o
	}
	tests := []struct {
		set  func(o *Options)
		want string
	}{
		{func(o *Options) {}, ""},
		{func(o *Options) { o.Channel = "" }, "--channel is required"},
		{func(o *Options) { o.NSQDTCPAddresses = nil }, "--nsqd-tcp-address or --lookupd-http-address required."},
		{func(o *Options) { o.LookupdHTTPAddresses = []string{"x:1"} }, "use --nsqd-tcp-address or --lookupd-http-address not both"},
		{func(o *Options) { o.Topics = nil }, "--topic or --topic-pattern required"},
		{func(o *Options) { o.Topics = nil; o.TopicPattern = "." }, "--lookupd-http-address must be specified when no --topic specified"},
		{func(o *Options) { o.Topics = []string{"bad topic"} }, `--topic "bad topic": invalid topic name`},
		{func(o *Options) { o.HTTPConnectTimeout = 0 }, "--http-client-connect-timeout should be positive"},
		{func(o *Options) { o.HTTPRequestTimeout = -1 }, "--http-client-request-timeout should be positive"},
		{func(o *Options) { o.GZIPLevel = 0 }, "invalid --gzip-level value (0), should be 1-9"},
		{func(o *Options) { o.GZIPLevel = 10 }, "invalid --gzip-level value (10), should be 1-9"},
		{func(o *Options) { o.GZIP = true; o.FilenameFormat = "<TOPIC>.log" }, "missing <REV> in --filename-format when gzip, rotation, or work dir enabled"},
		{func(o *Options) { o.WorkDir = "/elsewhere"; o.FilenameFormat = "<TOPIC>.log" }, "missing <REV> in --filename-format when gzip, rotation, or work dir enabled"},
		{func(o *Options) { o.FilenameFormat = "<TOPIC>.log" }, ""},
		{func(o *Options) { o.TopicPattern = "(" }, "--topic-pattern: error parsing regexp: missing closing ): `(`"},
	}
	for _, tt := range tests {
		o := base()
		tt.set(o)
		err := o.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Validate() = %q, want %q", got, tt.want)
		}
	}
}

package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestV1ReadCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want [][]string // one per line, then the final error
		err  error
	}{
		{"PING\n", [][]string{{"PING"}}, io.EOF},
		{"  REGISTER t c \r\n", [][]string{{"REGISTER", "t", "c"}}, io.EOF},
		{"REGISTER  t\n", [][]string{{"REGISTER", "", "t"}}, io.EOF},
		{"UNREGISTER t c extra\n", [][]string{{"UNREGISTER", "t", "c", "extra"}}, io.EOF},
		{"\n\r\n \t \n", [][]string{{""}, {""}, {""}}, io.EOF},
		{"\tPING\v\f\n", [][]string{{"PING"}}, io.EOF},
		{"REGISTER t\tc\n", [][]string{{"REGISTER", "t\tc"}}, io.EOF},
		{"\u00a0PING\u2003\n", [][]string{{"PING"}}, io.EOF},
		{"PING\nPING", [][]string{{"PING"}}, io.EOF},
		{"", nil, io.EOF},
		{"PING\n" + strings.Repeat("x", MaxV1LineLength) + "\nPING\n", [][]string{{"PING"}}, ErrLineTooLong},
		{strings.Repeat("x", MaxV1LineLength-1) + "\n", [][]string{{strings.Repeat("x", MaxV1LineLength-1)}}, io.EOF},
	} {
		for _, half := range []bool{false, true} {
			var src io.Reader = strings.NewReader(tc.in)
			if half {
				src = iotest.HalfReader(src)
			}
			r := NewV1Reader(src)
			for i, want := range tc.want {
				got, err := r.ReadCommand()
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("%q line %d: %q, %v; want %q", tc.in, i, got, err, want)
				}
			}
			if got, err := r.ReadCommand(); !errors.Is(err, tc.err) {
				t.Fatalf("%q: last read %q, %v; want %v", tc.in, got, err, tc.err)
			}
		}
	}
}

func TestV1ReadBody(t *testing.T) {
	size := func(n uint32) string { return string(binary.BigEndian.AppendUint32(nil, n)) }
	for _, tc := range []struct {
		in, want, err string
	}{
		{size(2) + "{}PING\n", "{}", ""},
		{size(0), "", ""}, // an empty body, as in 1.3.0
		{size(0xffffffff) + "x", "", "E_BAD_BODY IDENTIFY invalid body size -1"},
		{size(0x80000000), "", "E_BAD_BODY IDENTIFY invalid body size -2147483648"},
		{size(MaxV1BodySize + 1), "", "E_BAD_BODY IDENTIFY invalid body size 5242881"},
		{"\x00\x00", "", "E_BAD_BODY IDENTIFY failed to read body size"},
		{"", "", "E_BAD_BODY IDENTIFY failed to read body size"},
		{size(5) + "abcd", "", "E_BAD_BODY IDENTIFY failed to read body"},
		{size(MaxV1BodySize) + strings.Repeat("y", MaxV1BodySize), strings.Repeat("y", MaxV1BodySize), ""},
	} {
		r := NewV1Reader(iotest.HalfReader(strings.NewReader("IDENTIFY\n" + tc.in)))
		if p, err := r.ReadCommand(); err != nil || p[0] != "IDENTIFY" {
			t.Fatalf("%q: %v", tc.in, err)
		}
		body, err := r.ReadBody("IDENTIFY", MaxV1BodySize)
		if tc.err != "" {
			var we *Error
			if err == nil || err.Error() != tc.err || !errors.As(err, &we) || !we.Fatal {
				t.Fatalf("%.20q: %v, want fatal %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || string(body) != tc.want {
			t.Fatalf("%.20q: %.20q, %v", tc.in, body, err)
		}
		if tc.want == "{}" {
			if p, err := r.ReadCommand(); err != nil || p[0] != "PING" {
				t.Fatalf("line after the body: %q, %v", p, err)
			}
		}
	}
}

func TestV1Response(t *testing.T) {
	if got := AppendV1Response([]byte("x"), []byte("OK")); string(got) != "x\x00\x00\x00\x02OK" {
		t.Fatalf("%q", got)
	}
	if got := AppendV1Response(nil, nil); string(got) != "\x00\x00\x00\x00" {
		t.Fatalf("%q", got)
	}
	var stream []byte
	for _, d := range []string{"OK", "", "E_INVALID invalid command X"} {
		stream = AppendV1Response(stream, []byte(d))
	}
	r := bytes.NewReader(stream)
	for _, want := range []string{"OK", "", "E_INVALID invalid command X"} {
		got, err := ReadV1Response(r, 100)
		if err != nil || string(got) != want {
			t.Fatalf("%q, %v; want %q", got, err, want)
		}
	}
	if _, err := ReadV1Response(r, 100); err != io.EOF {
		t.Fatalf("at end: %v", err)
	}
	if _, err := ReadV1Response(bytes.NewReader(AppendV1Response(nil, make([]byte, 101))), 100); !errors.Is(err, ErrFrameTooBig) {
		t.Fatalf("too big: %v", err)
	}
	if _, err := ReadV1Response(bytes.NewReader([]byte("\x00\x00\x00\x05abc")), 0); err != io.ErrUnexpectedEOF {
		t.Fatalf("short: %v", err)
	}
}

func TestV1TopicChannel(t *testing.T) {
	long := strings.Repeat("a", 65)
	for _, tc := range []struct {
		cmd            string
		params         []string
		topic, channel string
		err            string
	}{
		{"REGISTER", []string{"t"}, "t", "", ""},
		{"REGISTER", []string{"t", "c"}, "t", "c", ""},
		{"REGISTER", []string{"t#ephemeral", "c#ephemeral", "more"}, "t#ephemeral", "c#ephemeral", ""},
		{"UNREGISTER", []string{"t", ""}, "t", "", ""},
		{"REGISTER", nil, "", "", "E_INVALID REGISTER insufficient number of params"},
		{"UNREGISTER", []string{}, "", "", "E_INVALID UNREGISTER insufficient number of params"},
		{"REGISTER", []string{""}, "", "", "E_BAD_TOPIC REGISTER topic name '' is not valid"},
		{"REGISTER", []string{"bad!t", "c"}, "", "", "E_BAD_TOPIC REGISTER topic name 'bad!t' is not valid"},
		{"UNREGISTER", []string{long}, "", "", "E_BAD_TOPIC UNREGISTER topic name '" + long + "' is not valid"},
		{"REGISTER", []string{"t", "bad!c"}, "", "", "E_BAD_CHANNEL REGISTER channel name 'bad!c' is not valid"},
		{"UNREGISTER", []string{"t", "#ephemeral"}, "", "", "E_BAD_CHANNEL UNREGISTER channel name '#ephemeral' is not valid"},
	} {
		topic, channel, err := ParseV1TopicChannel(tc.cmd, tc.params)
		if tc.err != "" {
			var we *Error
			if err == nil || err.Error() != tc.err || !errors.As(err, &we) || !we.Fatal {
				t.Errorf("%s %q: %v, want %q", tc.cmd, tc.params, err, tc.err)
			}
			continue
		}
		if err != nil || topic != tc.topic || channel != tc.channel {
			t.Errorf("%s %q: %q %q %v", tc.cmd, tc.params, topic, channel, err)
		}
	}
}

func TestV1LookupdIdentify(t *testing.T) {
	full := LookupdIdentify{Version: "1.3.0", TCPPort: 4150, HTTPPort: 4151, Hostname: "h", BroadcastAddress: "b"}
	for _, tc := range []struct {
		body string
		want LookupdIdentify
		err  string
	}{
		{`{"version":"1.3.0","tcp_port":4150,"http_port":4151,"hostname":"h","broadcast_address":"b"}`, full, ""},
		{`{"VERSION":"1.3.0","tcp_port":4150,"http_port":4151,"hostname":"h","broadcast_address":"b","extra":[1]}`, full, ""},
		{`{"version":"1.3.0","tcp_port":4150,"http_port":4151,"broadcast_address":"b"}`,
			LookupdIdentify{Version: "1.3.0", TCPPort: 4150, HTTPPort: 4151, BroadcastAddress: "b"}, ""},
		{`{"version":"1.3.0","tcp_port":4150,"http_port":4151,"hostname":"h"}`, LookupdIdentify{}, "E_BAD_BODY IDENTIFY missing fields"},
		{`{"version":"1.3.0","http_port":4151,"broadcast_address":"b"}`, LookupdIdentify{}, "E_BAD_BODY IDENTIFY missing fields"},
		{`{"version":"1.3.0","tcp_port":4150,"broadcast_address":"b"}`, LookupdIdentify{}, "E_BAD_BODY IDENTIFY missing fields"},
		{`{"tcp_port":4150,"http_port":4151,"broadcast_address":"b"}`, LookupdIdentify{}, "E_BAD_BODY IDENTIFY missing fields"},
		{`null`, LookupdIdentify{}, "E_BAD_BODY IDENTIFY missing fields"},
		{`{"version":"1.3.0","tcp_port":"4150","http_port":4151,"broadcast_address":"b"}`, LookupdIdentify{}, "E_BAD_BODY IDENTIFY failed to decode JSON body"},
		{`{`, LookupdIdentify{}, "E_BAD_BODY IDENTIFY failed to decode JSON body"},
		{`not json`, LookupdIdentify{}, "E_BAD_BODY IDENTIFY failed to decode JSON body"},
	} {
		got, err := ParseLookupdIdentify([]byte(tc.body))
		if tc.err != "" {
			var we *Error
			if err == nil || err.Error() != tc.err || !errors.As(err, &we) || !we.Fatal {
				t.Errorf("%s: %v, want %q", tc.body, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v", tc.body, got, err)
		}
	}
	b, _ := json.Marshal(LookupdIdentifyResponse{"127.0.0.1", "vm", 4161, 4160, "1.3.0"})
	if want := `{"broadcast_address":"127.0.0.1","hostname":"vm","http_port":4161,"tcp_port":4160,"version":"1.3.0"}`; string(b) != want {
		t.Fatalf("reply %s", b)
	}
}

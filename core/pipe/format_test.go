package pipe

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/client"
)

// formatRecord is a record with fixed metadata and the given body.
func formatRecord(body string) *Record {
	return &Record{
		Topic:       "events",
		Channel:     "tail#ephemeral",
		ID:          "0a1b2c3d4e5f6789",
		Timestamp:   time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC),
		Attempts:    3,
		NSQDAddress: "127.0.0.1:4150",
		Body:        Body(body),
	}
}

func TestRawFormat(t *testing.T) {
	binary := "\x00\xff\xfe\n\r\x1b[31mnot colour"
	tests := []struct {
		name string
		f    Raw
		body string
		want string
	}{
		{"text", Raw{}, "hello world", "hello world\n"},
		{"binary bytes as they are", Raw{}, binary, binary + "\n"},
		{"body ending in a newline", Raw{}, "line\n", "line\n\n"},
		{"print-topic", Raw{PrintTopic: true}, "hello", "events | hello\n"},
		{"print-topic binary", Raw{PrintTopic: true}, binary, "events | " + binary + "\n"},
		{"colour without print-topic changes nothing", Raw{Color: true}, "hello", "hello\n"},
		{"colour dims the prefix only", Raw{PrintTopic: true, Color: true}, "hello", "\x1b[2mevents |\x1b[22m hello\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.f.Format([]byte("prev;"), formatRecord(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if want := "prev;" + tt.want; string(got) != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

func TestTemplateFormat(t *testing.T) {
	tests := []struct {
		name, tmpl, body, want string
	}{
		{"issue example", `{{.ID}} {{.Attempts}} {{printf "%s" .Body}}`, "hi", "0a1b2c3d4e5f6789 3 hi\n"},
		{"body prints as text", `{{.Body}}`, "plain", "plain\n"},
		{"binary body unchanged", `{{.Body}}`, "\x00\xff", "\x00\xff\n"},
		{"length in bytes", `{{len .Body}}`, "héllo", "6\n"},
		{"metadata", `{{.Topic}}/{{.Channel}} from {{.NSQDAddress}}`, "x", "events/tail#ephemeral from 127.0.0.1:4150\n"},
		{"timestamp methods", `{{.Timestamp.UTC.Format "15:04:05.000"}} {{.Timestamp.UnixNano}}`, "x", "07:08:09.123 1714979289123456789\n"},
		{"json func", `{{json .Body}} {{json .Topic}}`, `say "hi" <b>`, `"say \"hi\" <b>" "events"` + "\n"},
		{"base64 and hex", `{{base64 .Body}} {{hex .Body}}`, "\x00\x01", "AAE= 0001\n"},
		{"template ending in a newline adds none", "{{.Body}}\n", "x", "x\n"},
		{"template ending in two newlines", "{{.Body}}\n\n", "x", "x\n\n"},
		{"newline inside only", "{{.Body}}\n--", "x", "x\n--\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewTemplate(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Format([]byte("prev;"), formatRecord(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if want := "prev;" + tt.want; string(got) != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

func TestTemplateErrors(t *testing.T) {
	for _, tmpl := range []string{
		"",
		"{{",
		"{{.Nope}}",
		"{{nofunc .Body}}",
		"{{.Body.Nope}}",
	} {
		if _, err := NewTemplate(tmpl); err == nil {
			t.Errorf("NewTemplate(%q): no error", tmpl)
		}
	}
	// An execution error on one message leaves dst as it was.
	f, err := NewTemplate(`{{index .Body 3}}`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Format([]byte("prev;"), formatRecord("ab"))
	if err == nil || string(got) != "prev;" {
		t.Fatalf("got %q, %v; want prev; and an error", got, err)
	}
}

func TestJSONFormat(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantBody string
		wantEnc  string
	}{
		{"ascii", "hello", "hello", ""},
		{"utf-8 and specials", "héllo \"wörld\" <tag> & \\ \t\n\x01", "héllo \"wörld\" <tag> & \\ \t\n\x01", ""},
		{"empty", "", "", ""},
		{"binary", "\x00\xff\xfe", base64.StdEncoding.EncodeToString([]byte("\x00\xff\xfe")), "base64"},
		{"truncated utf-8", "h\xc3", base64.StdEncoding.EncodeToString([]byte("h\xc3")), "base64"},
	}
	f := &JSON{}
	var out []byte
	for _, tt := range tests {
		var err error
		out, err = f.Format(out, formatRecord(tt.body))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(tests) {
		t.Fatalf("%d lines for %d records:\n%s", len(lines), len(tests), out)
	}
	for i, tt := range tests {
		var got map[string]any
		dec := json.NewDecoder(strings.NewReader(lines[i]))
		dec.UseNumber()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("%s: line %q: %v", tt.name, lines[i], err)
		}
		want := map[string]any{
			"topic":        "events",
			"channel":      "tail#ephemeral",
			"id":           "0a1b2c3d4e5f6789",
			"timestamp":    "2024-05-06T07:08:09.123456789Z",
			"attempts":     json.Number("3"),
			"nsqd_address": "127.0.0.1:4150",
			"body":         tt.wantBody,
		}
		if tt.wantEnc != "" {
			want["body_encoding"] = tt.wantEnc
		}
		if len(got) != len(want) {
			t.Errorf("%s: keys %v, want %v", tt.name, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %#v, want %#v", tt.name, k, got[k], v)
			}
		}
		if tt.wantEnc == "base64" {
			b, err := base64.StdEncoding.DecodeString(got["body"].(string))
			if err != nil || string(b) != tt.body {
				t.Errorf("%s: body decodes to %q, %v", tt.name, b, err)
			}
		}
	}
	// Field order is fixed and HTML is not escaped.
	if !strings.HasPrefix(lines[0], `{"topic":"events","channel":"tail#ephemeral","id":"0a1b2c3d4e5f6789","timestamp":`) ||
		!strings.Contains(lines[1], "<tag> &") {
		t.Errorf("unexpected layout: %s / %s", lines[0], lines[1])
	}
}

func TestNewRecord(t *testing.T) {
	var id client.MessageID
	copy(id[:], "0123456789abcdef")
	m := client.NewMessage(id, []byte("body"))
	m.Timestamp = time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano()
	m.Attempts = 2
	m.NSQDAddress = "h:1"
	r := NewRecord("t", "c", m)
	if r.Topic != "t" || r.Channel != "c" || r.ID != "0123456789abcdef" || r.Attempts != 2 ||
		r.NSQDAddress != "h:1" || !bytes.Equal(r.Body, []byte("body")) ||
		!r.Timestamp.Equal(time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)) {
		t.Fatalf("record %+v", r)
	}
}

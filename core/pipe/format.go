package pipe

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/fatih/color"

	"github.com/nsqkit/nsqkit/core/client"
)

// Record is what a tail formatter sees of one message: the message and
// where it came from. It is the data of a --format template, so its field
// names and types are part of nsq_tail's interface (see TemplateHelp).
type Record struct {
	Topic       string
	Channel     string
	ID          string    // the 16-character message ID nsqd assigned
	Timestamp   time.Time // when nsqd accepted the message (local time zone)
	Attempts    uint16    // delivery attempts, 1 the first time
	NSQDAddress string    // the nsqd (host:port) that delivered it
	Body        Body
}

// Body is a message body. It prints as its bytes unchanged, so in a
// template {{.Body}} and {{printf "%s" .Body}} both write the body as it
// is, while {{len .Body}} counts bytes.
type Body []byte

// String returns the body's bytes as a string (not necessarily UTF-8).
func (b Body) String() string { return string(b) }

// NewRecord describes message m received on topic/channel.
func NewRecord(topic, channel string, m *client.Message) *Record {
	return &Record{
		Topic:       topic,
		Channel:     channel,
		ID:          string(m.ID[:]),
		Timestamp:   time.Unix(0, m.Timestamp),
		Attempts:    m.Attempts,
		NSQDAddress: m.NSQDAddress,
		Body:        Body(m.Body),
	}
}

// A Formatter renders records as output lines. Format appends the
// rendering of r, separator included, to dst and returns the extended
// slice; on error dst is returned unchanged (nothing of r appended).
type Formatter interface {
	Format(dst []byte, r *Record) ([]byte, error)
}

// Raw writes each body as it is, byte for byte, followed by "\n" — NSQ
// nsq_tail's output. With PrintTopic each line starts with "<topic> | ";
// with Color that prefix is dimmed (the body never is).
type Raw struct {
	PrintTopic bool
	Color      bool
}

// topicStyle renders the topic prefix when colour is on.
var topicStyle = func() *color.Color {
	c := color.New(color.Faint)
	c.EnableColor()
	return c
}()

// Format implements Formatter.
func (f Raw) Format(dst []byte, r *Record) ([]byte, error) {
	if f.PrintTopic {
		if f.Color {
			dst = append(dst, topicStyle.Sprint(r.Topic+" |")...)
			dst = append(dst, ' ')
		} else {
			dst = append(dst, r.Topic...)
			dst = append(dst, " | "...)
		}
	}
	dst = append(dst, r.Body...)
	return append(dst, '\n'), nil
}

// Template renders each record with a Go text/template. A "\n" is added
// after each record unless the template text itself ends with a newline,
// in which case the template controls the line ends.
type Template struct {
	tmpl    *template.Template
	newline bool
	buf     bytes.Buffer
}

// templateFuncs are the functions a --format template may call besides
// text/template's built-ins.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		if b, ok := v.(Body); ok {
			v = string(b)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSuffix(buf.String(), "\n"), nil
	},
	"base64": func(b Body) string { return base64.StdEncoding.EncodeToString(b) },
	"hex":    func(b Body) string { return hex.EncodeToString(b) },
}

// TemplateHelp documents the data and functions of a --format template.
const TemplateHelp = `The template sees one message at a time with these fields:
  .Topic .Channel .NSQDAddress  strings
  .ID          the message ID (16 characters)
  .Timestamp   when nsqd accepted it: a time.Time, e.g. {{.Timestamp.Format "15:04:05.000"}}
               or {{.Timestamp.UnixNano}}
  .Attempts    delivery attempts (1 the first time)
  .Body        the body as it is: {{.Body}} or {{printf "%s" .Body}}; {{len .Body}} bytes
Functions besides text/template's: json (a JSON string or value, e.g. {{json .Body}}),
base64 and hex (of .Body). A newline follows each message unless the template
itself ends with one.`

// sampleRecord is what NewTemplate runs a template on to catch mistakes
// (unknown fields, bad calls) before any message is consumed.
var sampleRecord = &Record{
	Topic:       "topic",
	Channel:     "channel",
	ID:          "0123456789abcdef",
	Timestamp:   time.Unix(0, 0),
	Attempts:    1,
	NSQDAddress: "127.0.0.1:4150",
	Body:        Body("sample message body"),
}

// NewTemplate parses text as a --format template and checks it by
// rendering a sample record.
func NewTemplate(text string) (*Template, error) {
	if text == "" {
		return nil, errors.New("empty template")
	}
	t, err := template.New("format").Funcs(templateFuncs).Parse(text)
	if err != nil {
		return nil, err
	}
	f := &Template{tmpl: t, newline: !strings.HasSuffix(text, "\n")}
	if _, err := f.Format(nil, sampleRecord); err != nil {
		return nil, err
	}
	return f, nil
}

// Format implements Formatter. A Template is not safe for concurrent use.
func (f *Template) Format(dst []byte, r *Record) ([]byte, error) {
	f.buf.Reset()
	if err := f.tmpl.Execute(&f.buf, r); err != nil {
		return dst, err
	}
	dst = append(dst, f.buf.Bytes()...)
	if f.newline {
		dst = append(dst, '\n')
	}
	return dst, nil
}

// JSON writes one JSON object per record and line:
//
//	{"topic":…,"channel":…,"id":…,"timestamp":…,"attempts":…,"nsqd_address":…,"body":…}
//
// timestamp is RFC 3339 with nanoseconds in UTC. body is the body as a
// string when it is valid UTF-8; otherwise it is base64 (standard
// encoding) and "body_encoding":"base64" follows.
type JSON struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// jsonRecord is the shape of a JSON line.
type jsonRecord struct {
	Topic        string `json:"topic"`
	Channel      string `json:"channel"`
	ID           string `json:"id"`
	Timestamp    string `json:"timestamp"`
	Attempts     uint16 `json:"attempts"`
	NSQDAddress  string `json:"nsqd_address"`
	Body         string `json:"body"`
	BodyEncoding string `json:"body_encoding,omitempty"`
}

// JSONTimeLayout is the layout of the timestamp field of --json lines.
const JSONTimeLayout = time.RFC3339Nano

// Format implements Formatter. A JSON is not safe for concurrent use.
func (f *JSON) Format(dst []byte, r *Record) ([]byte, error) {
	if f.enc == nil {
		f.enc = json.NewEncoder(&f.buf)
		f.enc.SetEscapeHTML(false)
	}
	jr := jsonRecord{
		Topic:       r.Topic,
		Channel:     r.Channel,
		ID:          r.ID,
		Timestamp:   r.Timestamp.UTC().Format(JSONTimeLayout),
		Attempts:    r.Attempts,
		NSQDAddress: r.NSQDAddress,
	}
	if utf8.Valid(r.Body) {
		jr.Body = string(r.Body)
	} else {
		jr.Body = base64.StdEncoding.EncodeToString(r.Body)
		jr.BodyEncoding = "base64"
	}
	f.buf.Reset()
	if err := f.enc.Encode(&jr); err != nil { // ends with "\n"
		return dst, fmt.Errorf("encoding message %s as JSON: %w", r.ID, err)
	}
	return append(dst, f.buf.Bytes()...), nil
}

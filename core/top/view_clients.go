package top

import (
	"fmt"
	"strings"
	"time"
)

// clientsView is every consumer connection of the cluster.
type clientsView struct{}

func (clientsView) crumb() string { return "clients" }

func (clientsView) build(d *data) page {
	if d.st == nil {
		return waiting(d)
	}
	sec := section{ID: "clients", Title: "CLIENTS", Cols: clientCols(true), Empty: "no client connected", Sort: 1}
	for _, r := range d.clients("") {
		sec.Rows = append(sec.Rows, d.clientRow(r, true))
	}
	info := []string{}
	if np := d.st.Cluster.Totals.ProducerCount; np > 0 {
		info = append(info, d.s.Label.Render("producers ")+fmt.Sprintf("%d publishing connections (see a node's view)", np))
	}
	return page{Info: info, Sections: []section{sec}}
}

// clientView is one connection in detail.
type clientView struct{ key string }

func (v clientView) crumb() string {
	parts := strings.Split(v.key, "|")
	return "client " + parts[len(parts)-1]
}

func (v clientView) build(d *data) page {
	if d.st == nil {
		return waiting(d)
	}
	var ref *clientRef
	for _, r := range d.clients("") {
		if r.key() == v.key {
			ref = &r
			break
		}
	}
	if ref == nil {
		return page{Info: []string{d.s.Warn.Render("the connection is gone (" + strings.ReplaceAll(v.key, "|", " ") + ")")}}
	}
	c := ref.C
	s := c.Snap
	kv := func(k, val string) string { return d.s.Label.Render(pad(k, 17, false)) + val }
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	lines := []string{
		kv("client id", s.ClientID),
		kv("hostname", s.Hostname),
		kv("remote address", s.RemoteAddress),
		kv("user agent", s.UserAgent),
		kv("protocol", s.Version),
		kv("nsqd", s.Node),
		kv("topic/channel", ref.Topic+"/"+ref.Channel),
		kv("state", fmt.Sprintf("%d", s.State)),
		kv("ready (RDY)", num(s.ReadyCount)),
		kv("in flight", num(s.InFlightCount)),
		kv("messages", commas(s.MessageCount)),
		kv("finished", commas(s.FinishCount)+"  ("+rate(c.FinishRate)+")"),
		kv("requeued", commas(s.RequeueCount)),
		kv("connected", dur(c.ConnectedFor)+" ago ("+time.Unix(s.ConnectTs, 0).UTC().Format(time.RFC3339)+")"),
		kv("attributes", orNone(attrs(c))),
		kv("TLS", yes(s.TLS)+tlsDetail(s.TLSVersion, s.TLSCipherSuite, s.TLSNegotiatedProtocol)),
		kv("snappy / deflate", yes(s.Snappy)+" / "+yes(s.Deflate)),
		kv("sample rate", sampleRate(s.SampleRate)),
	}
	if s.Authed || s.AuthIdentity != "" {
		lines = append(lines, kv("auth identity", s.AuthIdentity+" "+s.AuthIdentityURL))
	}
	return page{Info: lines}
}

func tlsDetail(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return " (" + strings.Join(out, ", ") + ")"
}

func sampleRate(r int) string {
	if r <= 0 {
		return "all messages"
	}
	return fmt.Sprintf("%d%%", r)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

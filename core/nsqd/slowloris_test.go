package nsqd

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/nsqkit/nsqkit/core/wire"
)

// TestStalledClientsDropped: a connection that sends half the magic, half
// a command, a command without its whole body, or nothing at all after
// the magic is closed after its deadline — the client timeout for the
// magic, two heartbeats (the client timeout) for everything after it —
// at most after heartbeats and an error frame.
func TestStalledClientsDropped(t *testing.T) {
	opts := testOptions(t)
	opts.ClientTimeout = 400 * time.Millisecond
	n := startNSQD(t, opts)
	size := binary.BigEndian.AppendUint32(nil, 100)
	for _, tc := range []struct{ name, send string }{
		{"half the magic", "  V"},
		{"silent after the magic", string(wire.MagicV2)},
		{"half a command", string(wire.MagicV2) + "PUB sl"},
		{"half a body", string(wire.MagicV2) + "PUB sl\n" + string(size) + "0123456789"},
		{"half an MPUB", string(wire.MagicV2) + "MPUB sl\n" + string(size) + "\x00\x00\x00\x02\x00\x00\x00\x05hel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", n.TCPAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			began := time.Now()
			if _, err := io.WriteString(conn, tc.send); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if got, err := io.ReadAll(conn); err != nil {
				t.Fatalf("not dropped: %v (read %q)", err, got)
			}
			if d := time.Since(began); d > 3*time.Second {
				t.Fatalf("dropped after %s", d)
			}
		})
	}
	if d := n.GetTopic("sl").Depth(); d != 0 {
		t.Fatalf("a cut-short publish queued %d messages", d)
	}
}

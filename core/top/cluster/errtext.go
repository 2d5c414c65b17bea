package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/nsqkit/nsqkit/core/lookup"
)

// errText is the short form of a request error for a status line or a
// greyed row: the daemon's message for an HTTP error ("HTTP 404:
// TOPIC_NOT_FOUND"), "connection refused", "timeout", … and the full text
// only for what it does not recognise. The address is never repeated
// (the caller names the node).
func errText(err error) string {
	var he *lookup.HTTPError
	var dns *net.DNSError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &he):
		return fmt.Sprintf("HTTP %d: %s", he.Status, he.Message)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.As(err, &dns):
		return "unknown host " + dns.Name
	case errors.Is(err, context.Canceled):
		return "canceled"
	case lookup.IsTimeout(err):
		return "timeout"
	}
	return err.Error()
}

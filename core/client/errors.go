package client

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nsqkit/nsqkit/core/wire"
)

// Errors returned by the package. Local validation errors are returned
// before anything is sent, so the connections stay usable.
var (
	// ErrNotConnected: the connection a command needed is gone (or was
	// never made).
	ErrNotConnected = errors.New("not connected")
	// ErrStopped: the producer or consumer was stopped.
	ErrStopped = errors.New("stopped")
	// ErrAlreadyConnected: the consumer already has (or is making) a
	// connection to this nsqd.
	ErrAlreadyConnected = errors.New("already connected")
	// ErrOverMaxInFlight: an RDY count would exceed max_in_flight.
	ErrOverMaxInFlight = errors.New("over max in flight")
	// ErrNoHandlers: a consumer was asked to connect before any handler
	// was added.
	ErrNoHandlers = errors.New("no handlers")
	// ErrNoNodes: a producer has no nsqd address to publish to.
	ErrNoNodes = errors.New("no nsqd to publish to")
	// ErrPublishTimeout: publish_timeout passed before a publish was
	// acknowledged (it may or may not have been queued by nsqd).
	ErrPublishTimeout = errors.New("publish timed out")

	// ErrInvalidTopic: a topic name that nsqd would reject.
	ErrInvalidTopic = errors.New("invalid topic name")
	// ErrInvalidChannel: a channel name that nsqd would reject.
	ErrInvalidChannel = errors.New("invalid channel name")
	// ErrEmptyBody: nsqd rejects empty message bodies (fatally on TCP).
	ErrEmptyBody = errors.New("empty message body")
	// ErrMessageTooBig: a body above publish_max_msg_size.
	ErrMessageTooBig = errors.New("message too big")
	// ErrBodyTooBig: an MPUB body above publish_max_body_size.
	ErrBodyTooBig = errors.New("MPUB body too big")
	// ErrNoMessages: MPUB with no message.
	ErrNoMessages = errors.New("MPUB with no messages")
	// ErrInvalidDelay: a negative DPUB delay.
	ErrInvalidDelay = errors.New("invalid defer delay")
)

// ValidationError is a publish or subscribe refused locally; it matches
// one of the Err* sentinels above under errors.Is.
type ValidationError struct {
	Err    error  // the sentinel
	Detail string // e.g. the offending name or sizes
}

func (e *ValidationError) Error() string {
	if e.Detail == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + ": " + e.Detail
}

func (e *ValidationError) Unwrap() error { return e.Err }

func invalid(err error, format string, args ...any) error {
	return &ValidationError{Err: err, Detail: fmt.Sprintf(format, args...)}
}

// parseErrorFrame turns the data of an error frame into a *wire.Error:
// "<CODE> <description>", fatal unless the code is one of the three that
// leave the connection open.
func parseErrorFrame(data []byte) *wire.Error {
	code, desc, _ := strings.Cut(string(data), " ")
	return &wire.Error{Code: code, Desc: desc, Fatal: !isNonFatalCode(code)}
}

func isNonFatalCode(code string) bool {
	switch code {
	case wire.ErrCodeFinFailed, wire.ErrCodeReqFailed, wire.ErrCodeTouchFailed:
		return true
	}
	return false
}

// retryablePublishError reports whether a publish that failed with err may
// succeed if sent again (on this or another nsqd): the connection was lost,
// or nsqd could not queue it (topic exiting, disk error). Errors about the
// request itself (bad topic, bad body, authorisation) are final.
func retryablePublishError(err error) bool {
	if errors.Is(err, ErrNotConnected) {
		return true
	}
	var we *wire.Error
	if errors.As(err, &we) {
		switch we.Code {
		case wire.ErrCodePubFailed, wire.ErrCodeMPubFailed, wire.ErrCodeDPubFailed:
			return true
		}
	}
	return false
}

// connError is a connection failure: ErrNotConnected with its cause.
type connError struct {
	addr  string
	cause error
}

func (e *connError) Error() string {
	if e.cause == nil {
		return "not connected to " + e.addr
	}
	return "not connected to " + e.addr + ": " + e.cause.Error()
}

func (e *connError) Is(target error) bool { return target == ErrNotConnected }

func (e *connError) Unwrap() error { return e.cause }

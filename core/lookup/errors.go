package lookup

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. An [*HTTPError] whose Message carries the matching NSQ
// error text satisfies errors.Is with them, e.g.
//
//	if errors.Is(err, lookup.ErrTopicNotFound) { … }
var (
	ErrTopicNotFound   = errors.New("TOPIC_NOT_FOUND")
	ErrChannelNotFound = errors.New("CHANNEL_NOT_FOUND")
	// ErrNotFound: the daemon does not know the path (404 NOT_FOUND), e.g. an
	// endpoint the daemon's version does not have.
	ErrNotFound = errors.New("NOT_FOUND")
	// ErrTLSRequired: nsqd only talks HTTPS and the client could not switch
	// (no HTTPS port announced, or the retry is disabled).
	ErrTLSRequired = errors.New("TLS_REQUIRED")
	// ErrNoAddresses: a call that needs at least one address got none.
	ErrNoAddresses = errors.New("no addresses given")
)

// sentinels maps each sentinel to the message that matches it.
var sentinels = map[error]string{
	ErrTopicNotFound:   "TOPIC_NOT_FOUND",
	ErrChannelNotFound: "CHANNEL_NOT_FOUND",
	ErrNotFound:        "NOT_FOUND",
	ErrTLSRequired:     "TLS_REQUIRED",
}

// HTTPError is a non-2xx answer from nsqd or lookupd (or a legacy envelope
// whose status_code is not 200).
type HTTPError struct {
	Addr    string // the address as the caller gave it
	Method  string // GET, POST
	Path    string // e.g. "/lookup"
	Status  int    // HTTP status (or the legacy envelope's status_code)
	Message string // {"message":…}, the legacy status_txt, or the text body

	// HTTPSPort is the "https_port" of nsqd's TLS_REQUIRED answer (0 otherwise).
	HTTPSPort int
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s%s: HTTP %d: %s", e.Method, e.Addr, e.Path, e.Status, e.Message)
}

// Is reports whether target is the sentinel error for e.Message.
func (e *HTTPError) Is(target error) bool {
	msg, ok := sentinels[target]
	return ok && e.Message == msg
}

// AddrError is the failure of one address in a call that asked several.
type AddrError struct {
	Addr string
	Err  error
}

func (e *AddrError) Error() string {
	// Our own errors already name the address; do not repeat it.
	if s := e.Err.Error(); strings.Contains(s, e.Addr) {
		return s
	}
	return e.Addr + ": " + e.Err.Error()
}

func (e *AddrError) Unwrap() error { return e.Err }

// MultiError lists the addresses that failed in a call that asked several.
// errors.Is and errors.As look into every failure.
type MultiError struct {
	Errors []*AddrError
}

func (m *MultiError) Error() string {
	switch len(m.Errors) {
	case 0:
		return "no errors"
	case 1:
		return m.Errors[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d addresses failed: ", len(m.Errors))
	for i, e := range m.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

func (m *MultiError) Unwrap() []error {
	out := make([]error, len(m.Errors))
	for i, e := range m.Errors {
		out[i] = e
	}
	return out
}

// Partial is embedded in the results of the calls that ask several lookupds:
// the addresses that answered and the failures of the others.
type Partial struct {
	Answered []string     `json:"answered,omitempty"`
	Errors   []*AddrError `json:"-"`
}

// Err is the failures as one error (a [*MultiError]), nil if every address
// answered. Handy for logging a warning.
func (p *Partial) Err() error {
	if len(p.Errors) == 0 {
		return nil
	}
	return &MultiError{Errors: p.Errors}
}

package wire

// Protocol error codes of nsqd's TCP protocol V2 (tcp-protocol.md 1.8).
const (
	ErrCodeBadProtocol    = "E_BAD_PROTOCOL"
	ErrCodeInvalid        = "E_INVALID"
	ErrCodeBadBody        = "E_BAD_BODY"
	ErrCodeBadMessage     = "E_BAD_MESSAGE"
	ErrCodeBadTopic       = "E_BAD_TOPIC"
	ErrCodeBadChannel     = "E_BAD_CHANNEL"
	ErrCodeIdentifyFailed = "E_IDENTIFY_FAILED"
	ErrCodeAuthDisabled   = "E_AUTH_DISABLED"
	ErrCodeAuthFailed     = "E_AUTH_FAILED"
	ErrCodeAuthFirst      = "E_AUTH_FIRST"
	ErrCodeUnauthorized   = "E_UNAUTHORIZED"
	ErrCodeAuthError      = "E_AUTH_ERROR"
	ErrCodeSubFailed      = "E_SUB_FAILED"
	ErrCodePubFailed      = "E_PUB_FAILED"
	ErrCodeMPubFailed     = "E_MPUB_FAILED"
	ErrCodeDPubFailed     = "E_DPUB_FAILED"
	ErrCodeFinFailed      = "E_FIN_FAILED"
	ErrCodeReqFailed      = "E_REQ_FAILED"
	ErrCodeTouchFailed    = "E_TOUCH_FAILED"
)

// Error is a protocol error: the code and description sent to the peer in
// an error frame, and whether the connection must be closed after it.
type Error struct {
	Code  string
	Desc  string
	Fatal bool
}

// Error returns the text sent on the wire: "<CODE> <description>", or the
// bare code when there is no description.
func (e *Error) Error() string {
	if e.Desc == "" {
		return e.Code
	}
	return e.Code + " " + e.Desc
}

// Fatalf builds a fatal protocol error.
func Fatal(code, desc string) *Error { return &Error{Code: code, Desc: desc, Fatal: true} }

// NonFatal builds a protocol error after which the connection stays open.
func NonFatal(code, desc string) *Error { return &Error{Code: code, Desc: desc} }

package wire

import (
	"errors"
	"testing"
)

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Code: ErrCodeBadProtocol}, "E_BAD_PROTOCOL"},
		{Fatal(ErrCodeInvalid, "invalid command "), "E_INVALID invalid command "},
		{Fatal(ErrCodeInvalid, "invalid command FOO"), "E_INVALID invalid command FOO"},
		{Fatal(ErrCodeBadTopic, `E_BAD_TOPIC MPUB topic name "a b" is not valid`), `E_BAD_TOPIC E_BAD_TOPIC MPUB topic name "a b" is not valid`},
		{Fatal(ErrCodeBadBody, "IDENTIFY failed to decode JSON body"), "E_BAD_BODY IDENTIFY failed to decode JSON body"},
		{NonFatal(ErrCodeFinFailed, "FIN 0123456789abcdef failed ID not in flight"), "E_FIN_FAILED FIN 0123456789abcdef failed ID not in flight"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestErrorConstructors(t *testing.T) {
	f := Fatal(ErrCodeInvalid, "x")
	if !f.Fatal || f.Code != ErrCodeInvalid || f.Desc != "x" {
		t.Errorf("Fatal() = %+v", f)
	}
	n := NonFatal(ErrCodeReqFailed, "y")
	if n.Fatal || n.Code != ErrCodeReqFailed || n.Desc != "y" {
		t.Errorf("NonFatal() = %+v", n)
	}
	var err error = f
	var pe *Error
	if !errors.As(err, &pe) || pe != f {
		t.Errorf("errors.As failed for *Error")
	}
}

// tcp-protocol.md 1.8.
func TestErrorCodes(t *testing.T) {
	codes := map[string]string{
		ErrCodeBadProtocol:    "E_BAD_PROTOCOL",
		ErrCodeInvalid:        "E_INVALID",
		ErrCodeBadBody:        "E_BAD_BODY",
		ErrCodeBadMessage:     "E_BAD_MESSAGE",
		ErrCodeBadTopic:       "E_BAD_TOPIC",
		ErrCodeBadChannel:     "E_BAD_CHANNEL",
		ErrCodeIdentifyFailed: "E_IDENTIFY_FAILED",
		ErrCodeAuthDisabled:   "E_AUTH_DISABLED",
		ErrCodeAuthFailed:     "E_AUTH_FAILED",
		ErrCodeAuthFirst:      "E_AUTH_FIRST",
		ErrCodeUnauthorized:   "E_UNAUTHORIZED",
		ErrCodeAuthError:      "E_AUTH_ERROR",
		ErrCodeSubFailed:      "E_SUB_FAILED",
		ErrCodePubFailed:      "E_PUB_FAILED",
		ErrCodeMPubFailed:     "E_MPUB_FAILED",
		ErrCodeDPubFailed:     "E_DPUB_FAILED",
		ErrCodeFinFailed:      "E_FIN_FAILED",
		ErrCodeReqFailed:      "E_REQ_FAILED",
		ErrCodeTouchFailed:    "E_TOUCH_FAILED",
	}
	for got, want := range codes {
		if got != want {
			t.Errorf("code %q, want %q", got, want)
		}
	}
	if len(codes) != 19 {
		t.Errorf("codes collide: %d distinct, want 19", len(codes))
	}
}

package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Error is an endpoint's failure: the HTTP status and the text of the
// V1 error body {"message":"<Text>"} (or the plain-text body).
type Error struct {
	Code int
	Text string
}

func (e Error) Error() string { return e.Text }

// Err returns an Error as an error.
func Err(code int, text string) error { return Error{code, text} }

// Handle serves a routed request; param is the value of the route's
// ":name" segment, if it has one.
type Handle func(w http.ResponseWriter, r *http.Request, param string)

// APIFunc is an endpoint whose result V1 or PlainText renders: a string
// or []byte (text), nil (empty body) or any JSON-marshalable value. An
// error that is not an Error becomes 500 INTERNAL_ERROR.
type APIFunc func(w http.ResponseWriter, r *http.Request, param string) (any, error)

// The V1 header and content types.
const (
	HeaderNSQContentType = "X-NSQ-Content-Type"
	NSQContentTypeV1     = "nsq; version=1.0"
	ContentTypeJSON      = "application/json; charset=utf-8"
	ContentTypeText      = "text/plain; charset=utf-8"
)

// RespondV1 writes a V1 response (http-api.md §1.1). With code 200: a
// string or []byte is written verbatim as text, nil gives an empty body
// without Content-Type, anything else compact JSON. Any other code
// writes {"message":"<data>"}. X-NSQ-Content-Type is always set.
func RespondV1(w http.ResponseWriter, code int, data any) {
	var body []byte
	ctype := ""
	if code == http.StatusOK {
		switch d := data.(type) {
		case string:
			body = []byte(d)
			ctype = ContentTypeText
		case []byte:
			body = d
			ctype = ContentTypeText
		case nil:
		default:
			js, err := json.Marshal(d)
			if err != nil {
				code, data = http.StatusInternalServerError, "INTERNAL_ERROR"
			} else {
				body = js
				ctype = ContentTypeJSON
			}
		}
	}
	if code != http.StatusOK {
		body, _ = json.Marshal(struct {
			Message string `json:"message"`
		}{fmt.Sprint(data)})
		ctype = ContentTypeJSON
	}
	if len(body) > 0 || code != http.StatusOK {
		w.Header().Set("Content-Type", ctype)
	}
	w.Header().Set(HeaderNSQContentType, NSQContentTypeV1)
	w.WriteHeader(code)
	w.Write(body)
}

// V1 renders f's result or error with RespondV1.
func V1(f APIFunc) Handle {
	return func(w http.ResponseWriter, r *http.Request, param string) {
		data, err := f(w, r, param)
		if err != nil {
			var he Error
			if !errors.As(err, &he) {
				he = Error{http.StatusInternalServerError, "INTERNAL_ERROR"}
			}
			RespondV1(w, he.Code, he.Text)
			return
		}
		RespondV1(w, http.StatusOK, data)
	}
}

// PlainText renders f's result (a string or []byte) or its error text as
// a bare body without X-NSQ-Content-Type; Go sniffs the Content-Type.
func PlainText(f APIFunc) Handle {
	return func(w http.ResponseWriter, r *http.Request, param string) {
		data, err := f(w, r, param)
		code := http.StatusOK
		if err != nil {
			code = http.StatusInternalServerError
			var he Error
			if errors.As(err, &he) {
				code = he.Code
			}
			data = err.Error()
		}
		w.WriteHeader(code)
		switch d := data.(type) {
		case string:
			io.WriteString(w, d)
		case []byte:
			w.Write(d)
		}
	}
}

// Std adapts a net/http handler (pprof, promhttp).
func Std(h http.Handler) Handle {
	return func(w http.ResponseWriter, r *http.Request, _ string) { h.ServeHTTP(w, r) }
}

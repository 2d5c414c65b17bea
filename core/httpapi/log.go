package httpapi

import (
	"log"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
)

// Logged wraps h: every request is logged at INFO as
// "<status> <METHOD> <request-uri> (<remote-addr>) <elapsed>" and a
// handler panic answers 500 INTERNAL_ERROR (when nothing was written
// yet) and is logged with its stack; http.ErrAbortHandler is re-raised.
func Logged(lg *logger.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				buf := make([]byte, 4096)
				buf = buf[:runtime.Stack(buf, false)]
				lg.Errorf("panic in HTTP handler - %v\n%s", p, buf)
				if !sw.wroteHeader {
					RespondV1(sw, http.StatusInternalServerError, "INTERNAL_ERROR")
				}
			}
			lg.Infof("%d %s %s (%s) %s", sw.status(), r.Method, r.URL.RequestURI(), r.RemoteAddr, time.Since(start))
		}()
		h.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.code = http.StatusOK
		w.wroteHeader = true
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if !w.wroteHeader {
			w.code, w.wroteHeader = http.StatusOK, true
		}
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if !w.wroteHeader {
		return http.StatusOK
	}
	return w.code
}

// ErrorLog is a *log.Logger for http.Server.ErrorLog that sends
// net/http's own error lines to lg at WARNING.
func ErrorLog(lg *logger.Logger) *log.Logger { return log.New(logWriter{lg}, "", 0) }

type logWriter struct{ lg *logger.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.lg.Warnf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Timeouts bound how long one HTTP connection may hold the server. NSQ
// 1.3.0's servers set none, so a client that sends half a request, or
// keeps a connection open without one, holds a connection and a goroutine
// for ever (slow-loris).
type Timeouts struct {
	ReadHeader time.Duration // the request line and headers
	Read       time.Duration // the whole request, body included
	Write      time.Duration // the response (also the longest pprof profile)
	Idle       time.Duration // a keep-alive connection between requests
}

// DefaultTimeouts are the daemons': generous for any real client (a
// 5 MB /mpub body over a slow link, a 4-minute CPU profile), short enough
// that stalled connections go.
var DefaultTimeouts = Timeouts{
	ReadHeader: 10 * time.Second,
	Read:       time.Minute,
	Write:      5 * time.Minute,
	Idle:       2 * time.Minute,
}

// NewServer is an http.Server for h whose own errors go to lg, with
// DefaultTimeouts.
func NewServer(h http.Handler, lg *logger.Logger) *http.Server {
	return NewServerTimeouts(h, lg, DefaultTimeouts)
}

// NewServerTimeouts is NewServer with the given timeouts.
func NewServerTimeouts(h http.Handler, lg *logger.Logger, t Timeouts) *http.Server {
	return &http.Server{
		Handler:           h,
		ErrorLog:          ErrorLog(lg),
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
	}
}

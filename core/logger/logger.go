// Package logger is the daemons' and tools' leveled logger, writing lines in
// NSQ's style: "<prefix>2026/01/02 15:04:05.000000 INFO: message".
package logger

import (
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync/atomic"
)

// Level is a log verbosity level; the numbers match nsqd's /config/log_level.
type Level int32

// Levels, lowest first.
const (
	Debug Level = 1
	Info  Level = 2
	Warn  Level = 3
	Error Level = 4
	Fatal Level = 5
)

// String is the name used in log lines.
func (l Level) String() string {
	switch l {
	case Debug:
		return "DEBUG"
	case Info:
		return "INFO"
	case Warn:
		return "WARNING"
	case Error:
		return "ERROR"
	case Fatal:
		return "FATAL"
	}
	return fmt.Sprintf("LEVEL(%d)", int32(l))
}

// ParseLevel accepts debug, info, warn, error and fatal, in any case.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return Debug, nil
	case "info":
		return Info, nil
	case "warn", "warning":
		return Warn, nil
	case "error":
		return Error, nil
	case "fatal":
		return Fatal, nil
	}
	return 0, fmt.Errorf("invalid log level %q", s)
}

// Logger writes leveled lines. It is safe for concurrent use and its level
// can change at run time.
type Logger struct {
	l     *log.Logger
	level atomic.Int32
}

// New returns a logger writing to w (stderr when nil) with the given prefix.
func New(w io.Writer, prefix string, level Level) *Logger {
	if w == nil {
		w = os.Stderr
	}
	lg := &Logger{l: log.New(w, prefix, log.Ldate|log.Ltime|log.Lmicroseconds)}
	lg.level.Store(int32(level))
	return lg
}

// Discard is a logger that writes nothing.
func Discard() *Logger { return New(io.Discard, "", Fatal+1) }

// SetLevel changes the verbosity.
func (lg *Logger) SetLevel(l Level) { lg.level.Store(int32(l)) }

// Level is the current verbosity.
func (lg *Logger) Level() Level { return Level(lg.level.Load()) }

// Enabled reports whether lines at l are written.
func (lg *Logger) Enabled(l Level) bool { return lg != nil && l >= lg.Level() }

// Logf writes one line at level l.
func (lg *Logger) Logf(l Level, format string, args ...any) {
	if !lg.Enabled(l) {
		return
	}
	lg.l.Output(3, l.String()+": "+fmt.Sprintf(format, args...))
}

// Debugf logs at DEBUG.
func (lg *Logger) Debugf(format string, args ...any) { lg.Logf(Debug, format, args...) }

// Infof logs at INFO.
func (lg *Logger) Infof(format string, args ...any) { lg.Logf(Info, format, args...) }

// Warnf logs at WARNING.
func (lg *Logger) Warnf(format string, args ...any) { lg.Logf(Warn, format, args...) }

// Errorf logs at ERROR.
func (lg *Logger) Errorf(format string, args ...any) { lg.Logf(Error, format, args...) }

// Fatalf logs at FATAL (it does not exit; callers decide).
func (lg *Logger) Fatalf(format string, args ...any) { lg.Logf(Fatal, format, args...) }

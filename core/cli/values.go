package cli

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
)

// Value is a flag.Value bound to a typed destination that can also be set
// from a value decoded from a TOML config file (string, int64, float64,
// bool or []any) or, as a string, from an environment variable.
type Value interface {
	flag.Value
	// SetConfig sets the destination from a decoded TOML value, applying
	// the coercions of cli-flags.md §1 (a string is always accepted in the
	// same syntax as on the command line, lists also comma-separated).
	SetConfig(v any) error
}

// strictValue marks the values whose config key is validated even when a
// higher-precedence source overrides it, with the fatal message
// "failed parsing <key> <value>" (log_level, tls_required, tls_min_version).
type strictValue interface {
	checkConfig(v any) error
}

var (
	errParse = errors.New("parse error")
	errRange = errors.New("value out of range")
)

// numErr turns a strconv error into Go's flag-package wording.
func numErr(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
		return errRange
	}
	return errParse
}

func typeName(v any) string {
	switch v.(type) {
	case []any:
		return "array"
	case map[string]any:
		return "table"
	}
	return fmt.Sprintf("%T", v)
}

// configString is the string form of a scalar TOML value.
func configString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fmt.Errorf("expected a string, got %s", typeName(v))
}

// configInt converts a TOML integer, integral float or integer string.
func configInt(v any, bits int) (int64, error) {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case float64:
		if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
			return 0, fmt.Errorf("expected an integer, got %v", x)
		}
		n = int64(x)
	case string:
		p, err := strconv.ParseInt(strings.TrimSpace(x), 0, bits)
		if err != nil {
			return 0, numErr(err)
		}
		return p, nil
	default:
		return 0, fmt.Errorf("expected an integer, got %s", typeName(v))
	}
	if bits < 64 && (n < -1<<(bits-1) || n > 1<<(bits-1)-1) {
		return 0, errRange
	}
	return n, nil
}

// configList splits a TOML array or a comma-separated string into items.
func configList(v any) ([]string, error) {
	switch x := v.(type) {
	case []any:
		items := make([]string, 0, len(x))
		for _, e := range x {
			s, err := configString(e)
			if err != nil {
				return nil, fmt.Errorf("list element: %w", err)
			}
			items = append(items, s)
		}
		return items, nil
	case string:
		items := []string{}
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		return items, nil
	}
	return nil, fmt.Errorf("expected an array or a comma-separated string, got %s", typeName(v))
}

// StringValue is a string option.
type StringValue struct{ p *string }

// NewStringValue binds a StringValue to p.
func NewStringValue(p *string) *StringValue { return &StringValue{p} }

func (v *StringValue) Set(s string) error { *v.p = s; return nil }

func (v *StringValue) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return *v.p
}

// SetConfig accepts a TOML string (or a number/boolean, used as its text).
func (v *StringValue) SetConfig(c any) error {
	s, err := configString(c)
	if err != nil {
		return err
	}
	return v.Set(s)
}

// IntValue is an int option in Go integer syntax (decimal, 0x hex, 0 octal).
type IntValue struct{ p *int }

// NewIntValue binds an IntValue to p.
func NewIntValue(p *int) *IntValue { return &IntValue{p} }

func (v *IntValue) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, strconv.IntSize)
	if err != nil {
		return numErr(err)
	}
	*v.p = int(n)
	return nil
}

func (v *IntValue) String() string {
	if v == nil || v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

// SetConfig accepts a TOML integer or a string containing one.
func (v *IntValue) SetConfig(c any) error {
	n, err := configInt(c, strconv.IntSize)
	if err != nil {
		return err
	}
	*v.p = int(n)
	return nil
}

// Int64Value is an int64 option in Go integer syntax.
type Int64Value struct{ p *int64 }

// NewInt64Value binds an Int64Value to p.
func NewInt64Value(p *int64) *Int64Value { return &Int64Value{p} }

func (v *Int64Value) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return numErr(err)
	}
	*v.p = n
	return nil
}

func (v *Int64Value) String() string {
	if v == nil || v.p == nil {
		return "0"
	}
	return strconv.FormatInt(*v.p, 10)
}

// SetConfig accepts a TOML integer or a string containing one.
func (v *Int64Value) SetConfig(c any) error {
	n, err := configInt(c, 64)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}

// BoolValue is a boolean option: "--name" alone means true.
type BoolValue struct{ p *bool }

// NewBoolValue binds a BoolValue to p.
func NewBoolValue(p *bool) *BoolValue { return &BoolValue{p} }

func (v *BoolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errParse
	}
	*v.p = b
	return nil
}

func (v *BoolValue) String() string {
	if v == nil || v.p == nil {
		return "false"
	}
	return strconv.FormatBool(*v.p)
}

// IsBoolFlag lets the flag package accept the flag without a value.
func (v *BoolValue) IsBoolFlag() bool { return true }

// SetConfig accepts a TOML boolean, a string parsable as a boolean, or the
// integers 0 and 1.
func (v *BoolValue) SetConfig(c any) error {
	switch x := c.(type) {
	case bool:
		*v.p = x
		return nil
	case string:
		return v.Set(strings.TrimSpace(x))
	case int64:
		if x == 0 || x == 1 {
			*v.p = x == 1
			return nil
		}
	}
	return fmt.Errorf("expected a boolean, got %v", c)
}

// DurationValue is a time.Duration option in Go duration syntax.
type DurationValue struct{ p *time.Duration }

// NewDurationValue binds a DurationValue to p.
func NewDurationValue(p *time.Duration) *DurationValue { return &DurationValue{p} }

func (v *DurationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*v.p = d
	return nil
}

func (v *DurationValue) String() string {
	if v == nil || v.p == nil {
		return "0s"
	}
	return v.p.String()
}

// SetConfig accepts a Go duration string ("60s") or a TOML integer meaning
// milliseconds.
func (v *DurationValue) SetConfig(c any) error {
	switch x := c.(type) {
	case string:
		return v.Set(strings.TrimSpace(x))
	case int64:
		if x > math.MaxInt64/int64(time.Millisecond) || x < math.MinInt64/int64(time.Millisecond) {
			return errRange
		}
		*v.p = time.Duration(x) * time.Millisecond
		return nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < float64(math.MaxInt64/int64(time.Millisecond)) {
			*v.p = time.Duration(x) * time.Millisecond
			return nil
		}
	}
	return fmt.Errorf("expected a duration string (\"60s\") or integer milliseconds, got %v", c)
}

// StringsValue is a repeatable string option: each occurrence on the
// command line appends one entry (no comma splitting); the first occurrence
// replaces the default. From a config file or the environment it takes an
// array or a comma-separated string.
type StringsValue struct {
	p       *[]string
	changed bool
}

// NewStringsValue binds a StringsValue to p.
func NewStringsValue(p *[]string) *StringsValue { return &StringsValue{p: p} }

func (v *StringsValue) Set(s string) error {
	if !v.changed {
		*v.p = nil
		v.changed = true
	}
	*v.p = append(*v.p, s)
	return nil
}

func (v *StringsValue) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

// SetConfig replaces the list with a TOML array or a comma-separated string.
func (v *StringsValue) SetConfig(c any) error {
	items, err := configList(c)
	if err != nil {
		return err
	}
	*v.p = items
	v.changed = true
	return nil
}

// FloatsValue is a repeatable float64 list option: each occurrence may hold
// several comma-separated numbers; the list is kept sorted in descending
// order. The first occurrence replaces the default.
type FloatsValue struct {
	p       *[]float64
	changed bool
}

// NewFloatsValue binds a FloatsValue to p.
func NewFloatsValue(p *[]float64) *FloatsValue { return &FloatsValue{p: p} }

func parseFloats(items []string) ([]float64, error) {
	out := make([]float64, 0, len(items))
	for _, s := range items {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("Could not parse: %s", s)
		}
		out = append(out, f)
	}
	return out, nil
}

func sortDesc(f []float64) { sort.Sort(sort.Reverse(sort.Float64Slice(f))) }

func (v *FloatsValue) Set(s string) error {
	fs, err := parseFloats(strings.Split(s, ","))
	if err != nil {
		return err
	}
	if !v.changed {
		*v.p = nil
		v.changed = true
	}
	*v.p = append(*v.p, fs...)
	sortDesc(*v.p)
	return nil
}

func (v *FloatsValue) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	s := make([]string, len(*v.p))
	for i, f := range *v.p {
		s[i] = strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strings.Join(s, ",")
}

// SetConfig replaces the list with a TOML array (of numbers or numeric
// strings) or a comma-separated string; the result is sorted descending.
func (v *FloatsValue) SetConfig(c any) error {
	items, err := configList(c)
	if err != nil {
		return err
	}
	fs, err := parseFloats(items)
	if err != nil {
		return err
	}
	sortDesc(fs)
	*v.p = fs
	v.changed = true
	return nil
}

// LevelValue is a log level: debug, info, warn, error or fatal (any case).
type LevelValue struct{ p *logger.Level }

// NewLevelValue binds a LevelValue to p.
func NewLevelValue(p *logger.Level) *LevelValue { return &LevelValue{p} }

func (v *LevelValue) Set(s string) error {
	l, err := logger.ParseLevel(s)
	if err != nil {
		return err
	}
	*v.p = l
	return nil
}

func (v *LevelValue) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	switch *v.p {
	case logger.Warn:
		return "warn"
	case logger.Debug, logger.Info, logger.Error, logger.Fatal:
		return strings.ToLower(v.p.String())
	}
	return v.p.String()
}

// SetConfig accepts the level name as a string.
func (v *LevelValue) SetConfig(c any) error { return v.Set(fmt.Sprint(c)) }

func (v *LevelValue) checkConfig(c any) error {
	_, err := logger.ParseLevel(fmt.Sprint(c))
	return err
}

// TLSRequiredValue is nsqd's --tls-required: a boolean-style flag
// ("--tls-required" alone = true) that also accepts "tcp-https".
// true → 2 (TLS required everywhere), tcp-https → 1, false → 0.
type TLSRequiredValue struct{ p *int }

// NewTLSRequiredValue binds a TLSRequiredValue to p.
func NewTLSRequiredValue(p *int) *TLSRequiredValue { return &TLSRequiredValue{p} }

func parseTLSRequired(s string) (int, error) {
	if strings.EqualFold(s, "tcp-https") {
		return 1, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return 0, fmt.Errorf("want true, false or tcp-https")
	}
	if b {
		return 2, nil
	}
	return 0, nil
}

func (v *TLSRequiredValue) Set(s string) error {
	n, err := parseTLSRequired(s)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}

func (v *TLSRequiredValue) String() string {
	if v == nil || v.p == nil {
		return "false"
	}
	switch *v.p {
	case 0:
		return "false"
	case 1:
		return "tcp-https"
	case 2:
		return "true"
	}
	return strconv.Itoa(*v.p)
}

// IsBoolFlag lets "--tls-required" stand alone (meaning true).
func (v *TLSRequiredValue) IsBoolFlag() bool { return true }

// SetConfig accepts true, false, "tcp-https" or string forms of booleans.
func (v *TLSRequiredValue) SetConfig(c any) error { return v.Set(fmt.Sprint(c)) }

func (v *TLSRequiredValue) checkConfig(c any) error {
	_, err := parseTLSRequired(fmt.Sprint(c))
	return err
}

// TLSVersionValue is a minimum TLS version: tls1.0 … tls1.3 (any case).
// An empty string leaves the current (default) value unchanged.
type TLSVersionValue struct{ p *uint16 }

// NewTLSVersionValue binds a TLSVersionValue to p.
func NewTLSVersionValue(p *uint16) *TLSVersionValue { return &TLSVersionValue{p} }

var tlsVersions = []struct {
	name string
	v    uint16
}{
	{"tls1.0", tls.VersionTLS10},
	{"tls1.1", tls.VersionTLS11},
	{"tls1.2", tls.VersionTLS12},
	{"tls1.3", tls.VersionTLS13},
}

// parseTLSVersion returns 0 for "".
func parseTLSVersion(s string) (uint16, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return 0, nil
	}
	for _, tv := range tlsVersions {
		if s == tv.name {
			return tv.v, nil
		}
	}
	if s == "ssl3.0" {
		return 0, errors.New("ssl3.0 is not supported (use tls1.0, tls1.1, tls1.2 or tls1.3)")
	}
	return 0, fmt.Errorf("unknown TLS version %q (use tls1.0, tls1.1, tls1.2 or tls1.3)", s)
}

func (v *TLSVersionValue) Set(s string) error {
	n, err := parseTLSVersion(s)
	if err != nil {
		return err
	}
	if n != 0 {
		*v.p = n
	}
	return nil
}

func (v *TLSVersionValue) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	for _, tv := range tlsVersions {
		if *v.p == tv.v {
			return tv.name
		}
	}
	return fmt.Sprintf("0x%04x", *v.p)
}

// SetConfig accepts the version name as a string ("" = default).
func (v *TLSVersionValue) SetConfig(c any) error { return v.Set(fmt.Sprint(c)) }

func (v *TLSVersionValue) checkConfig(c any) error {
	_, err := parseTLSVersion(fmt.Sprint(c))
	return err
}

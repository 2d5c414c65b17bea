package archive

import (
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/strftime"
)

// nsqDirectives are the strftime directives nsq_to_file understands in
// --datetime-format; any other %x is copied literally (as NSQ does), and so
// is a lone % at the end.
var nsqDirectives = directiveSet{
	'Y': strftime.StdlibFormat("2006"),
	'y': strftime.StdlibFormat("06"),
	'm': strftime.StdlibFormat("01"),
	'd': strftime.StdlibFormat("02"),
	'H': strftime.StdlibFormat("15"),
	'I': strftime.StdlibFormat("03"),
	'M': strftime.StdlibFormat("04"),
	'S': strftime.StdlibFormat("05"),
	'p': strftime.StdlibFormat("PM"),
	'b': strftime.StdlibFormat("Jan"),
	'B': strftime.StdlibFormat("January"),
	'a': strftime.StdlibFormat("Mon"),
	'A': strftime.StdlibFormat("Monday"),
	'Z': strftime.StdlibFormat("MST"),
	'z': strftime.StdlibFormat("-0700"),
	'%': strftime.Verbatim("%"),
}

// directiveSet is a fixed strftime.SpecificationSet. (The library's own
// mutable set is not used: its Lookup never releases its read lock.)
type directiveSet map[byte]strftime.Appender

func (d directiveSet) Lookup(b byte) (strftime.Appender, error) {
	if a, ok := d[b]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("unknown directive %%%c", b)
}

func (d directiveSet) Delete(byte) error { return fmt.Errorf("directive set is read-only") }

func (d directiveSet) Set(byte, strftime.Appender) error {
	return fmt.Errorf("directive set is read-only")
}

// datetime formats <DATETIME>.
type datetime struct {
	f *strftime.Strftime
}

// newDatetime compiles an NSQ --datetime-format. lestrrat-go/strftime
// rejects unknown directives and a trailing %, so those are escaped first
// to come out literally.
func newDatetime(format string) (*datetime, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(format) {
			b.WriteString("%%")
			break
		}
		next := format[i+1]
		i++
		if _, ok := nsqDirectives[next]; ok {
			b.WriteByte('%')
			b.WriteByte(next)
		} else {
			b.WriteString("%%")
			b.WriteByte(next)
		}
	}
	f, err := strftime.New(b.String(), strftime.WithSpecificationSet(nsqDirectives))
	if err != nil {
		return nil, fmt.Errorf("compiling %q: %w", format, err)
	}
	return &datetime{f: f}, nil
}

// Append appends t formatted to dst.
func (d *datetime) Append(dst []byte, t time.Time) []byte { return d.f.FormatBuffer(dst, t) }

// Strftime formats t with an NSQ --datetime-format (see Options).
func Strftime(format string, t time.Time) (string, error) {
	d, err := newDatetime(format)
	if err != nil {
		return "", err
	}
	return string(d.Append(nil, t)), nil
}

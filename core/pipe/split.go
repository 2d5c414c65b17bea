package pipe

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Splitter cuts a byte stream into records at a delimiter. The stream is
// fed in chunks (whatever each read returned) with Feed; Next hands out
// the complete records of the chunk; End, at the end of the input, hands
// out the last record when the input did not end with a delimiter.
//
// The delimiter is removed and may be several bytes long, also when it
// straddles two chunks. Records are found left to right without overlap,
// exactly as bytes.Split finds its separators: with delimiter "aa" the
// input "aaa" is an empty record then "a". Empty records and records
// longer than the limit are not handed out; they are only counted (Empty,
// Oversized). A record over the limit is never buffered whole: once it
// passes the limit the rest is skipped up to the next delimiter.
//
// Records usually point into the chunk (no copy); a record that began in
// an earlier chunk is assembled in an internal buffer. Either way a record
// is only valid until the next call of Next, Feed or End, and a chunk
// must not change until Next has returned false.
type Splitter struct {
	delim []byte
	max   int // longest record handed out; 0 = no limit

	chunk []byte // unsplit rest of the current chunk

	// A record that began in an earlier chunk and is still open:
	// pending says one is open, carry holds its bytes so far (or, once it
	// is over the limit, only its last len(delim)-1 bytes, enough to see
	// a delimiter that straddles the next chunk), recLen its length.
	pending  bool
	carry    []byte
	recLen   int
	skipping bool

	empty, oversized uint64
}

// NewSplitter returns a Splitter for delim (at least one byte) that skips
// records longer than maxRecord bytes (0: no limit).
func NewSplitter(delim []byte, maxRecord int) *Splitter {
	if len(delim) == 0 {
		panic("pipe: empty delimiter")
	}
	if maxRecord < 0 {
		maxRecord = 0
	}
	return &Splitter{delim: bytes.Clone(delim), max: maxRecord}
}

// Empty is how many empty records were skipped.
func (s *Splitter) Empty() uint64 { return s.empty }

// Oversized is how many records over the limit were skipped.
func (s *Splitter) Oversized() uint64 { return s.oversized }

// Buffered is how many bytes of an unfinished record are held from
// earlier chunks (at most the limit + len(delim) - 1).
func (s *Splitter) Buffered() int { return len(s.carry) }

// Feed gives the splitter the next chunk of input. Call it only after
// Next returned false (the previous chunk is used up).
func (s *Splitter) Feed(chunk []byte) {
	if len(s.chunk) != 0 {
		panic("pipe: Splitter.Feed before the previous chunk was used up")
	}
	s.chunk = chunk
}

// Next returns the next complete record of the input fed so far, or false
// when the current chunk holds no more (feed the next one, or call End).
func (s *Splitter) Next() ([]byte, bool) {
	for len(s.chunk) > 0 {
		if s.pending {
			rec, done := s.continueRecord()
			if !done {
				return nil, false
			}
			if rec, ok := s.accept(rec); ok {
				return rec, true
			}
			continue
		}
		i := bytes.Index(s.chunk, s.delim)
		if i < 0 {
			s.start(s.chunk)
			s.chunk = nil
			return nil, false
		}
		rec := s.chunk[:i]
		s.chunk = s.chunk[i+len(s.delim):]
		if rec, ok := s.accept(rec); ok {
			return rec, true
		}
	}
	return nil, false
}

// Reset drops the rest of the current chunk and any open record (the
// counts stay), for a caller that stops reading part way.
func (s *Splitter) Reset() {
	s.chunk = nil
	s.pending, s.skipping = false, false
	s.carry, s.recLen = s.carry[:0], 0
}

// End marks the end of the input (call it once Next returned false) and
// returns the last record if the input did not end with a delimiter. The
// splitter is then ready for a new stream.
func (s *Splitter) End() ([]byte, bool) {
	if !s.pending {
		return nil, false
	}
	rec := s.finish()
	return s.accept(rec)
}

// accept counts rec if it is empty or skipped (nil with skipping), and
// says whether to hand it out.
func (s *Splitter) accept(rec []byte) ([]byte, bool) {
	switch {
	case rec == nil:
		s.oversized++
	case len(rec) == 0:
		s.empty++
	case s.max > 0 && len(rec) > s.max:
		s.oversized++
	default:
		return rec, true
	}
	return nil, false
}

// start opens a record with the unterminated tail of a chunk.
func (s *Splitter) start(tail []byte) {
	s.pending = true
	s.carry = s.carry[:0]
	s.recLen = 0
	s.skipping = false
	s.grow(tail)
}

// grow adds b to the open record, switching to skipping once it is over
// the limit.
func (s *Splitter) grow(b []byte) {
	s.recLen += len(b)
	// The last len(delim)-1 bytes may yet turn out to be the start of the
	// delimiter, so only a longer run is surely over the limit.
	if !s.skipping && s.max > 0 && s.recLen > s.max+len(s.delim)-1 {
		s.skipping = true
	}
	if !s.skipping {
		s.carry = append(s.carry, b...)
		return
	}
	// Keep only what a straddling delimiter could start with.
	keep := len(s.delim) - 1
	s.carry = append(s.carry, b...)
	if len(s.carry) > keep {
		n := copy(s.carry, s.carry[len(s.carry)-keep:])
		s.carry = s.carry[:n]
	}
}

// continueRecord looks for the end of the open record in the current
// chunk. done false: the whole chunk belongs to the record. done true:
// rec is the record (nil if it was skipped as too long) and the chunk is
// advanced past its delimiter.
func (s *Splitter) continueRecord() (rec []byte, done bool) {
	c, d := s.chunk, s.delim
	// A delimiter that began in the carried bytes: the longest such start
	// is the leftmost match (the carried bytes hold no whole delimiter).
	for k := min(len(d)-1, len(s.carry)); k > 0; k-- {
		if len(c) >= len(d)-k && bytes.HasSuffix(s.carry, d[:k]) && bytes.HasPrefix(c, d[k:]) {
			s.chunk = c[len(d)-k:]
			s.carry = s.carry[:len(s.carry)-k]
			s.recLen -= k
			return s.finish(), true
		}
	}
	i := bytes.Index(c, d)
	if i < 0 {
		s.grow(c)
		s.chunk = nil
		return nil, false
	}
	s.grow(c[:i])
	s.chunk = c[i+len(d):]
	return s.finish(), true
}

// finish closes the open record: its bytes, or nil if it was skipped.
func (s *Splitter) finish() []byte {
	s.pending = false
	rec := s.carry
	s.carry = s.carry[:0]
	if s.skipping {
		s.skipping = false
		return nil
	}
	if rec == nil {
		rec = []byte{}
	}
	return rec
}

// ParseDelimiter reads a --delimiter value. A single byte is taken as it
// is (so the original one-byte form, backslash included, keeps working).
// Longer values are a string of bytes in which these escapes are
// recognised: \n \r \t \0 (NUL) \\ and \xHH (any byte, two hex digits);
// any other backslash sequence is an error, as is an empty delimiter.
func ParseDelimiter(s string) ([]byte, error) {
	switch len(s) {
	case 0:
		return nil, errors.New("--delimiter must not be empty")
	case 1:
		return []byte(s), nil
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("--delimiter %q: a backslash at the end (write \\\\ for a backslash)", s)
		}
		i++
		switch s[i] {
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case '0':
			out = append(out, 0)
		case '\\':
			out = append(out, '\\')
		case 'x':
			if i+2 >= len(s) {
				return nil, fmt.Errorf("--delimiter %q: \\x needs two hex digits", s)
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("--delimiter %q: \\x needs two hex digits", s)
			}
			out = append(out, byte(v))
			i += 2
		default:
			return nil, fmt.Errorf("--delimiter %q: unknown escape \\%c (known: \\n \\r \\t \\0 \\\\ \\xHH)", s, s[i])
		}
	}
	return out, nil
}

// FormatDelimiter writes a delimiter the way ParseDelimiter reads it
// (for messages and help).
func FormatDelimiter(d []byte) string {
	var b strings.Builder
	for _, c := range d {
		switch {
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == 0:
			b.WriteString(`\0`)
		case c == '\\':
			b.WriteString(`\\`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

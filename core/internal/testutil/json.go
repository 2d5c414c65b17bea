package testutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

// jNode is a JSON value read token by token, keeping object key order.
type jNode struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	keys []string
	kids []*jNode
	val  string
}

func (j *jNode) kindName() string {
	return map[byte]string{'o': "object", 'a': "array", 's': "string", 'n': "number", 'b': "bool", 'z': "null"}[j.kind]
}

func parseJNode(data []byte) (*jNode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := readJNode(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return n, nil
}

func readJNode(dec *json.Decoder) (*jNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		n := &jNode{kind: 'a'}
		if v == '{' {
			n.kind = 'o'
		}
		for dec.More() {
			if n.kind == 'o' {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
			}
			kid, err := readJNode(dec)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, kid)
		}
		if _, err := dec.Token(); err != nil { // closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return &jNode{kind: 's', val: v}, nil
	case json.Number:
		return &jNode{kind: 'n', val: v.String()}, nil
	case bool:
		return &jNode{kind: 'b', val: fmt.Sprint(v)}, nil
	case nil:
		return &jNode{kind: 'z'}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// Option changes what CompareJSONShape and JSONShapeDiff check.
type Option func(*shapeConfig)

type shapeConfig struct {
	values    bool
	skip      func(path string) bool
	anyLength bool
	anyKeys   func(path string) bool
}

// Values also compares scalar values (strings, numbers, bools) except at
// the paths for which skip (may be nil) returns true: the values a run
// cannot fix (times, ports, versions). Paths look like
// $.topics[0].channels[1].depth.
func Values(skip func(path string) bool) Option {
	return func(c *shapeConfig) { c.values, c.skip = true, skip }
}

// AnyLength lets arrays differ in length: every element of the array
// under test is compared with the fixture's first element (and nothing
// is checked when the fixture's array is empty).
func AnyLength() Option { return func(c *shapeConfig) { c.anyLength = true } }

// AnyKeys treats the objects at the paths for which match returns true
// as maps: their keys may differ from the fixture's, and each value is
// compared with the fixture's first value (for objects keyed by data,
// e.g. lookupd's /debug).
func AnyKeys(match func(path string) bool) Option {
	return func(c *shapeConfig) { c.anyKeys = match }
}

// JSONShapeDiff reports the first difference between got and the fixture
// want: a different JSON type, different object keys or key order, a
// different array length, or (with Values) a different scalar; nil when
// they match.
func JSONShapeDiff(got, want []byte, opts ...Option) error {
	var c shapeConfig
	for _, o := range opts {
		o(&c)
	}
	g, err := parseJNode(got)
	if err != nil {
		return fmt.Errorf("invalid JSON: %v", err)
	}
	w, err := parseJNode(want)
	if err != nil {
		return fmt.Errorf("invalid fixture JSON: %v", err)
	}
	return c.compare("$", g, w)
}

// CompareJSONShape fails the test (Fatal) when JSONShapeDiff finds a
// difference; what names the response in the message.
func CompareJSONShape(t testing.TB, what string, got, want []byte, opts ...Option) {
	t.Helper()
	if err := JSONShapeDiff(got, want, opts...); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, got)
	}
}

func (c *shapeConfig) compare(path string, got, want *jNode) error {
	if got.kind != want.kind {
		return fmt.Errorf("%s: %s, fixture has %s", path, got.kindName(), want.kindName())
	}
	switch got.kind {
	case 'o':
		if c.anyKeys != nil && c.anyKeys(path) {
			if len(want.kids) == 0 {
				return nil
			}
			for i, k := range got.keys {
				if err := c.compare(path+"."+k, got.kids[i], want.kids[0]); err != nil {
					return err
				}
			}
			return nil
		}
		if strings.Join(got.keys, ",") != strings.Join(want.keys, ",") {
			return fmt.Errorf("%s: keys\n %v\nfixture\n %v", path, got.keys, want.keys)
		}
		for i, k := range got.keys {
			if err := c.compare(path+"."+k, got.kids[i], want.kids[i]); err != nil {
				return err
			}
		}
	case 'a':
		if c.anyLength {
			if len(want.kids) == 0 {
				return nil
			}
			for i := range got.kids {
				if err := c.compare(fmt.Sprintf("%s[%d]", path, i), got.kids[i], want.kids[0]); err != nil {
					return err
				}
			}
			return nil
		}
		if len(got.kids) != len(want.kids) {
			return fmt.Errorf("%s: %d elements, fixture has %d", path, len(got.kids), len(want.kids))
		}
		for i := range got.kids {
			if err := c.compare(fmt.Sprintf("%s[%d]", path, i), got.kids[i], want.kids[i]); err != nil {
				return err
			}
		}
	default:
		if c.values && got.val != want.val && (c.skip == nil || !c.skip(path)) {
			return fmt.Errorf("%s: %s, fixture has %s", path, got.val, want.val)
		}
	}
	return nil
}

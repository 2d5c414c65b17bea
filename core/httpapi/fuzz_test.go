package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"
)

// queryModel parses a raw query string the way http-api.md §1.2 and Go's
// net/url (which NSQ 1.3.0 uses too) do, written out independently: pairs
// separated by '&', empty pairs skipped, a ';' in a pair or a '%' not
// followed by two hex digits makes the whole query malformed, '+' is a
// space, key and value split at the first '='. It returns the keys in
// order of first appearance and every key's values in order.
func queryModel(raw string) (keys []string, vals map[string][]string, ok bool) {
	vals = map[string][]string{}
	ok = true
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		if strings.Contains(pair, ";") {
			ok = false
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		uk, okk := unescapeModel(k)
		uv, okv := unescapeModel(v)
		if !okk || !okv {
			ok = false
			continue
		}
		if _, seen := vals[uk]; !seen {
			keys = append(keys, uk)
		}
		vals[uk] = append(vals[uk], uv)
	}
	return keys, vals, ok
}

func unescapeModel(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b.WriteByte(' ')
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", false
			}
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// FuzzQueryParams checks the query helpers every endpoint uses against
// the model above: a malformed query is exactly 400 INVALID_REQUEST (also
// once rendered as a V1 error), First is the first value of a repeated
// parameter, ParseBool knows exactly true/1/false/0, and what was parsed
// survives re-encoding.
func FuzzQueryParams(f *testing.F) {
	for _, s := range []string{
		"", "topic=t", "topic=a&topic=b", "topic=&channel=c", "topic", "=x", "&&topic=t&&",
		"topic=a%2Fb", "topic=%zz", "topic=%4", "topic=%", "a=1;b=2", "topic=t;", "a+b=c+d",
		"topic=orders&channel=billing&defer=1000", "binary=true", "binary=1", "binary=TRUE", "binary=yes",
		"include_clients=false&include_mem=0", "format=json&topic=t&channel=c", "%00=%ff", "k=%e2%82%ac",
		"topic=t&defer=-1", "topic=t&defer=99999999999999999999", "x=%2",
	} {
		f.Add(s)
	}
	v1 := V1(func(w http.ResponseWriter, r *http.Request, _ string) (any, error) {
		_, err := QueryParams(r)
		return "OK", err
	})
	f.Fuzz(func(t *testing.T, raw string) {
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/x", RawQuery: raw}}
		v, err := QueryParams(r)
		keys, want, ok := queryModel(raw)
		if !ok {
			var he Error
			if err == nil || !errors.As(err, &he) || he.Code != http.StatusBadRequest || he.Text != "INVALID_REQUEST" {
				t.Fatalf("%q: malformed query gave %v, %v; want 400 INVALID_REQUEST", raw, v, err)
			}
			w := httptest.NewRecorder()
			v1(w, r, "")
			if w.Code != http.StatusBadRequest || w.Body.String() != `{"message":"INVALID_REQUEST"}` ||
				w.Header().Get(HeaderNSQContentType) != NSQContentTypeV1 {
				t.Fatalf("%q: rendered as %d %q %v", raw, w.Code, w.Body.String(), w.Header())
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: well-formed query refused: %v", raw, err)
		}
		if len(v) != len(want) {
			t.Fatalf("%q: parsed %q, model %q", raw, v, want)
		}
		for _, k := range keys {
			if !slices.Equal(v[k], want[k]) {
				t.Fatalf("%q: %q = %q, model %q", raw, k, v[k], want[k])
			}
			first, present := First(v, k)
			if !present || first != want[k][0] {
				t.Fatalf("%q: First(%q) = %q, %v; want %q", raw, k, first, present, want[k][0])
			}
			for _, s := range v[k] {
				b, bok := ParseBool(s)
				wantOK := s == "true" || s == "1" || s == "false" || s == "0"
				if bok != wantOK || (bok && b != (s == "true" || s == "1")) {
					t.Fatalf("ParseBool(%q) = %v, %v", s, b, bok)
				}
			}
		}
		if _, present := First(v, "\x00absent"); present && want["\x00absent"] == nil {
			t.Fatalf("%q: First found a parameter that is not there", raw)
		}
		// round trip: what was parsed, encoded again, parses the same
		again, err := QueryParams(&http.Request{URL: &url.URL{RawQuery: v.Encode()}})
		if err != nil {
			t.Fatalf("%q: re-encoded %q refused: %v", raw, v.Encode(), err)
		}
		if len(again) != len(v) {
			t.Fatalf("%q: round trip %q -> %q", raw, v, again)
		}
		for k, vs := range v {
			if !slices.Equal(again[k], vs) {
				t.Fatalf("%q: round trip of %q: %q -> %q", raw, k, vs, again[k])
			}
		}
	})
}

// fuzzRoutes is a router like the daemons': literal paths, a :param
// segment, a route with a trailing slash and one path with two methods.
var fuzzRoutes = []struct{ method, pattern string }{
	{"GET", "/ping"},
	{"POST", "/pub"},
	{"POST", "/topic/create"},
	{"POST", "/channel/create"},
	{"GET", "/config/:opt"},
	{"PUT", "/config/:opt"},
	{"GET", "/debug/pprof/"},
	{"GET", "/debug/pprof/heap"},
	{"POST", "/debug/pprof/symbol"},
	{"GET", "/debug/pprof/symbol"},
}

// routeMatch is the model of a route match: same number of segments,
// literals equal, a :param any non-empty segment.
func routeMatch(pattern, p string) (param string, ok bool) {
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	want, got := strings.Split(pattern[1:], "/"), strings.Split(p[1:], "/")
	if len(want) != len(got) {
		return "", false
	}
	for i := range want {
		switch {
		case strings.HasPrefix(want[i], ":"):
			if got[i] == "" {
				return "", false
			}
			param = got[i]
		case want[i] != got[i]:
			return "", false
		}
	}
	return param, true
}

// normPath is what a redirect may change: case, a trailing slash,
// doubled slashes and dot segments.
func normPath(p string) string {
	return strings.TrimSuffix(strings.ToLower(path.Clean("/"+p)), "/")
}

// FuzzRouter sends any method and path to a router and checks the
// routing rules of http-api.md §1.2: a handler runs only for its exact
// method and path; a redirect (301 for GET, 307 otherwise) keeps the
// query, only changes case, slashes or dot segments, and leads to a
// route for the same method; 405 lists (sorted, with OPTIONS) exactly the
// other methods of a matching route; OPTIONS answers for matching
// routes; anything else is 404 NOT_FOUND, always as V1 errors.
func FuzzRouter(f *testing.F) {
	for _, s := range [][3]string{
		{"GET", "/ping", ""}, {"POST", "/ping", ""}, {"OPTIONS", "/ping", ""}, {"GET", "/PING", "a=b"},
		{"GET", "/ping/", "x=%zz"}, {"POST", "/pub/", "topic=t"}, {"POST", "//pub", ""}, {"POST", "/Topic/Create/", ""},
		{"GET", "/config/nsqlookupd_tcp_addresses", ""}, {"DELETE", "/config/x", ""}, {"GET", "/config/", ""},
		{"GET", "/config//", ""}, {"GET", "/config/../ping", ""}, {"GET", "/debug/pprof", ""},
		{"GET", "/debug/pprof/HEAP/", ""}, {"HEAD", "/ping", ""}, {"CONNECT", "/ping/", ""}, {"GET", "/", ""},
		{"GET", "", ""}, {"GET", "ping", ""}, {"GET", "/./ping", ""}, {"GET", "/config/a?b/", ""},
		{"PUT", "/CONFIG/Opt", "q=1"}, {"OPTIONS", "/config/x", ""}, {"OPTIONS", "/nope", ""}, {"get", "/ping", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	rt := &Router{}
	type hit struct{ pattern, param string }
	var got *hit
	for _, r := range fuzzRoutes {
		pattern, method := r.pattern, r.method
		rt.Add(method, pattern, func(w http.ResponseWriter, req *http.Request, param string) {
			got = &hit{pattern, param}
			w.WriteHeader(http.StatusOK)
		})
	}
	serveOne := func(method, p, rawQuery string) *httptest.ResponseRecorder {
		got = nil
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, &http.Request{Method: method, URL: &url.URL{Path: p, RawQuery: rawQuery}, Header: http.Header{}})
		return w
	}
	f.Fuzz(func(t *testing.T, method, p, rawQuery string) {
		if method == "" {
			method = "GET"
		}
		var exact *hit
		methods := map[string]bool{} // methods of the routes p matches
		for _, r := range fuzzRoutes {
			if param, ok := routeMatch(r.pattern, p); ok {
				methods[r.method] = true
				if r.method == method && exact == nil {
					exact = &hit{r.pattern, param}
				}
			}
		}
		w := serveOne(method, p, rawQuery)
		if exact != nil {
			if got == nil || *got != *exact || w.Code != http.StatusOK {
				t.Fatalf("%s %q: got %d %+v, want route %+v", method, p, w.Code, got, exact)
			}
			return
		}
		if got != nil {
			t.Fatalf("%s %q: handler of %+v ran, but no route matches", method, p, *got)
		}
		v1Error := func(code int, msg string) {
			t.Helper()
			if w.Code != code || w.Body.String() != `{"message":"`+msg+`"}` ||
				w.Header().Get(HeaderNSQContentType) != NSQContentTypeV1 || w.Header().Get("Content-Type") != ContentTypeJSON {
				t.Fatalf("%s %q: %d %q %v, want V1 error %d %s", method, p, w.Code, w.Body.String(), w.Header(), code, msg)
			}
		}
		switch w.Code {
		case http.StatusMovedPermanently, http.StatusTemporaryRedirect:
			if method == http.MethodConnect || (w.Code == http.StatusMovedPermanently) != (method == http.MethodGet) {
				t.Fatalf("%s %q: redirect %d", method, p, w.Code)
			}
			location := w.Header().Get("Location")
			locPath, locQuery, _ := strings.Cut(location, "?")
			loc, err := url.Parse(locPath)
			if err != nil {
				t.Fatalf("%s %q: Location %q: %v", method, p, location, err)
			}
			loc.RawQuery = locQuery
			if loc.Scheme != "" || loc.Host != "" || (requestable(rawQuery) && loc.RawQuery != escapeNonASCII(rawQuery)) {
				t.Fatalf("%s %q?%s: redirected to %q", method, p, rawQuery, loc)
			}
			if normPath(loc.Path) != normPath(p) {
				t.Fatalf("%s %q: redirected elsewhere, to %q", method, p, loc.Path)
			}
			if w2 := serveOne(method, loc.Path, loc.RawQuery); got == nil {
				// http.Redirect cleans dot segments out of the target, which
				// can then name no route (NSQ 1.3.0's httprouter does the
				// same); any other target must be a route.
				if !hasDotSegment(p) {
					t.Fatalf("%s %q: redirected to %q, which answers %d", method, p, loc.Path, w2.Code)
				}
				if w2.Code == http.StatusMovedPermanently || w2.Code == http.StatusTemporaryRedirect {
					t.Fatalf("%s %q: redirected to %q, which redirects again", method, p, loc.Path)
				}
			}
		case http.StatusMethodNotAllowed:
			v1Error(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
			checkAllow(t, method, p, w.Header().Get("Allow"), methods)
		case http.StatusOK:
			if method != http.MethodOptions || w.Body.Len() != 0 {
				t.Fatalf("%s %q: 200 %q without a handler", method, p, w.Body.String())
			}
			checkAllow(t, method, p, w.Header().Get("Allow"), methods)
		case http.StatusNotFound:
			v1Error(http.StatusNotFound, "NOT_FOUND")
			if len(methods) > 0 {
				t.Fatalf("%s %q: 404 but routes %v match", method, p, methods)
			}
		default:
			t.Fatalf("%s %q: unexpected %d %q", method, p, w.Code, w.Body.String())
		}
	})
}

// requestable says whether a query could arrive in a request line as is
// (no controls, spaces or '#', which a Location cannot carry back).
func requestable(q string) bool {
	for i := 0; i < len(q); i++ {
		if q[i] <= ' ' || q[i] == 0x7f || q[i] == '#' {
			return false
		}
	}
	return true
}

// escapeNonASCII is how http.Redirect writes bytes >= 0x80 of a
// Location: %XX, which a query parser reads back as the same byte.
func escapeNonASCII(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			fmt.Fprintf(&b, "%%%02x", s[i])
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func hasDotSegment(p string) bool {
	for _, s := range strings.Split(p, "/") {
		if s == "." || s == ".." {
			return true
		}
	}
	return false
}

// checkAllow checks an Allow header: sorted, OPTIONS included, exactly
// the methods of the matching routes other than the request's.
func checkAllow(t *testing.T, method, p, allow string, methods map[string]bool) {
	t.Helper()
	want := []string{http.MethodOptions}
	for m := range methods {
		if m != method && m != http.MethodOptions {
			want = append(want, m)
		}
	}
	slices.Sort(want)
	if len(want) == 1 || allow != strings.Join(want, ", ") {
		t.Fatalf("%s %q: Allow %q, want %q", method, p, allow, strings.Join(want, ", "))
	}
}

package httpapi

import (
	"net/http"
	"net/url"
)

// QueryParams parses the URL query string (never a form body); a
// malformed one is 400 INVALID_REQUEST.
func QueryParams(r *http.Request) (url.Values, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, Err(http.StatusBadRequest, "INVALID_REQUEST")
	}
	return v, nil
}

// First is the first value of a parameter and whether it is present
// (possibly empty).
func First(v url.Values, key string) (string, bool) {
	vals, ok := v[key]
	if !ok || len(vals) == 0 {
		return "", false
	}
	return vals[0], true
}

// ParseBool recognises exactly true, 1, false and 0 (http-api.md §1.2);
// ok is false for any other value.
func ParseBool(s string) (value, ok bool) {
	switch s {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

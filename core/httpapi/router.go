package httpapi

import (
	"net/http"
	"net/http/pprof"
	"path"
	"sort"
	"strings"
)

type route struct {
	method  string
	pattern string
	segs    []string // path segments; ":name" matches one non-empty segment
	h       Handle
}

// Router matches exact paths and methods (http-api.md §1.2). Unknown
// paths get 404 NOT_FOUND, known paths with another method 405
// METHOD_NOT_ALLOWED with Allow, OPTIONS 200 with Allow, and a path that
// only differs from a route answering the method by a trailing slash,
// letter case or unclean elements is redirected to the route (301 for
// GET, 307 otherwise). The zero Router is ready to use; add every route
// before serving.
type Router struct {
	routes []*route
}

// Add routes method requests for pattern to h. A pattern segment ":name"
// matches any one non-empty segment, passed to h as param.
func (rt *Router) Add(method, pattern string, h Handle) {
	rt.routes = append(rt.routes, &route{method: method, pattern: pattern, segs: strings.Split(pattern[1:], "/"), h: h})
}

// AddPprof routes Go's profiling pages: the index at indexPath (nsqd
// uses "/debug/pprof/", nsqlookupd "/debug/pprof") and the named pages
// under /debug/pprof/.
func (rt *Router) AddPprof(indexPath string) {
	rt.Add("GET", indexPath, Std(http.HandlerFunc(pprof.Index)))
	rt.Add("GET", "/debug/pprof/cmdline", Std(http.HandlerFunc(pprof.Cmdline)))
	rt.Add("GET", "/debug/pprof/symbol", Std(http.HandlerFunc(pprof.Symbol)))
	rt.Add("POST", "/debug/pprof/symbol", Std(http.HandlerFunc(pprof.Symbol)))
	rt.Add("GET", "/debug/pprof/profile", Std(http.HandlerFunc(pprof.Profile)))
	rt.Add("GET", "/debug/pprof/trace", Std(http.HandlerFunc(pprof.Trace)))
	for _, p := range []string{"heap", "goroutine", "block", "threadcreate", "allocs", "mutex"} {
		rt.Add("GET", "/debug/pprof/"+p, Std(pprof.Handler(p)))
	}
}

// match reports whether p matches the route, its :param value, and (for
// a case-insensitive match) the canonical path.
func (r *route) match(p string, foldCase bool) (param, canonical string, ok bool) {
	if !strings.HasPrefix(p, "/") {
		return "", "", false
	}
	segs := strings.Split(p[1:], "/")
	if len(segs) != len(r.segs) {
		return "", "", false
	}
	for i, want := range r.segs {
		got := segs[i]
		switch {
		case strings.HasPrefix(want, ":"):
			if got == "" {
				return "", "", false
			}
			param = got
			segs[i] = got
		case want == got:
		case foldCase && strings.EqualFold(want, got):
			segs[i] = want
		default:
			return "", "", false
		}
	}
	return param, "/" + strings.Join(segs, "/"), true
}

func (rt *Router) lookup(method, p string) (*route, string) {
	for _, r := range rt.routes {
		if r.method != method {
			continue
		}
		if param, _, ok := r.match(p, false); ok {
			return r, param
		}
	}
	return nil, ""
}

// allowed lists, sorted, the methods that p answers to other than
// reqMethod, plus OPTIONS; "" when p is not a route.
func (rt *Router) allowed(p, reqMethod string) string {
	set := map[string]bool{}
	for _, r := range rt.routes {
		if r.method == reqMethod {
			continue
		}
		if _, _, ok := r.match(p, false); ok {
			set[r.method] = true
		}
	}
	if len(set) == 0 {
		return ""
	}
	set[http.MethodOptions] = true
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func toggleSlash(p string) string {
	if len(p) > 1 && strings.HasSuffix(p, "/") {
		return p[:len(p)-1]
	}
	return p + "/"
}

// cleanPath is path.Clean keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// redirectTarget finds the canonical path for a near-miss of a route
// answering method.
func (rt *Router) redirectTarget(method, p string) (string, bool) {
	if r, _ := rt.lookup(method, toggleSlash(p)); r != nil {
		return toggleSlash(p), true
	}
	c := cleanPath(p)
	for _, cand := range []string{c, toggleSlash(c)} {
		for _, r := range rt.routes {
			if r.method != method {
				continue
			}
			if _, canonical, ok := r.match(cand, true); ok {
				return canonical, true
			}
		}
	}
	return "", false
}

func (rt *Router) hasMethod(method string) bool {
	for _, r := range rt.routes {
		if r.method == method {
			return true
		}
	}
	return false
}

// ServeHTTP dispatches a request by the rules above.
func (rt *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p := req.URL.Path
	if r, param := rt.lookup(req.Method, p); r != nil {
		r.h(w, req, param)
		return
	}
	if req.Method != http.MethodConnect && p != "/" && rt.hasMethod(req.Method) {
		if target, ok := rt.redirectTarget(req.Method, p); ok {
			code := http.StatusMovedPermanently
			if req.Method != http.MethodGet {
				code = http.StatusTemporaryRedirect
			}
			u := *req.URL
			u.Path, u.RawPath = target, ""
			http.Redirect(w, req, u.String(), code)
			return
		}
	}
	if req.Method == http.MethodOptions {
		if allow := rt.allowed(p, req.Method); allow != "" {
			w.Header().Set("Allow", allow)
			w.WriteHeader(http.StatusOK)
			return
		}
	}
	if allow := rt.allowed(p, req.Method); allow != "" {
		w.Header().Set("Allow", allow)
		RespondV1(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
		return
	}
	RespondV1(w, http.StatusNotFound, "NOT_FOUND")
}

// Package httpapi is the HTTP plumbing shared by the daemons: NSQ's V1
// response format, routing rules, query helpers and request logging.
//
// An endpoint is an APIFunc returning a result or an error; V1 renders it
// in NSQ's V1 format (http-api.md §1.1: a string verbatim, an object as
// JSON, an error as {"message":"<TEXT>"}, always with X-NSQ-Content-Type),
// PlainText as a bare text body. A Router matches exact paths and applies
// the routing rules of http-api.md §1.2 (404 NOT_FOUND, 405
// METHOD_NOT_ALLOWED with Allow, OPTIONS, 301/307 redirects of near
// misses), and Logged logs every request and turns a handler panic into
// 500 INTERNAL_ERROR:
//
//	rt := &httpapi.Router{}
//	rt.Add("GET", "/ping", httpapi.PlainText(ping))
//	rt.Add("GET", "/info", httpapi.V1(info))
//	srv := httpapi.NewServer(httpapi.Logged(lg, rt), lg)
package httpapi

// Package testutil holds helpers shared by the tests of every package
// (core/* and e2e): comparing JSON against captured fixtures by shape
// (keys, key order, types), reading captured response headers, and
// polling until a condition holds instead of sleeping.
package testutil

// Package version says which NSQ release nsqkit is compatible with and which
// nsqkit build this is.
package version

import (
	"fmt"
	"runtime"
)

// NSQ is the NSQ release whose protocols and APIs nsqkit speaks.
const NSQ = "1.3.0"

// Nsqkit is nsqkit's own version.
const Nsqkit = "0.1.0"

// Reported is the version the daemons report in IDENTIFY, /info, /stats and
// to lookupd: semver that compares equal to NSQ's, with build metadata
// naming nsqkit, so tools that pick an API by version keep working.
const Reported = NSQ + "+nsqkit." + Nsqkit

// String is the --version line of a binary, e.g.
// "nsqd v1.3.0+nsqkit.0.1.0 (built w/go1.26.8)".
func String(app string) string {
	return fmt.Sprintf("%s v%s (built w/%s)", app, Reported, runtime.Version())
}

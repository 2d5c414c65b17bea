package top

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// Numbers, rates, durations and ETAs as nsqtop shows them: short enough
// for a column, exact below a thousand.

// dash stands for a value that is not known (yet).
const dash = "—"

// num humanises a count: 999, 1.2k, 12.3k, 123k, 1.2M, 3.4G.
func num(n int64) string {
	if n < 0 {
		return "-" + num(-n)
	}
	if n < 1000 {
		return fmt.Sprintf("%d", n)
	}
	return scaled(float64(n))
}

// scaled formats v ≥ 1000 with a k/M/G/T suffix and three significant
// digits at most.
func scaled(v float64) string {
	units := []string{"k", "M", "G", "T", "P"}
	u := -1
	for v >= 999.5 && u < len(units)-1 {
		v /= 1000
		u++
	}
	s := ""
	switch {
	case v < 9.95:
		s = fmt.Sprintf("%.1f", v)
	case v < 99.5:
		s = fmt.Sprintf("%.1f", v)
		if v >= 99.95 {
			s = fmt.Sprintf("%.0f", v)
		}
	default:
		s = fmt.Sprintf("%.0f", v)
	}
	if u < 0 {
		return s
	}
	return s + units[u]
}

// rate formats messages per second: "—" unknown, "0/s", "0.5/s",
// "12.3/s", "456/s", "1.2k/s".
func rate(r float64) string {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return dash
	case r == 0:
		return "0/s"
	case r < 0:
		return "-" + rate(-r)
	case r < 99.95:
		return fmt.Sprintf("%.1f/s", r)
	case r < 999.5:
		return fmt.Sprintf("%.0f/s", r)
	}
	return scaled(r) + "/s"
}

// signedRate is a trend: "+12.3/s" growing, "-4/s" draining, "0/s".
func signedRate(r float64) string {
	if r > 0 && !math.IsInf(r, 0) {
		return "+" + rate(r)
	}
	return rate(r)
}

// bytesize formats a byte count: 512B, 1.2KiB, 3.4MiB.
func bytesize(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%dB", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	v := float64(n)
	u := -1
	for v >= 1023.5 && u < len(units)-1 {
		v /= 1024
		u++
	}
	if v < 9.95 {
		return fmt.Sprintf("%.1f%s", v, units[u])
	}
	return fmt.Sprintf("%.0f%s", v, units[u])
}

// dur formats a duration in at most two units: 45s, 2m3s, 1h2m, 3d4h.
func dur(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case d < time.Second && d > 0:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return trim0(fmt.Sprintf("%dm%ds", s/60, s%60))
	case s < 86400:
		return trim0(fmt.Sprintf("%dh%dm", s/3600, (s%3600)/60))
	}
	return trim0(fmt.Sprintf("%dd%dh", s/86400, (s%86400)/3600))
}

// trim0 drops a zero second unit: "2m0s" → "2m".
func trim0(s string) string {
	if strings.HasSuffix(s, "m0s") || strings.HasSuffix(s, "h0m") || strings.HasSuffix(s, "d0h") {
		return s[:len(s)-2]
	}
	return s
}

// eta formats a drain ETA in seconds: "—" unknown, "∞" growing or not
// draining, "0s" empty, "12s", "3m4s".
func eta(sec float64) string {
	switch {
	case math.IsNaN(sec):
		return dash
	case math.IsInf(sec, 1):
		return "∞"
	case sec <= 0:
		return "0s"
	case sec > 100*365*86400:
		return "∞"
	}
	return dur(time.Duration(math.Ceil(sec)) * time.Second)
}

// nanos formats a latency given in nanoseconds: 974ms, 1.2s, 250µs.
func nanos(ns float64) string {
	switch {
	case math.IsNaN(ns) || ns <= 0:
		return dash
	case ns < 1e3:
		return fmt.Sprintf("%.0fns", ns)
	case ns < 1e6:
		return fmt.Sprintf("%.0fµs", ns/1e3)
	case ns < 1e9:
		return fmt.Sprintf("%.0fms", ns/1e6)
	case ns < 60e9:
		return fmt.Sprintf("%.1fs", ns/1e9)
	}
	return dur(time.Duration(ns))
}

// memDisk is nsqadmin's "Memory + Disk" cell: "32 + 0".
func memDisk(depth, backend int64) string {
	return num(depth-backend) + " + " + num(backend)
}

// truncate cuts s to w cells, ending in "…" when cut.
func truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// width is the number of terminal cells s takes (escape codes excluded).
func width(s string) int { return ansi.StringWidth(s) }

// pad fits s into exactly w cells: truncated with "…", padded on the
// right (left when right is true).
func pad(s string, w int, right bool) string {
	s = truncate(s, w)
	gap := w - width(s)
	if gap <= 0 {
		return s
	}
	if right {
		return strings.Repeat(" ", gap) + s
	}
	return s + strings.Repeat(" ", gap)
}

// sparkBlocks are a sparkline's eight levels.
var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the last w values of hist scaled between 0 and their
// maximum (unknown values as spaces); shorter histories are padded on the
// left so the newest value is always at the right edge.
func sparkline(hist []float64, w int) string {
	if w <= 0 {
		return ""
	}
	if len(hist) > w {
		hist = hist[len(hist)-w:]
	}
	peak := 0.0
	for _, v := range hist {
		if !math.IsNaN(v) && !math.IsInf(v, 0) && v > peak {
			peak = v
		}
	}
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", w-len(hist)))
	for _, v := range hist {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			b.WriteRune(' ')
		case peak <= 0 || v <= 0:
			b.WriteRune(sparkBlocks[0])
		default:
			i := int(math.Round(v / peak * float64(len(sparkBlocks)-1)))
			b.WriteRune(sparkBlocks[min(max(i, 0), len(sparkBlocks)-1)])
		}
	}
	return b.String()
}

// plural is "1 node" / "2 nodes".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Result is everything a run measured. It marshals to the --json document;
// durations are integer nanoseconds (fields ending in _ns) and rates are
// per second.
type Result struct {
	Mode      Mode      `json:"mode"`
	Topic     string    `json:"topic"`
	Channel   string    `json:"channel,omitempty"`
	Addrs     []string  `json:"nsqd_tcp_addresses"`
	Transport string    `json:"transport"`
	Size      int       `json:"size"`
	BatchSize int       `json:"batch_size,omitempty"`
	Clients   int       `json:"clients"`
	Subs      int       `json:"subs,omitempty"`
	RDY       int       `json:"rdy,omitempty"`
	Rate      float64   `json:"rate,omitempty"`
	Start     time.Time `json:"start"`

	Pub      *Side          `json:"pub,omitempty"`
	Sub      *Side          `json:"sub,omitempty"`
	Schedule *ScheduleStats `json:"schedule,omitempty"`
	Warnings []string       `json:"warnings,omitempty"`
}

// Side is the publishing or the consuming half of a run.
type Side struct {
	Msgs       int64         `json:"msgs"`
	Bytes      int64         `json:"bytes"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	MsgsPerSec float64       `json:"msgs_per_sec"`
	MBPerSec   float64       `json:"mb_per_sec"`
	// LatencyOf says what Latency measures: "mpub_ok" (one batch's
	// round trip, MPUB → OK), "publish_ok" (the same, pubsub) or
	// "publish_to_delivery" (body send time → message received).
	LatencyOf string        `json:"latency_of,omitempty"`
	Latency   *Latency      `json:"latency,omitempty"`
	Clients   []ClientStats `json:"clients"`
}

// ClientStats is one connection's share.
type ClientStats struct {
	ID         int           `json:"id"`
	Addr       string        `json:"addr"`
	Msgs       int64         `json:"msgs"`
	Bytes      int64         `json:"bytes"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	MsgsPerSec float64       `json:"msgs_per_sec"`
	MBPerSec   float64       `json:"mb_per_sec"`
	Latency    *Latency      `json:"latency,omitempty"`
}

// ScheduleStats says how well a fixed-rate run kept its schedule.
type ScheduleStats struct {
	TargetRate float64       `json:"target_rate"`
	Due        int64         `json:"batches_due"`
	Sent       int64         `json:"batches_sent"`
	Late       int64         `json:"batches_late"` // sent more than 5 ms after their intended time
	MaxLag     time.Duration `json:"max_lag_ns"`
	Lag        *Latency      `json:"send_lag,omitempty"` // actual − intended send time
	Behind     bool          `json:"behind"`
}

// mb is bench_writer's megabyte.
const mb = 1024 * 1024

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func (c *ClientStats) fill() {
	c.MsgsPerSec = rate(c.Msgs, c.Elapsed)
	c.MBPerSec = rate(c.Bytes, c.Elapsed) / mb
}

// total sums the clients: messages over the longest client's time.
func (s *Side) total() {
	s.Msgs, s.Bytes, s.Elapsed = 0, 0, 0
	for _, c := range s.Clients {
		s.Msgs += c.Msgs
		s.Bytes += c.Bytes
		s.Elapsed = max(s.Elapsed, c.Elapsed)
	}
	s.MsgsPerSec = rate(s.Msgs, s.Elapsed)
	s.MBPerSec = rate(s.Bytes, s.Elapsed) / mb
}

// WriteJSON writes the result as one indented JSON document.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// CSVHeader is the first row of --csv output.
var CSVHeader = []string{
	"mode", "role", "client", "addr", "msgs", "bytes", "seconds", "msgs_per_sec", "mb_per_sec",
	"latency_of", "lat_count", "lat_min_ns", "lat_p50_ns", "lat_p90_ns", "lat_p99_ns", "lat_p99_9_ns", "lat_max_ns",
}

// WriteCSV writes a header and one row per client and side, then a row
// "total" per side.
func (r *Result) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(CSVHeader)
	for _, side := range []struct {
		role string
		s    *Side
	}{{"pub", r.Pub}, {"sub", r.Sub}} {
		if side.s == nil {
			continue
		}
		row := func(client, addr string, msgs, bytes int64, el time.Duration, mps, mbps float64, lat *Latency) {
			rec := []string{string(r.Mode), side.role, client, addr,
				strconv.FormatInt(msgs, 10), strconv.FormatInt(bytes, 10),
				strconv.FormatFloat(el.Seconds(), 'f', 6, 64),
				strconv.FormatFloat(mps, 'f', 1, 64), strconv.FormatFloat(mbps, 'f', 3, 64),
				side.s.LatencyOf}
			if lat != nil {
				for _, v := range []int64{lat.Count, int64(lat.Min), int64(lat.P50), int64(lat.P90), int64(lat.P99), int64(lat.P999), int64(lat.Max)} {
					rec = append(rec, strconv.FormatInt(v, 10))
				}
			} else {
				rec = append(rec, "0", "", "", "", "", "", "")
			}
			cw.Write(rec)
		}
		for _, c := range side.s.Clients {
			row(strconv.Itoa(c.ID), c.Addr, c.Msgs, c.Bytes, c.Elapsed, c.MsgsPerSec, c.MBPerSec, c.Latency)
		}
		s := side.s
		row("total", strings.Join(r.Addrs, " "), s.Msgs, s.Bytes, s.Elapsed, s.MsgsPerSec, s.MBPerSec, s.Latency)
	}
	cw.Flush()
	return cw.Error()
}

// WriteText writes the human report, in the manner of nats bench.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "nsq_bench %s: topic %s", r.Mode, r.Topic)
	if r.Sub != nil {
		fmt.Fprintf(&b, ", channel %s", r.Channel)
	}
	if r.Pub != nil {
		fmt.Fprintf(&b, ", %d B messages", r.Size)
		if r.BatchSize == 1 {
			b.WriteString(", PUB")
		} else {
			fmt.Fprintf(&b, ", MPUB batches of %d", r.BatchSize)
		}
	}
	switch r.Mode {
	case ModePubSub:
		fmt.Fprintf(&b, ", %d publishers, %d consumers (RDY %d)", r.Clients, r.Subs, r.RDY)
	case ModeSub:
		fmt.Fprintf(&b, ", %d consumers (RDY %d)", r.Clients, r.RDY)
	default:
		fmt.Fprintf(&b, ", %d publishers", r.Clients)
	}
	fmt.Fprintf(&b, ", %s to %s\n", r.Transport, strings.Join(r.Addrs, " "))
	if r.Rate > 0 {
		fmt.Fprintf(&b, "Fixed rate: %s msgs/sec", fmtInt(int64(math.Round(r.Rate))))
		if st := r.Schedule; st != nil {
			fmt.Fprintf(&b, " (%s of %s batches sent, %s late > %s", fmtInt(st.Sent), fmtInt(st.Due), fmtInt(st.Late), lateAfter)
			if st.Lag != nil {
				fmt.Fprintf(&b, "; send lag p50 %s p99 %s max %s", fmtDur(st.Lag.P50), fmtDur(st.Lag.P99), fmtDur(st.Lag.Max))
			}
			b.WriteString(")")
			if st.Behind {
				b.WriteString(" BEHIND SCHEDULE")
			}
		}
		b.WriteString("\n")
	}
	side := func(title string, s *Side, latTitle string) {
		fmt.Fprintf(&b, "\n%s stats: %s msgs/sec ~ %s MB/sec (%s msgs in %s)\n", title,
			fmtInt(int64(math.Round(s.MsgsPerSec))), fmtMB(s.MBPerSec), fmtInt(s.Msgs), fmtDur(s.Elapsed))
		if len(s.Clients) > 1 {
			for _, c := range s.Clients {
				fmt.Fprintf(&b, " [%d] %s msgs/sec ~ %s MB/sec (%s msgs)\n", c.ID,
					fmtInt(int64(math.Round(c.MsgsPerSec))), fmtMB(c.MBPerSec), fmtInt(c.Msgs))
			}
			lo, hi, mean, sd := spread(s.Clients)
			fmt.Fprintf(&b, " min %s | avg %s | max %s | stddev %s msgs/sec\n",
				fmtInt(int64(lo)), fmtInt(int64(mean)), fmtInt(int64(hi)), fmtInt(int64(sd)))
		}
		if l := s.Latency; l != nil {
			fmt.Fprintf(&b, " %s (%s samples): min %s | p50 %s | p90 %s | p99 %s | p99.9 %s | max %s\n",
				latTitle, fmtInt(l.Count), fmtDur(l.Min), fmtDur(l.P50), fmtDur(l.P90), fmtDur(l.P99), fmtDur(l.P999), fmtDur(l.Max))
		}
	}
	if r.Pub != nil {
		lt := "Latency MPUB→OK per batch"
		if r.BatchSize == 1 {
			lt = "Latency PUB→OK"
		}
		if r.Rate > 0 {
			lt += ", from the intended send time"
		}
		side("Pub", r.Pub, lt)
	}
	if r.Sub != nil {
		lt := "Latency"
		if r.Mode == ModePubSub {
			lt = "End-to-end latency publish→delivery"
			if r.Rate > 0 {
				lt += ", from the intended send time"
			}
		}
		side("Sub", r.Sub, lt)
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(&b, "\nWarning: %s\n", wn)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// spread is the min, max, mean and standard deviation of the clients'
// rates.
func spread(cs []ClientStats) (lo, hi, mean, sd float64) {
	lo = math.Inf(1)
	for _, c := range cs {
		lo, hi = min(lo, c.MsgsPerSec), max(hi, c.MsgsPerSec)
		mean += c.MsgsPerSec
	}
	mean /= float64(len(cs))
	for _, c := range cs {
		sd += (c.MsgsPerSec - mean) * (c.MsgsPerSec - mean)
	}
	return lo, hi, mean, math.Sqrt(sd / float64(len(cs)))
}

// fmtInt writes n with thousands separators: 1,234,567.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtMB writes a MB/s figure with two decimals.
func fmtMB(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// fmtDur writes d with three significant digits: 312µs, 1.23ms, 4.00s.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return strconv.FormatInt(int64(d), 10) + "ns"
	case d < time.Millisecond:
		return sig3(float64(d)/1e3) + "µs"
	case d < time.Second:
		return sig3(float64(d)/1e6) + "ms"
	default:
		return sig3(d.Seconds()) + "s"
	}
}

// sig3 formats v (>= 1) with three significant digits.
func sig3(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

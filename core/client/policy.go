package client

import (
	"math"
	"math/rand/v2"
	"time"
)

// reconnectDelay is how long to wait before reconnect attempt n (n ≥ 1):
// min(max, initial × 2^(n-1)), shortened by a random part of up to
// reconnect_jitter of it, so that many clients of a restarted nsqd do not
// all come back at the same instant.
func reconnectDelay(cfg *Config, attempt int) time.Duration {
	d := cfg.ReconnectInitialInterval
	for i := 1; i < attempt && d < cfg.ReconnectMaxInterval; i++ {
		d *= 2
	}
	d = min(d, cfg.ReconnectMaxInterval)
	if cfg.ReconnectJitter > 0 && d > 0 {
		d -= time.Duration(rand.Float64() * cfg.ReconnectJitter * float64(d))
	}
	return d
}

// backoffDuration is strategy(attempt) of client-behaviour.md §5:
// backoff_multiplier × 2^attempt for exponential, a uniformly random
// duration below that for full_jitter. It saturates instead of overflowing.
func backoffDuration(cfg *Config, attempt int) time.Duration {
	d := cfg.BackoffMultiplier
	for i := 0; i < attempt; i++ {
		if d > math.MaxInt64/2 {
			d = math.MaxInt64
			break
		}
		d *= 2
	}
	if cfg.BackoffStrategy == BackoffFullJitter && d > 0 {
		return rand.N(d)
	}
	return d
}

// sleep waits d, or until stop or wake is closed/signalled (wake may be
// nil). It reports false if stop ended the wait.
func sleep(d time.Duration, stop <-chan struct{}, wake <-chan struct{}) bool {
	if d <= 0 {
		select {
		case <-stop:
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-wake:
		return true
	case <-stop:
		return false
	}
}

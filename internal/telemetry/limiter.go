package telemetry

import (
	"sync"
	"time"
)

// Limiter lets a few log lines through per interval and counts the rest, so a flood of hostile
// input cannot flood the logs too. Callers still count every occurrence in their metrics.
type Limiter struct {
	mu         sync.Mutex
	burst      int
	interval   time.Duration
	start      time.Time
	allowed    int
	suppressed int
}

// NewLimiter allows burst lines per interval.
func NewLimiter(burst int, interval time.Duration) *Limiter {
	return &Limiter{burst: burst, interval: interval}
}

// Allow reports whether to log now and, when it does, how many lines were held back before.
func (l *Limiter) Allow() (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.Sub(l.start) >= l.interval {
		l.start, l.allowed = now, 0
	}
	if l.allowed >= l.burst {
		l.suppressed++
		return false, 0
	}
	l.allowed++
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}

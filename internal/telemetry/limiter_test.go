package telemetry

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := NewLimiter(3, 50*time.Millisecond)
	allowed := 0
	for range 100 {
		if ok, _ := l.Allow(); ok {
			allowed++
		}
	}
	if allowed != 3 {
		t.Errorf("%d lines allowed in one interval, want 3", allowed)
	}
	time.Sleep(60 * time.Millisecond)
	ok, suppressed := l.Allow()
	if !ok || suppressed != 97 {
		t.Errorf("next interval: ok=%v suppressed=%d, want true 97", ok, suppressed)
	}
}

package testenv

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	calls := 0
	if err := Wait(time.Second, time.Millisecond, "three calls", func() (bool, error) {
		calls++
		return calls == 3, errors.New("not yet")
	}); err != nil || calls != 3 {
		t.Errorf("Wait = %v after %d calls, want nil after 3", err, calls)
	}
	err := Wait(20*time.Millisecond, time.Millisecond, "never", func() (bool, error) { return false, errors.New("still 2") })
	if err == nil || !strings.Contains(err.Error(), "waiting for never: still 2") {
		t.Errorf("Wait on timeout = %v, want what and the last reason", err)
	}
}

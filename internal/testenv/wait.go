package testenv

import (
	"fmt"
	"testing"
	"time"
)

// Wait calls cond every interval until it is done, for at most timeout, and returns nil once it
// is; on timeout, an error naming what and cond's last error (why it was not done yet), if any.
// Wait fails no test, so a goroutine of the test's may wait with it.
func Wait(timeout, every time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, err := cond()
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("timed out after %v waiting for %s: %w", timeout, what, err)
			}
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(every)
	}
}

// Eventually is Wait that fails the test on timeout; call it from the test's goroutine.
func Eventually(t testing.TB, timeout, every time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	if err := Wait(timeout, every, what, cond); err != nil {
		t.Fatal(err)
	}
}

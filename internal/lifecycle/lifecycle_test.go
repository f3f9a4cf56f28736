package lifecycle

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWorkerStopsAndReportsItsError(t *testing.T) {
	var w Worker
	if err := w.Stop(); err != nil {
		t.Fatalf("Stop before Go: %v", err)
	}
	failed := errors.New("failed")
	w.Go(func(ctx context.Context) error { <-ctx.Done(); return failed })
	select {
	case <-w.Done():
		t.Fatal("done before Stop")
	case <-time.After(10 * time.Millisecond):
	}
	if err := w.Stop(); err != failed {
		t.Fatalf("Stop = %v, want the run's error", err)
	}
	<-w.Done()
}

func TestWorkerEndingByItselfClosesDone(t *testing.T) {
	var w Worker
	w.Go(func(context.Context) error { return nil })
	select {
	case <-w.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after the run returned")
	}
	if err := w.Stop(); err != nil {
		t.Fatal(err)
	}
}

// Package lifecycle is the shape of every long-running spamgeo component (the trap, the
// enricher, the sink, the API server), as Akvorado's components have it: New checks the
// configuration and prepares; Start begins the work in the background; Stop ends it, waits for
// it and returns why it failed, if it did; Healthy feeds /healthz; Done is closed when the work
// ended by itself (a drained topic, an error), so that the process can stop.
package lifecycle

import (
	"context"
	"sync"
)

// Component is a long-running part of a spamgeo process. Stop is safe before Start (it releases
// what New took) but is called once.
type Component interface {
	Start() error
	Stop() error
	Healthy() error
	Done() <-chan struct{}
}

// Worker runs a component's background work: one function, with a context Stop cancels. The
// zero Worker is ready to use.
type Worker struct {
	init   sync.Once
	done   chan struct{}
	cancel context.CancelFunc
	err    error
}

func (w *Worker) ready() { w.init.Do(func() { w.done = make(chan struct{}) }) }

// Go starts run in the background.
func (w *Worker) Go(run func(ctx context.Context) error) {
	w.ready()
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() {
		defer close(w.done)
		w.err = run(ctx)
	}()
}

// Done is closed when run has returned.
func (w *Worker) Done() <-chan struct{} {
	w.ready()
	return w.done
}

// Stop cancels run's context, waits for run to return and returns its error. Before Go it
// returns nil at once.
func (w *Worker) Stop() error {
	w.ready()
	if w.cancel == nil {
		return nil
	}
	w.cancel()
	<-w.done
	return w.err
}

// Run starts c and stops it when ctx ends or c ends by itself (a drained topic), returning the
// error c ended with. A Start that fails has undone what it started: c is not stopped then.
func Run(ctx context.Context, c Component) error {
	if err := c.Start(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-c.Done():
	}
	return c.Stop()
}

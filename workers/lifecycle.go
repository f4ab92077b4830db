package workers

import (
	"context"
	"fmt"
)

// CancelAll cancels every queued and running task of the pool, as
// Future.Cancel would, and returns how many futures it cancelled. Queued
// tasks never run; running functions see their context end. Functions
// already abandoned (their future settled by cancel or timeout) are not
// counted again. The pool stays open.
func (p *Pool) CancelAll() int { return p.cancelAll(nil) }

func (p *Pool) cancelAll(cause error) int {
	p.mu.Lock()
	var ts []*taskBase
	p.running.each(func(t *taskBase) {
		if !t.abandoned {
			ts = append(ts, t)
		}
	})
	for t := p.queue.head; t != nil; t = p.queue.head {
		p.withdrawLocked(t)
		ts = append(ts, t)
	}
	p.mu.Unlock()
	return cancelEach(ts, cause)
}

// cancelTasks cancels the given tasks of this pool. Queued ones are first
// withdrawn from the queue under one acquisition of the mutex, so that a
// worker freed by cancelling a running one cannot start them meanwhile.
func (p *Pool) cancelTasks(ts []*taskBase, cause error) int {
	p.mu.Lock()
	for _, t := range ts {
		if t.where == whereQueued {
			p.withdrawLocked(t)
		}
	}
	p.mu.Unlock()
	return cancelEach(ts, cause)
}

// cancelEach cancels each task's future and counts those it settled.
func cancelEach(ts []*taskBase, cause error) int {
	n := 0
	for _, t := range ts {
		if t.body.cancel(cause) {
			n++
		}
	}
	return n
}

// Shutdown stops the pool gracefully: it refuses new work at once (Spawn
// then rejects with ErrPoolClosed), lets queued and running tasks finish,
// and returns nil once every worker goroutine has exited. If ctx ends
// first, it cancels whatever is left, with context.Cause(ctx) as the cause,
// and returns ctx.Err() without waiting for functions that ignore their
// context. Shutdown may be called several times and from several
// goroutines; each call waits.
func (p *Pool) Shutdown(ctx context.Context) error {
	if ctx == nil {
		return invalid("Shutdown with a nil context")
	}
	p.mu.Lock()
	p.closed = true
	p.retireParkedLocked(true)
	if p.workers == 0 {
		p.mu.Unlock()
		return nil
	}
	if p.drained == nil {
		p.drained = make(chan struct{})
	}
	drained := p.drained
	p.mu.Unlock()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		p.cancelAll(fmt.Errorf("%w: shutdown: %w", ErrPoolClosed, context.Cause(ctx)))
		return ctx.Err()
	}
}

// Close stops the pool at once: it refuses new work and cancels every
// queued and running task with ErrPoolClosed as the cause. It does not wait
// for running functions to return; use Shutdown for that. Closing twice is
// harmless.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	p.retireParkedLocked(true)
	p.mu.Unlock()
	p.cancelAll(ErrPoolClosed)
}

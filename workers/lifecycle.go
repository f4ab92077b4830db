package workers

import (
	"context"
	"fmt"

	"github.com/velalang/runtime/internal/safecall"
)

// CancelAll cancels every queued and running task of the pool (those due
// later and those waiting to retry included), as
// Future.Cancel would, and returns how many of them it found pending and
// left cancelled: this counts the siblings that a SpawnAll cancels when one
// of its tasks is cancelled, so the count matches the rise of
// Stats.Cancelled but for a task that another goroutine settles meanwhile.
// Queued tasks never run; running functions see their context end.
// Functions already abandoned (their future settled by cancel or timeout)
// are not counted again. The pool stays open.
//
// The futures are settled on the calling goroutine, so their continuations
// run there; if one calls runtime.Goexit (or a waker panics), the other
// futures are still settled while the goroutine unwinds.
func (p *Pool) CancelAll() int { return p.cancelAll(nil) }

func (p *Pool) cancelAll(cause error) int {
	p.mu.Lock()
	var ts []*taskBase
	p.running.each(func(t *taskBase) {
		if t.state != stateAbandoned {
			ts = append(ts, t)
		}
	})
	for _, l := range []*list{&p.queue.list, &p.waits} {
		for t := l.head; t != nil; t = l.head {
			p.withdrawLocked(t)
			ts = append(ts, t)
		}
	}
	p.mu.Unlock()
	cancelEach(ts, cause)
	n := 0
	for _, t := range ts {
		n += t.body.cancelledTasks()
	}
	return n
}

// cancelEach cancels each task's future. A cancel runs the future's
// continuations, which are user code: if one calls runtime.Goexit or
// panics, the tasks after it are still cancelled while the goroutine
// unwinds, so none is left off the queue and unsettled.
func cancelEach(ts []*taskBase, cause error) {
	safecall.Each(ts, func(t *taskBase) { t.body.cancel(cause) })
}

// Shutdown stops the pool gracefully: it refuses new work at once (Spawn
// then rejects with ErrPoolClosed), lets queued and running tasks finish,
// and returns nil once every worker goroutine has exited. Tasks due later
// (WithDelay) and waiting to retry (WithRetry) count as queued: Shutdown
// waits for them to run, so a long delay keeps it waiting. If ctx ends
// first, it cancels whatever is left, with context.Cause(ctx) as the cause,
// and returns ctx.Err() without waiting for functions that ignore their
// context. Shutdown may be called several times and from several
// goroutines; each call waits.
//
// Called with the context of one of the pool's own tasks (or a context
// derived from it), Shutdown would wait for the task that called it: it
// returns an error wrapping ErrInvalidArgument at once and changes
// nothing. It cannot tell when a task passes another context, or when it
// waits on a goroutine that calls Shutdown; that still deadlocks, as
// waiting for oneself does.
func (p *Pool) Shutdown(ctx context.Context) error {
	if ctx == nil {
		return invalid("Shutdown with a nil context")
	}
	if owner, _ := ctx.Value(poolKey{}).(*Pool); owner == p {
		return invalid("Shutdown from one of the pool's own tasks, which it would wait for")
	}
	p.mu.Lock()
	p.closeLocked()
	if p.workers == 0 && p.waiting == 0 {
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
	p.closeLocked()
	p.mu.Unlock()
	p.cancelAll(ErrPoolClosed)
}

// closeLocked refuses new work from now on, retires the waiting workers
// and drops the watches no task uses (the others go with their last task).
func (p *Pool) closeLocked() {
	p.closed = true
	p.retireParkedLocked(true)
	p.sweepWatchesLocked()
}

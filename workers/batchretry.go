package workers

import (
	"context"
	"sync/atomic"
	"time"
)

// batchRetry is a task of a batch (SpawnAll, SpawnAllSettled with
// WithRetry) whose call failed and that waits to retry: a record of one
// index, made per failure that is retried, that waits in the deadline heap
// (retrying), then in the queue as an entry of one task, from which a
// worker claims it as it claims a batch's next task. A batch keeps its
// waiting retries (retries), so that deciding the batch takes them out of
// the pool and counts them.
type batchRetry[T any] struct {
	taskBase
	b       *batch[T]
	i       int  // the task's index
	slot    int  // its place in b.retries; pool.mu
	claimed bool // a worker took it; pool.mu
}

// retryLocked makes task it.i, whose call failed on worker it.worker,
// wait to retry until at: it leaves its worker, which may take its next
// task.
func (it *batchItem[T]) retryLocked(at time.Duration) {
	b, p := it.b, it.b.pool
	r := &batchRetry[T]{b: b, i: it.i, slot: len(b.retries)}
	r.pool, r.body, r.parent = p, r, b.ctx
	r.id, r.enqueued, r.worker, r.started = it.id, it.enqueued, it.worker, it.started
	x := it.extra.Load()
	rx := r.ensureExtra()
	rx.name, rx.attempt = x.name, x.attempt
	b.retries = append(b.retries, r)
	p.moveLocked(&it.taskBase, stateDone)
	p.waitLocked(&r.taskBase, stateRetrying, at)
}

// withdrawRetriesLocked takes the batch's waiting retries out of the pool,
// once its outcome is decided, and returns how many there were.
func (b *batch[T]) withdrawRetriesLocked() int {
	n := 0
	for _, r := range b.retries {
		if r.state == stateRetrying || r.state == stateQueued {
			b.pool.moveLocked(&r.taskBase, stateDone)
		}
		if b.settled {
			b.unfinished = append(b.unfinished, r.i)
		}
		if b.pool.hooks.onDone != nil {
			b.retryIdx = append(b.retryIdx, r.i)
		}
		n++
	}
	b.retries = nil
	return n
}

// The retry's body, as a queue entry of one task.

func (r *batchRetry[T]) claimLocked() (int, bool) {
	r.claimed = true
	b := r.b
	last := len(b.retries) - 1
	b.retries[r.slot] = b.retries[last]
	b.retries[r.slot].slot = r.slot
	b.retries[last] = nil
	b.retries = b.retries[:last]
	return r.i, true
}

func (r *batchRetry[T]) itemLocked(w *worker, i int) *taskBase {
	t := r.b.itemLocked(w, i)
	t.extra.Load().attempt = r.extra.Load().attempt // the claim counts the next call
	return t
}

func (r *batchRetry[T]) waitingLocked() int {
	if r.claimed {
		return 0
	}
	return 1
}

func (r *batchRetry[T]) nextLocked() (uint64, string, int) { return r.id, r.name(), 1 }

func (r *batchRetry[T]) run() *taskBase          { panic("workers: a batch's retry cannot run") }
func (r *batchRetry[T]) reject(err error) bool   { return r.b.reject(err) }
func (r *batchRetry[T]) cancel(cause error) bool { return r.b.cancel(cause) }
func (r *batchRetry[T]) cancelledTasks() int     { return r.b.cancelledTasks() }
func (r *batchRetry[T]) attach()                 {}

// expired is the end of the wait: the retry goes to the queue.
func (r *batchRetry[T]) expired(d *deadline, gen uint64) { r.pool.wake(&r.taskBase, d, gen) }

// again decides, on the worker, whether the call of task it.i that just
// ended with err (a *PanicError for a panic) is retried, as the batch's
// policy says: never once the batch is decided. If so, the task waits to
// retry, and again returns true with the worker's next task. Otherwise it
// returns the error the task ends with (a Permanent mark removed).
func (it *batchItem[T]) again(err error) (bool, *taskBase, error) {
	b, p, x := it.b, it.b.pool, it.extra.Load()
	p.mu.Lock()
	overran, wait, running := x.overran, x.overranWait, it.state == stateRunning && !b.done
	p.mu.Unlock()
	if !running {
		return false, nil, err
	}
	if !overran {
		failure := err
		if b.runFor > 0 && p.now() >= x.runAt {
			failure = &TimeoutError{Name: x.name, Timeout: b.runFor, Run: true}
		}
		if failure == nil {
			return false, nil, nil
		}
		var retry bool
		var final error
		if wait, retry, final = b.retry.Next(x.attempt, failure); !retry {
			if err != nil {
				err = final
			}
			return false, nil, err
		}
	}
	p.mu.Lock()
	if it.state != stateRunning || b.done {
		p.mu.Unlock()
		return false, nil, err
	}
	x.overran = false
	it.retryLocked(p.now() + wait)
	next := p.popLocked(it.worker)
	p.mu.Unlock()
	return true, next, nil
}

// callCtx returns the context of the call about to start: the worker's
// view of the batch's context or, for a batch whose tasks are retried
// after their run timeout, one of the call's own, which that timeout ends.
func (it *batchItem[T]) callCtx() context.Context {
	b := it.b
	if b.runFor == 0 || !b.retry.retries() {
		return it.ctx
	}
	c := &itemCall{itemCtx: *it.ctx}
	c.itemCtx.Context, c.cancel = context.WithCancelCause(b.ctx)
	b.pool.mu.Lock()
	it.call = c
	b.pool.mu.Unlock()
	return c
}

// itemCall is a batch's call with a context of its own (see callCtx).
type itemCall struct {
	itemCtx
	cancel  context.CancelCauseFunc
	overran atomic.Bool // set before cancel
}

// end ends the call's context after its run timeout.
func (c *itemCall) end(cause error) {
	c.overran.Store(true)
	c.cancel(cause)
}

// Err is DeadlineExceeded once the run timeout ended the call, else the
// batch's context's.
func (c *itemCall) Err() error {
	err := c.itemCtx.Err()
	if err != nil && c.overran.Load() {
		return context.DeadlineExceeded
	}
	return err
}

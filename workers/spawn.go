package workers

import (
	"context"

	"github.com/velalang/runtime/async"
)

// Spawn runs fn on a worker and returns its future at once; it never blocks,
// so an event loop may call it. fn receives a context derived from ctx that
// ends when the future is cancelled, when the WithTimeout deadline passes
// or when ctx ends; fn should return soon after. The future settles:
//
//   - with fn's value, or rejected with fn's own error (errors.Is and
//     errors.As reach it through any wrapping);
//   - rejected with a *PanicError if fn panics, or async.ErrGoexit if it
//     calls runtime.Goexit;
//   - rejected with a *TimeoutError at the deadline, even while fn still
//     runs; whatever fn returns later is dropped and counted in Stats.Late;
//   - cancelled by Future.Cancel, or when ctx ends (the error then wraps
//     async.ErrCancelled and context.Cause(ctx)), at that moment: a queued
//     task is removed and never runs, a running one has its context
//     cancelled.
//
// With WithRetry, a call that fails is followed by another after a
// backoff, as the RetryPolicy says, and the future settles once, with the
// last call's outcome; with WithDelay the task waits until it is due. A
// waiting task holds no worker and counts in Stats.Queued.
//
// Bad input never panics: a nil ctx or fn, a negative timeout, a closed
// pool or a full queue give a future already rejected with an error that
// wraps ErrInvalidArgument, ErrPoolClosed or ErrQueueFull, and the pool is
// unchanged but for Stats.Rejected. A Spawn costs one allocation for the
// task and its future, plus one for a worker goroutine when one starts.
//
// A function that awaits another task of its own pool deadlocks the pool
// once every worker does so: each waits for a task that no free worker is
// left to run. Give such inner work a pool of its own, or await it with a
// context that has a deadline.
func Spawn[T any](ctx context.Context, fn func(context.Context) (T, error), opts ...Option) *async.Future[T] {
	s := collect(opts)
	if s.err == nil {
		s.err = check(ctx, fn == nil, "Spawn with a nil function")
	}
	if s.names != nil {
		s.name = s.names(0)
	}
	if s.err != nil {
		return refuse[T](&s, s.err)
	}
	t := &task[T]{fn: fn}
	t.init(ctx, t, s.pool)
	if err := s.pool.submit(&s, &t.taskBase); err != nil {
		return t.refused(ctx, &s, err)
	}
	return t.promise.Future()
}

// check reports a nil ctx, or the message if bad is true.
func check(ctx context.Context, bad bool, msg string) error {
	switch {
	case ctx == nil:
		return invalid("nil context")
	case bad:
		return invalid("%s", msg)
	}
	return nil
}

// checkBatch reports bad input to SpawnAll or SpawnAllSettled.
func checkBatch[T any](ctx context.Context, fns []func(context.Context) (T, error), s *settings) error {
	if err := check(ctx, false, ""); err != nil {
		return err
	}
	for i, fn := range fns {
		if fn == nil {
			return invalid("SpawnAll: function %d is nil", i)
		}
	}
	return nil
}

// refuse counts a call refused before submission and returns a future
// rejected with err.
func refuse[T any](s *settings, err error) *async.Future[T] {
	if s.pool != nil {
		s.pool.stats.rejected.Add(1)
	}
	return async.FromError[T](err)
}

func (t *task[T]) init(ctx context.Context, body taskBody, p *Pool) {
	t.body, t.pool, t.parent = body, p, ctx
}

// refused settles the future of a task the pool did not take: cancelled if
// its parent had already ended (counted as submitted and cancelled, as the
// spec says), rejected otherwise (counted as rejected).
func (t *task[T]) refused(ctx context.Context, s *settings, err error) *async.Future[T] {
	t.fn = nil
	f := t.promise.Future()
	if err == errParentDone {
		s.pool.stats.submitted.Add(1)
		s.pool.stats.cancelled.Add(1)
		f.CancelWithCause(context.Cause(ctx))
		if s.pool.hooks.onDone != nil {
			res, _ := f.Result()
			t.reportSettled(true, false, false, context.Canceled, res.Err)
		}
		return f
	}
	s.pool.stats.rejected.Add(1)
	t.promise.Reject(err) // ErrPoolClosed or ErrQueueFull, which carry the package's prefix
	return f
}

// SpawnAll runs every function of fns as Spawn would, with the same options
// for each, and returns one future for all their values in input order. An
// empty fns resolves at once to an empty slice.
//
// The first failure rejects the combined future with a *TaskError that
// names the task (its index, and its name from WithName or WithNames) and
// unwraps to its error, and cancels every sibling: queued ones never run,
// running ones see their context end with a cause that matches
// async.ErrCancelled and that *TaskError. Cancelling the combined future,
// or the end of ctx, does the same (the future is then cancelled, with
// ctx's cause). WithTimeout gives the whole batch one deadline, counted
// from SpawnAll: the future is then rejected with a *TimeoutError, and the
// functions still running see their context end. Bad input (a nil
// function, a closed pool, a queue too small for all of fns) rejects the
// combined future before anything is submitted.
//
// A batch enters the pool's queue as one entry from which workers claim
// tasks in input order, and its functions share one context: whatever
// len(fns), a call makes a fixed handful of allocations, plus one record
// per function running at once, and holds no per-task state beyond fns and
// the result slice. Fairness with other work on the pool is first come,
// first served between queue entries: tasks submitted after a batch start
// once all of the batch's tasks have started.
//
// With WithRetry each task is retried on its own, and the batch fails only
// on a task's final failure; WithDelay makes the whole batch due later.
// SpawnAllSettled is the variant that does not fail fast.
//
// Each function counts once in Stats.Submitted and once in one outcome:
// Completed or Failed if it returned before the batch's outcome was
// decided; otherwise (it never started, or it was running then) Cancelled,
// or TimedOut for the batch's deadline and for the task that overran its
// run timeout. A batch refused before submission counts once in
// Stats.Rejected.
func SpawnAll[T any](ctx context.Context, fns []func(context.Context) (T, error), opts ...Option) *async.Future[[]T] {
	s := collect(opts)
	if s.err == nil {
		s.err = checkBatch(ctx, fns, &s)
	}
	if s.err != nil {
		return refuse[[]T](&s, s.err)
	}
	if len(fns) == 0 {
		return async.FromValue([]T{})
	}
	b := newBatch(ctx, fns, &s)
	switch err := b.submit(s.timeout); err {
	case nil:
	case errParentDone:
		b.p.Future().CancelWithCause(context.Cause(ctx))
		b.reportUnclaimed()
	default:
		s.pool.stats.rejected.Add(1)
		b.p.Reject(err)
	}
	return b.p.Future()
}

package workers

import (
	"context"

	"github.com/velalang/runtime/async"
)

// SpawnAllSettled runs every function of fns as SpawnAll does, as one queue
// entry with the same options for each, but without failing fast: every
// function runs, and the future is fulfilled once all have finished, with
// each one's outcome in input order: its value, or its own error (a
// *PanicError for a panic, async.ErrGoexit, a *TimeoutError for its
// WithRunTimeout, which fails only that task).
//
// If the batch's WithTimeout passes or ctx ends first, the future is still
// fulfilled, at that moment: each task that had not finished holds the
// batch's *TimeoutError, or an error that matches async.ErrCancelled and
// ctx's cause; tasks not started never run, and running ones see their
// context end. Only a cancel of the future itself (Cancel, CancelAll,
// Close) cancels it.
//
// Each function counts once in Stats.Submitted and once in one outcome, as
// for SpawnAll: Completed, Failed, TimedOut for a run timeout or the
// batch's deadline, Cancelled for the end of ctx or a cancel. Bad input (a
// nil function, a closed pool, a queue too small for all of fns) rejects
// the future before anything is submitted. Beyond the caller's slice and
// the result slice, a call holds the same fixed state as SpawnAll: one
// record per function running at once.
func SpawnAllSettled[T any](ctx context.Context, fns []func(context.Context) (T, error), opts ...Option) *async.Future[[]async.Result[T]] {
	s := collect(opts)
	if s.err == nil {
		s.err = checkBatch(ctx, fns, &s)
	}
	if s.err != nil {
		return refuse[[]async.Result[T]](&s, s.err)
	}
	if len(fns) == 0 {
		return async.FromValue([]async.Result[T]{})
	}
	b := newBatch(ctx, fns, &s)
	b.settled, b.vals, b.results = true, nil, make([]async.Result[T], len(fns))
	switch err := b.submit(s.timeout); err {
	case nil:
	case errParentDone:
		b.unfinishedFrom = 0
		b.settleAll(decision{o: cancelBatch})
		b.reportUnclaimed()
	default:
		s.pool.stats.rejected.Add(1)
		b.all.Reject(err)
	}
	return b.all.Future()
}

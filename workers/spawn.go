package workers

import (
	"context"
	"fmt"
	"sync/atomic"

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
// Bad input never panics: a nil ctx or fn, a negative timeout, a closed
// pool or a full queue give a future already rejected with an error that
// wraps ErrInvalidArgument, ErrPoolClosed or ErrQueueFull, and the pool is
// unchanged. A Spawn costs one allocation for the task and its future, plus
// one for a worker goroutine when one starts.
func Spawn[T any](ctx context.Context, fn func(context.Context) (T, error), opts ...Option) *async.Future[T] {
	s := collect(opts)
	return spawn(ctx, fn, &s)
}

func spawn[T any](ctx context.Context, fn func(context.Context) (T, error), s *settings) *async.Future[T] {
	err := s.err
	switch {
	case err != nil:
	case ctx == nil:
		err = invalid("Spawn with a nil context")
	case fn == nil:
		err = invalid("Spawn with a nil function")
	}
	if err != nil {
		if s.pool != nil {
			s.pool.stats.rejected.Add(1)
		}
		return async.FromError[T](err)
	}
	t := &task[T]{fn: fn}
	t.body, t.pool, t.parent = t, s.pool, ctx
	switch err := s.pool.submit(&t.taskBase, &t.promise, s); err {
	case nil:
	case errParentDone:
		t.fn = nil
		t.promise.Future().CancelWithCause(context.Cause(ctx))
	default:
		t.fn = nil
		s.pool.stats.rejected.Add(1)
		t.promise.Reject(fmt.Errorf("workers: Spawn: %w", err))
	}
	return t.promise.Future()
}

// SpawnAll runs every function of fns as Spawn would, with the same options
// for each, and returns one future for all their values in input order. An
// empty fns resolves at once to an empty slice. The first failure rejects
// the combined future at once with that failure's error and cancels every
// sibling: queued ones never run, running ones see their context end.
// Cancelling the combined future cancels every task. A nil function, like
// any bad input, rejects the combined future before anything is submitted.
func SpawnAll[T any](ctx context.Context, fns []func(context.Context) (T, error), opts ...Option) *async.Future[[]T] {
	s := collect(opts)
	if s.err == nil {
		for i, fn := range fns {
			if fn == nil {
				s.err = invalid("SpawnAll: function %d is nil", i)
				break
			}
		}
	}
	if s.err == nil && ctx == nil {
		s.err = invalid("SpawnAll with a nil context")
	}
	if s.err != nil {
		if s.pool != nil {
			s.pool.stats.rejected.Add(1)
		}
		return async.FromError[[]T](s.err)
	}
	g := &group[T]{futs: make([]*async.Future[T], len(fns)), vals: make([]T, len(fns))}
	p, out := async.NewPromise[[]T]()
	g.p = p
	if len(fns) == 0 {
		p.Resolve(g.vals)
		return out
	}
	g.left.Store(int64(len(fns)))
	for i, fn := range fns {
		g.futs[i] = spawn(ctx, fn, &s)
	}
	p.OnCancel(func(cause error) {
		if g.failed.CompareAndSwap(false, true) {
			g.cancelAll(cause)
		}
	})
	for i, f := range g.futs {
		if f.Poll(async.WakerFunc(func() { g.settled(i) })).IsReady() {
			g.settled(i) // already settled: the waker was not registered
		}
	}
	return out
}

// group is one SpawnAll call.
type group[T any] struct {
	p      *async.Promise[[]T]
	futs   []*async.Future[T]
	vals   []T
	left   atomic.Int64
	failed atomic.Bool // the group has failed or was cancelled
}

func (g *group[T]) settled(i int) {
	r, ok := g.futs[i].Result()
	if !ok {
		return
	}
	if r.Err != nil {
		if g.failed.CompareAndSwap(false, true) {
			g.cancelAll(fmt.Errorf("workers: SpawnAll: sibling %d failed: %w", i, r.Err))
			g.p.Reject(r.Err)
		}
		return
	}
	g.vals[i] = r.Value
	if g.left.Add(-1) == 0 {
		g.p.Resolve(g.vals)
	}
}

func (g *group[T]) cancelAll(cause error) {
	for _, f := range g.futs {
		if f != nil {
			f.CancelWithCause(cause)
		}
	}
}

package workers

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/internal/hook"
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
// unchanged but for Stats.Rejected. A Spawn costs one allocation for the
// task and its future, plus one for a worker goroutine when one starts.
func Spawn[T any](ctx context.Context, fn func(context.Context) (T, error), opts ...Option) *async.Future[T] {
	s := collect(opts)
	if s.err == nil {
		s.err = check(ctx, fn == nil, "Spawn with a nil function")
	}
	if s.err != nil {
		return refuse[T](&s, s.err)
	}
	t := &task[T]{fn: fn}
	t.init(ctx, t, s.pool)
	if err := s.pool.submit(&s, nil, &t.taskBase); err != nil {
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
		return f
	}
	s.pool.stats.rejected.Add(1)
	t.promise.Reject(fmt.Errorf("workers: %w", err))
	return f
}

// SpawnAll runs every function of fns as Spawn would, with the same options
// for each, and returns one future for all their values in input order. An
// empty fns resolves at once to an empty slice. The first failure rejects
// the combined future at once with that failure's error and cancels every
// sibling: queued ones never run, running ones see their context end. A
// task that is cancelled rather than failed (its parent context ended,
// CancelAll, Close, or Shutdown running out of time) cancels the combined
// future, with the same error, and every sibling; so does the parent
// context ending, whether before the call or during the run. Cancelling the
// combined future cancels every task. Bad input (a nil function, a closed
// pool, a queue too small for all of fns) rejects the combined future before
// anything is submitted; a pool closed while the tasks are being submitted
// rejects it too, and cancels those submitted.
//
// Each function counts once in Stats.Submitted, and once in one outcome:
// those that never ran because the batch had already failed or been
// cancelled count as Cancelled, whether or not the pool's queue held them.
// A batch refused before submission counts once in Stats.Rejected.
//
// The tasks are submitted a few hundred at a time under one acquisition of
// the pool's mutex each, and a call makes a fixed handful of allocations
// whatever len(fns) is.
func SpawnAll[T any](ctx context.Context, fns []func(context.Context) (T, error), opts ...Option) *async.Future[[]T] {
	s := collect(opts)
	if s.err == nil {
		s.err = check(ctx, false, "")
	}
	for i, fn := range fns {
		if s.err == nil && fn == nil {
			s.err = invalid("SpawnAll: function %d is nil", i)
		}
	}
	if s.err != nil {
		return refuse[[]T](&s, s.err)
	}
	g := &group[T]{vals: make([]T, len(fns)), pool: s.pool}
	if len(fns) == 0 {
		g.p.Resolve(g.vals)
		return g.p.Future()
	}
	g.tasks = make([]groupTask[T], len(fns))
	g.bases = make([]*taskBase, len(fns))
	for i, fn := range fns {
		t := &g.tasks[i]
		t.fn, t.g, t.i = fn, g, i
		t.init(ctx, t, s.pool)
		g.bases[i] = &t.taskBase
	}
	g.left.Store(int64(len(fns)))
	g.p.OnCancel(func(cause error) {
		if g.failed.CompareAndSwap(false, true) {
			g.cancelAll(cause)
		}
	})
	n, err := g.submit(&s)
	if err == nil {
		return g.p.Future()
	}
	// The tasks' own futures are never handed out, so only the combined one
	// needs settling, once the tasks already submitted are cancelled; it is
	// settled only by whoever stops the batch first.
	stats := &s.pool.stats
	switch err {
	case errBatchStopped:
		// Failed or cancelled meanwhile: whoever did it settles the future.
		stats.submitted.Add(uint64(len(fns) - n))
		stats.cancelled.Add(uint64(len(fns) - n))
	case errParentDone:
		stats.submitted.Add(uint64(len(fns) - n))
		stats.cancelled.Add(uint64(len(fns) - n))
		if g.failed.CompareAndSwap(false, true) {
			cause := context.Cause(ctx)
			g.cancelAll(cause)
			g.p.Future().CancelWithCause(cause)
		}
	default:
		if g.failed.CompareAndSwap(false, true) {
			err = fmt.Errorf("workers: SpawnAll: %w", err)
			g.cancelAll(err)
			stats.rejected.Add(1)
			g.p.Reject(err)
		}
	}
	return g.p.Future()
}

// submitChunk is how many tasks of a SpawnAll are submitted under one
// acquisition of the pool's mutex, so that workers can start on the first
// tasks while the rest are being submitted.
const submitChunk = 256

// submit submits the group's tasks and returns how many it submitted before
// an error. A pool with a bounded queue takes the whole group at once, so
// that it is refused whole if it does not fit.
func (g *group[T]) submit(s *settings) (int, error) {
	if g.pool.queueSize > 0 {
		return 0, g.pool.submit(s, &g.gate, g.bases...)
	}
	for i := 0; i < len(g.bases); i += submitChunk {
		if err := g.pool.submit(s, &g.gate, g.bases[i:min(i+submitChunk, len(g.bases))]...); err != nil {
			return i, err
		}
	}
	return len(g.bases), nil
}

// group is one SpawnAll call. Its tasks live in one slice, so the call
// allocates the same few objects whatever the number of functions, and each
// task reports to the group from its future's observer, without a waker.
type group[T any] struct {
	p      async.Promise[[]T]
	pool   *Pool
	tasks  []groupTask[T]
	bases  []*taskBase // &tasks[i].taskBase
	vals   []T
	left   atomic.Int64
	failed atomic.Bool // the group has failed or was cancelled
	gate   batchGate   // pool.mu
}

// groupTask is a task of a group: task i of g.
type groupTask[T any] struct {
	task[T]
	g *group[T]
	i int
}

// attach makes the group task, not its base, the observer of its future.
func (t *groupTask[T]) attach() { hook.Attach(&t.promise, t) }

// Settled counts the task as any other, then tells the group.
func (t *groupTask[T]) Settled(state uint8, err error) {
	t.taskBase.Settled(state, err)
	t.g.settled(t.i, async.State(state), err)
}

// settled records how task i settled. The first task to fail or be
// cancelled cancels its siblings, then settles the combined future the same
// way, so that the combined future's continuations run once the batch is
// over.
func (g *group[T]) settled(i int, state async.State, err error) {
	switch state {
	case async.Fulfilled:
		r, _ := g.tasks[i].promise.Future().Result()
		g.vals[i] = r.Value
		if g.left.Add(-1) == 0 {
			g.p.Resolve(g.vals)
		}
	case async.Cancelled:
		if g.failed.CompareAndSwap(false, true) {
			g.cancelAll(err)
			g.p.Future().CancelWithCause(err)
		}
	default:
		if g.failed.CompareAndSwap(false, true) {
			g.cancelAll(fmt.Errorf("workers: SpawnAll: sibling %d failed: %w", i, err))
			g.p.Reject(err)
		}
	}
}

func (g *group[T]) cancelAll(cause error) { g.pool.cancelTasks(&g.gate, g.bases, cause) }

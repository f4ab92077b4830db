package async

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/velalang/runtime/internal/safecall"
)

// settling is the state word of a future whose first settle is being
// written: its value is not yet visible, so it still reads as Pending.
const settling = 0xff

// closedChan is returned by Done for futures settled before anyone asked.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Future is the read side of a one-shot value produced by a [Promise], a
// worker or a combinator. It settles exactly once; the first settle wins.
//
// All methods are safe for concurrent use by any number of goroutines. A
// Future must not be copied; use it through the pointer it was handed out as.
// Reading a settled future (State, Result, Await, Poll) takes no lock and
// does not allocate.
type Future[T any] struct {
	state atomic.Uint32 // a State, or settling

	mu       sync.Mutex
	subs     *subscribers // made on demand by Done, Poll and OnCancel
	observer Observer     // told first how the future settled

	// value and err are written once by the settling goroutine before the
	// state word leaves settling, and read only after it has.
	value T
	err   error
}

// State reports the future's state. It never blocks; a future whose settle
// is in progress reports Pending until its value is visible.
func (f *Future[T]) State() State {
	if s := f.state.Load(); s != settling {
		return State(s)
	}
	return Pending
}

func (f *Future[T]) settled() bool {
	s := f.state.Load()
	return s != uint32(Pending) && s != settling
}

// Done returns a channel that is closed once the future has settled, for use
// in select statements. Every call returns the same channel, made on the
// first call (at most two allocations) unless the future has already
// settled.
func (f *Future[T]) Done() <-chan struct{} {
	if f.settled() {
		return closedChan
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.settled() {
		return closedChan
	}
	subs := f.subsLocked()
	if subs.done == nil {
		subs.done = make(chan struct{})
	}
	return subs.done
}

// Await blocks until the future settles or ctx ends, whichever comes first.
// Once settled it returns the value and error the future settled with; the
// error of a cancelled future satisfies errors.Is(err, ErrCancelled). If ctx
// ends first, Await returns the zero T and an error for which errors.Is(err,
// ctx.Err()) holds (and errors.Is reaches context.Cause(ctx) too); the future
// is left as it was. A nil ctx is treated as context.Background().
//
// Await blocks the calling goroutine: inside a worker's function it holds
// the worker, so awaiting a task of the same pool from every worker of
// that pool deadlocks it (use a second pool, or a ctx with a deadline).
//
// Await on a settled future returns at once, without locking or allocating.
// On a pending one it first yields the processor a few times, checking the
// future in between (a result from a worker on another core usually comes
// within a microsecond), and only then makes the Done channel and parks.
func (f *Future[T]) Await(ctx context.Context) (T, error) {
	if f.settled() {
		return f.value, f.err
	}
	// A worker on another core often settles the future within a
	// microsecond: yielding the processor a few times first usually spares
	// making the Done channel and parking on it.
	for range awaitYields {
		runtime.Gosched()
		if f.settled() {
			return f.value, f.err
		}
	}
	var ctxDone <-chan struct{}
	if ctx != nil {
		ctxDone = ctx.Done()
	}
	done := f.Done()
	if ctxDone == nil {
		<-done
		return f.value, f.err
	}
	select {
	case <-done:
		return f.value, f.err
	case <-ctxDone:
		if f.settled() {
			return f.value, f.err
		}
		var zero T
		return zero, awaitError(ctx)
	}
}

// awaitYields is how many times Await yields the processor, checking the
// future in between, before it parks on the Done channel (see
// BenchmarkRoundTrip in package workers).
const awaitYields = 4

// awaitError describes a context that ended while waiting: it matches
// ctx.Err() and, when it differs, context.Cause(ctx).
func awaitError(ctx context.Context) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != err {
		return fmt.Errorf("async: await: %w (%w)", err, cause)
	}
	return fmt.Errorf("async: await: %w", err)
}

// Result returns the future's outcome without blocking; ok is false while
// the future is pending.
func (f *Future[T]) Result() (r Result[T], ok bool) {
	if !f.settled() {
		return r, false
	}
	return Result[T]{Value: f.value, Err: f.err}, true
}

// Cancel settles a pending future as Cancelled with an error that satisfies
// errors.Is(err, ErrCancelled): on the calling goroutine it runs the
// promise's observer and cancellation handlers (for a worker's future this
// removes a queued task or cancels a running task's context), then makes
// the future read as cancelled and releases its waiters, so whoever sees
// it cancelled sees what they did. It returns false, and changes nothing,
// if the future had already settled or a settle is under way.
func (f *Future[T]) Cancel() bool { return f.CancelWithCause(nil) }

// CancelWithCause is Cancel with a reason: the future's error wraps both
// ErrCancelled and cause, so errors.Is and errors.As reach either. A nil
// cause is the same as Cancel. A cause that already matches ErrCancelled
// (the error of another cancelled future, passed on) is the future's error
// as it is, not wrapped a second time.
func (f *Future[T]) CancelWithCause(cause error) bool {
	err := ErrCancelled
	if cause != nil && cause != ErrCancelled {
		if errors.Is(cause, ErrCancelled) {
			err = cause
		} else {
			err = &cancelError{cause: cause}
		}
	}
	var zero T
	return f.settle(Cancelled, zero, err)
}

// Poll reports the future's outcome for an event loop. If the future has
// settled, the returned Poll is ready and carries its value or error.
// Otherwise Poll registers w and returns a pending Poll; w.Wake is called
// once, on the goroutine that settles the future, after it settles.
// Registration happens under the future's lock before the state is checked
// again, so a settle that races with Poll is never missed. Each pending Poll
// registers w once more; registrations are dropped when they are woken.
// A nil w is allowed and only observes.
func (f *Future[T]) Poll(w Waker) Poll[T] {
	if f.settled() {
		return Poll[T]{ready: true, value: f.value, err: f.err}
	}
	f.mu.Lock()
	if f.settled() {
		f.mu.Unlock()
		return Poll[T]{ready: true, value: f.value, err: f.err}
	}
	if w != nil {
		f.addWakerLocked(w)
	}
	f.mu.Unlock()
	return Poll[T]{}
}

// subscribers are the Done channel, the wakers and the cancellation
// handlers of a future, kept apart so that a future nobody waits on, polls
// or watches stays small.
type subscribers struct {
	done     chan struct{} // made on demand by Done; closed on settle
	wakers   []Waker       // in registration order
	onCancel []func(error) // Promise.OnCancel handlers, in order
}

func (f *Future[T]) subsLocked() *subscribers {
	if f.subs == nil {
		f.subs = new(subscribers)
	}
	return f.subs
}

func (f *Future[T]) addWakerLocked(w Waker) {
	s := f.subsLocked()
	s.wakers = append(s.wakers, w)
}

// subscribe calls w.Wake once the future has settled: at once, on the
// calling goroutine, if it already has.
func (f *Future[T]) subscribe(w Waker) {
	if f.Poll(w).ready {
		w.Wake()
	}
}

// settle is the single way a future leaves Pending. It returns false if
// another settle came first. Everything it does for the future's owner
// happens before the future reads as settled, by any means (State, Result,
// Await, Poll, Done): first the observer, then, on a cancel, the
// cancellation handlers; only then is the state published, Done closed and
// the wakers run. Meanwhile the future reads as Pending and any other
// settle fails.
func (f *Future[T]) settle(s State, v T, err error) bool {
	if !f.state.CompareAndSwap(uint32(Pending), settling) {
		return false
	}
	f.finish(s, v, err)
	return true
}

// finish is the rest of a settle whose first step (Pending to settling)
// the caller won: by settle itself, or earlier by Promise.Claim.
func (f *Future[T]) finish(s State, v T, err error) {
	f.value, f.err = v, err
	// Deferred, so that an observer or handler that panics or calls
	// runtime.Goexit cannot leave the future settling forever, its waiters
	// waiting and its other handlers not run.
	defer f.publish(s)
	if s == Cancelled {
		defer f.cancelled(err)
	}
	f.mu.Lock()
	o := f.observer
	f.observer = nil
	f.mu.Unlock()
	if o != nil {
		o.Settled(s, err)
	}
}

// cancelled runs the cancellation handlers of a future being cancelled,
// including any registered while they run.
func (f *Future[T]) cancelled(err error) {
	for {
		f.mu.Lock()
		var hs []func(error)
		if f.subs != nil {
			hs, f.subs.onCancel = f.subs.onCancel, nil
		}
		f.mu.Unlock()
		if len(hs) == 0 {
			return
		}
		callAll(hs, func(h func(error)) { h(err) })
	}
}

// publish makes the settle visible: it stores the state, closes Done and
// wakes the wakers, in order. A cancellation handler registered in the
// instant between cancelled and publish runs here, after the state is
// stored.
func (f *Future[T]) publish(s State) {
	f.mu.Lock()
	f.state.Store(uint32(s))
	subs := f.subs
	f.subs = nil
	f.mu.Unlock()
	if subs == nil {
		return
	}
	defer release(subs.done, subs.wakers)
	if s == Cancelled && len(subs.onCancel) > 0 {
		err := f.err
		callAll(subs.onCancel, func(h func(error)) { h(err) })
	}
}

// release closes done, then wakes each of ws, in order.
func release(done chan struct{}, ws []Waker) {
	if done != nil {
		close(done)
	}
	callAll(ws, Waker.Wake)
}

// callAll calls call(x) for each x of xs, in order. If a call panics or
// calls runtime.Goexit, the calls after it are still made, from a deferred
// call while the goroutine unwinds, and then the panic or Goexit goes on.
func callAll[E any](xs []E, call func(E)) { safecall.Each(xs, call) }

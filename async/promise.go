package async

// Promise is the write side of a [Future]. Resolve, Reject and the future's
// Cancel race; the first to arrive settles the future and the others return
// false.
//
// The zero Promise is ready to use and holds a pending future, so a Promise
// can be embedded in a larger struct without a separate allocation. A Promise
// must not be copied after first use. All methods are safe for concurrent
// use.
type Promise[T any] struct {
	f Future[T]
}

// NewPromise returns a pending promise and its future, in one allocation.
func NewPromise[T any]() (*Promise[T], *Future[T]) {
	p := new(Promise[T])
	return p, &p.f
}

// FromValue returns a future already fulfilled with v.
func FromValue[T any](v T) *Future[T] {
	p, f := NewPromise[T]()
	p.Resolve(v)
	return f
}

// FromError returns a future already rejected with err (ErrRejectedNil if
// err is nil).
func FromError[T any](err error) *Future[T] {
	p, f := NewPromise[T]()
	p.Reject(err)
	return f
}

// Future returns the promise's future. Every call returns the same pointer.
func (p *Promise[T]) Future() *Future[T] { return &p.f }

// Resolve fulfils the future with v and releases its waiters. It returns
// false, and changes nothing, if the future had already settled.
func (p *Promise[T]) Resolve(v T) bool { return p.f.settle(Fulfilled, v, nil) }

// Reject rejects the future with err and releases its waiters. Reject(nil)
// still rejects, with ErrRejectedNil, so that a rejected future always
// carries a non-nil error. It returns false, and changes nothing, if the
// future had already settled.
func (p *Promise[T]) Reject(err error) bool {
	if err == nil {
		err = ErrRejectedNil
	}
	var zero T
	return p.f.settle(Rejected, zero, err)
}

// OnCancel arranges for fn to run once if, and only if, the future is
// cancelled, with the cancellation error (errors.Is(cause, ErrCancelled)
// holds). Handlers run in registration order on the goroutine that cancels
// the future, before the future reads as cancelled and before its waiters
// are released, so they must not block, and a handler that looks at the
// future itself still finds it pending. If the future is already cancelled, fn runs at once on the calling
// goroutine; if it settled any other way, fn is dropped and never runs. This
// is how a producer learns that nobody wants its result any more.
func (p *Promise[T]) OnCancel(fn func(cause error)) {
	if fn == nil {
		return
	}
	f := &p.f
	f.mu.Lock()
	if !f.settled() {
		subs := f.subsLocked()
		subs.onCancel = append(subs.onCancel, fn)
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	if State(f.state.Load()) == Cancelled {
		fn(f.err)
	}
}

// Observer is told, once, how a future settled: on the goroutine that
// settled it, before its cancellation handlers run, before its waiters are
// released and before any waker or continuation runs, so that what the
// observer records is visible to everyone who sees the future settled. It
// is for the owner of a promise that keeps books about it (package workers
// counts outcomes and stops cancelled tasks this way); it must not block,
// and it must not call back into the future.
type Observer interface {
	Settled(s State, err error)
}

// Observe makes o the observer of the promise's future, replacing any
// earlier one. It is meant to be called before the future is shared: if
// the future has already settled (or a settle is under way), o is never
// told, and Observe reports false.
func (p *Promise[T]) Observe(o Observer) bool {
	f := &p.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state.Load() != uint32(Pending) {
		return false
	}
	f.observer = o
	return true
}

// Pending reports whether the future is pending with no settle under way.
// Unlike Future.State, which reports a settle in progress as Pending until
// its value is visible, Pending turns false the moment a Resolve, Reject or
// Cancel has won: a producer checks it before it starts work that such a
// settle has made pointless.
func (p *Promise[T]) Pending() bool { return p.f.state.Load() == uint32(Pending) }

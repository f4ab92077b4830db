package async

// Claim is the right to settle a future, won by [Promise.Claim] and used
// once, by Resolve or Reject. The zero Claim does nothing.
type Claim[T any] struct{ f *Future[T] }

// Claim wins the first step of a settle without taking the rest yet: once
// it returns ok, every other Resolve, Reject, Cancel and CancelWithCause
// of the future fails (Cancel returns false), while the future still reads
// as Pending and nothing has run. The settle is finished, observer,
// handlers, waiters and wakers included, by the returned Claim's Resolve or
// Reject.
//
// It is for a producer that must decide under its own lock that a future
// gets a value, so that a racing Cancel cannot report a value withdrawn
// that was in fact handed over, yet must settle it only after releasing
// that lock, because a settle runs continuations. A channel handing a value
// to a pending receive is the example. Claim is cheap (one compare-and-swap)
// and never runs user code, so it may be called under a lock. The claim
// must be used exactly once and soon: until then the future's waiters wait.
// It reports false if the future has settled or a settle is under way.
func (p *Promise[T]) Claim() (c Claim[T], ok bool) {
	if !p.f.state.CompareAndSwap(uint32(Pending), settling) {
		return Claim[T]{}, false
	}
	return Claim[T]{f: &p.f}, true
}

// Resolve fulfils the claimed future with v, as Promise.Resolve would have.
func (c Claim[T]) Resolve(v T) {
	if c.f != nil {
		c.f.finish(Fulfilled, v, nil)
	}
}

// Reject rejects the claimed future with err (ErrRejectedNil if err is
// nil), as Promise.Reject would have.
func (c Claim[T]) Reject(err error) {
	if c.f == nil {
		return
	}
	if err == nil {
		err = ErrRejectedNil
	}
	var zero T
	c.f.finish(Rejected, zero, err)
}

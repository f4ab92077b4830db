package channel

import "github.com/velalang/runtime/async"

// sendFuture is a pending SendAsync: the waiter in the send queue and the
// promise of its future, in one allocation.
type sendFuture[T any] struct {
	c   *core[T]
	w   waiter[T]
	p   async.Promise[struct{}]
	won async.Claim[struct{}] // won by claim, under the mutex
}

func newSendFuture[T any](c *core[T], owner *handle, v T) *sendFuture[T] {
	f := &sendFuture[T]{c: c}
	f.w.val, f.w.owner, f.w.party = v, owner, f
	f.p.OnCancel(f.cancelled)
	return f
}

// claim wins the future's settle, so that a Cancel racing with the
// hand-over returns false instead of withdrawing a value already taken.
func (f *sendFuture[T]) claim() (ok bool) {
	f.won, ok = f.p.Claim()
	return ok
}

func (f *sendFuture[T]) live() bool    { return f.p.Pending() }
func (f *sendFuture[T]) of() *selector { return nil }

func (f *sendFuture[T]) wake() {
	if f.w.err != nil {
		f.won.Reject(f.w.err)
		return
	}
	var zero T
	f.w.val = zero
	f.won.Resolve(struct{}{})
}

// cancelled takes the waiter out of the queue: the Cancel that won the
// future's settle withdraws the value.
func (f *sendFuture[T]) cancelled(error) {
	c := f.c
	c.mu.Lock()
	if f.w.queued {
		c.sendq.remove(&f.w)
	}
	c.mu.Unlock()
}

// recvFuture is a pending RecvAsync: the waiter in the receive queue and
// the promise of its future, in one allocation.
type recvFuture[T any] struct {
	c   *core[T]
	w   waiter[T]
	p   async.Promise[T]
	won async.Claim[T]
}

func newRecvFuture[T any](c *core[T], owner *handle) *recvFuture[T] {
	f := &recvFuture[T]{c: c}
	f.w.owner, f.w.party = owner, f
	f.p.OnCancel(f.cancelled)
	return f
}

func (f *recvFuture[T]) claim() (ok bool) {
	f.won, ok = f.p.Claim()
	return ok
}

func (f *recvFuture[T]) live() bool    { return f.p.Pending() }
func (f *recvFuture[T]) of() *selector { return nil }

func (f *recvFuture[T]) wake() {
	if f.w.err != nil {
		f.won.Reject(f.w.err)
		return
	}
	v := f.w.val
	var zero T
	f.w.val = zero
	f.won.Resolve(v)
}

func (f *recvFuture[T]) cancelled(error) {
	c := f.c
	c.mu.Lock()
	if f.w.queued {
		c.recvq.remove(&f.w)
	}
	c.mu.Unlock()
}

package channel

import (
	"context"
	"iter"

	"github.com/velalang/runtime/async"
)

// Receiver is the receiving end of a channel. Any number of goroutines may
// use one handle at once, and Clone makes more handles: each value goes to
// exactly one receive, and the values of one sender reach any one receive
// loop in the order they were sent. A Receiver must not be copied.
type Receiver[T any] struct {
	c *core[T]
	h handle
}

// closedForRecv reports the error a receive through h gets without a value
// now, or nil if it may wait. Called with the mutex held, when no value can
// be taken at once. A closed channel is drained only once no OnEach holds
// values it may put back.
func (c *core[T]) closedForRecv(h *handle) error {
	switch {
	case h.closed || c.gone:
		return ErrClosed
	case c.done && c.held == 0:
		return c.failure
	}
	return nil
}

// Recv returns the next value, waiting while the channel is empty. Once the
// channel is closed by its senders it returns the buffered values, then the
// zero T and ErrClosed (or the error given to CloseWithError, as given). It
// returns ErrClosed at once on a closed handle, and once every receiver
// handle is closed. If ctx ends first it returns an error that matches
// ctx.Err() and context.Cause(ctx), and no value was taken. A receive that
// can complete at once does so even if ctx has already ended. A nil ctx
// never ends.
func (r *Receiver[T]) Recv(ctx context.Context) (T, error) {
	c := r.c
	c.mu.Lock()
	if r.h.closed {
		c.mu.Unlock()
		var zero T
		return zero, ErrClosed
	}
	if v, wake, ok := c.take(); ok {
		c.mu.Unlock()
		if wake != nil {
			wake.party.wake()
		}
		return v, nil
	}
	if err := c.closedForRecv(&r.h); err != nil {
		c.mu.Unlock()
		var zero T
		return zero, err
	}
	if ctx != nil && ctx.Err() != nil {
		c.mu.Unlock()
		var zero T
		return zero, ctxError(ctx, "receive")
	}
	w := c.parkedWaiter(&r.h)
	c.recvq.push(w)
	c.mu.Unlock()
	return c.park(ctx, &c.recvq, w, "receive")
}

// TryRecv returns the next value if there is one now. Otherwise it returns
// ErrEmpty while the channel is open, and after close and drain ErrClosed
// or the CloseWithError error, as Recv does.
func (r *Receiver[T]) TryRecv() (T, error) {
	c := r.c
	c.mu.Lock()
	if r.h.closed {
		c.mu.Unlock()
		var zero T
		return zero, ErrClosed
	}
	v, wake, ok := c.take()
	if !ok {
		err := c.closedForRecv(&r.h)
		c.mu.Unlock()
		if err == nil {
			err = ErrEmpty
		}
		return v, err
	}
	c.mu.Unlock()
	if wake != nil {
		wake.party.wake()
	}
	return v, nil
}

// RecvAsync is Recv for an event loop: it never blocks. The future is
// fulfilled with the next value, or rejected with the error Recv would
// return. A Cancel() of the future that returns true took nothing: the
// value goes to the next receive; one that returns false found the future
// settled, and then its value (if any) is in the future. While pending it
// is a waiting receiver (TrySend on a rendezvous channel may hand it a
// value).
func (r *Receiver[T]) RecvAsync() *async.Future[T] {
	c := r.c
	c.mu.Lock()
	if r.h.closed {
		c.mu.Unlock()
		return async.FromError[T](ErrClosed)
	}
	if v, wake, ok := c.take(); ok {
		c.mu.Unlock()
		if wake != nil {
			wake.party.wake()
		}
		return async.FromValue(v)
	}
	if err := c.closedForRecv(&r.h); err != nil {
		c.mu.Unlock()
		return async.FromError[T](err)
	}
	f := newRecvFuture(c, &r.h)
	c.recvq.push(&f.w)
	c.mu.Unlock()
	return f.p.Future()
}

// Clone returns another handle on the same channel, for another consumer
// sharing the values. The channel closes for senders once every handle,
// this one and its clones, is closed. A clone of a closed handle is
// closed.
func (r *Receiver[T]) Clone() *Receiver[T] {
	c := r.c
	n := &Receiver[T]{c: c}
	c.mu.Lock()
	if r.h.closed {
		n.h.closed = true
	} else {
		c.receivers++
	}
	c.mu.Unlock()
	return n
}

// Close says this handle will receive no more and returns nil. Its waiting
// and later operations fail with ErrClosed. Once every Receiver handle is
// closed, the channel is closed for senders: waiting and later sends fail
// with ErrClosed, and the values still buffered are dropped (nobody can
// receive them). Closing a closed handle does nothing.
func (r *Receiver[T]) Close() error {
	c := r.c
	var small [4]*waiter[T]
	wake := small[:0]
	c.mu.Lock()
	if r.h.closed {
		c.mu.Unlock()
		return nil
	}
	r.h.closed = true
	c.receivers--
	var gone map[*func()]struct{}
	if c.receivers == 0 {
		wake = c.closeRecv(wake)
		gone, c.goneFns = c.goneFns, nil
	} else {
		wake = c.fail(&c.recvq, &r.h, ErrClosed, wake)
	}
	c.mu.Unlock()
	defer runGone(gone)
	wakeAll(wake)
	return nil
}

// Len returns the number of values in the channel's buffer.
func (r *Receiver[T]) Len() int { return r.c.len() }

// Cap returns the capacity given to New, or Unbounded.
func (r *Receiver[T]) Cap() int { return r.c.capacity }

// All returns an iterator over the values received through r, each with a
// nil error, in order, for a range loop. It ends after the channel closes
// normally (or r is closed). A CloseWithError error, or ctx's error if ctx
// ends while it waits, is yielded once as (zero, err), and then it ends.
// Breaking out of the loop takes nothing more from the channel. The values
// are received one Recv at a time, so several loops over clones share them.
func (r *Receiver[T]) All(ctx context.Context) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			v, err := r.Recv(ctx)
			if err == ErrClosed {
				return
			}
			if !yield(v, err) || err != nil {
				return
			}
		}
	}
}

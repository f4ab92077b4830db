package channel

import (
	"context"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/internal/safecall"
)

// Sender is the sending end of a channel. Any number of goroutines may use
// one handle at once; Clone makes another handle, for another producer that
// closes on its own. A Sender must not be copied.
type Sender[T any] struct {
	c *core[T]
	h handle
}

// Send delivers v: into the buffer, or to a waiting receiver, waiting while
// the channel is full (for a rendezvous channel, until a receiver takes v).
// It returns nil once v is delivered; ErrClosed if the channel is or
// becomes closed (by its senders, by CloseWithError or by every receiver
// leaving) or this handle was closed; or, if ctx ends first, an error that
// matches ctx.Err() and context.Cause(ctx). Whenever it returns an error, v
// was not delivered. A send that can complete at once does so even if ctx
// has already ended. A nil ctx never ends.
//
// A send that does not wait takes the channel's mutex once and allocates
// nothing; one that waits parks on a pooled record.
func (s *Sender[T]) Send(ctx context.Context, v T) error {
	c := s.c
	c.mu.Lock()
	if c.closedForSend(&s.h) {
		c.mu.Unlock()
		return ErrClosed
	}
	if wake, ok := c.offer(v); ok {
		c.mu.Unlock()
		if wake != nil {
			wake.party.wake()
		}
		return nil
	}
	if ctx != nil && ctx.Err() != nil {
		c.mu.Unlock()
		return ctxError(ctx, "send")
	}
	w := c.parkedWaiter(&s.h)
	w.val = v
	c.sendq.push(w)
	c.mu.Unlock()
	_, err := c.park(ctx, &c.sendq, w, "send")
	return err
}

// TrySend delivers v if it can without waiting and returns nil; otherwise
// it returns ErrFull (for a rendezvous channel: no receiver is waiting) or
// ErrClosed, and v was not delivered.
func (s *Sender[T]) TrySend(v T) error {
	c := s.c
	c.mu.Lock()
	if c.closedForSend(&s.h) {
		c.mu.Unlock()
		return ErrClosed
	}
	wake, ok := c.offer(v)
	c.mu.Unlock()
	if !ok {
		return ErrFull
	}
	if wake != nil {
		wake.party.wake()
	}
	return nil
}

// sent is the future of every SendAsync that delivered at once: fulfilled,
// so nothing can change it and it can be shared.
var sent = async.FromValue(struct{}{})

// SendAsync is Send for an event loop: it never blocks. The future is
// fulfilled once v is in the channel (for a rendezvous channel, once a
// receiver took it), and rejected with ErrClosed if the channel is or
// becomes closed first. A Cancel() of the future that returns true
// withdraws v: it is never delivered; one that returns false found the
// future settled, and then v was delivered or refused as the future says.
// While pending it is a waiting sender (TryRecv may take v). A SendAsync
// that delivers at once allocates nothing.
func (s *Sender[T]) SendAsync(v T) *async.Future[struct{}] {
	c := s.c
	c.mu.Lock()
	if c.closedForSend(&s.h) {
		c.mu.Unlock()
		return async.FromError[struct{}](ErrClosed)
	}
	if wake, ok := c.offer(v); ok {
		c.mu.Unlock()
		if wake != nil {
			wake.party.wake()
		}
		return sent
	}
	f := newSendFuture(c, &s.h, v)
	c.sendq.push(&f.w)
	c.mu.Unlock()
	return f.p.Future()
}

// Clone returns another handle on the same channel. The channel closes for
// receivers once every handle, this one and its clones, is closed. A clone
// of a closed handle is closed.
func (s *Sender[T]) Clone() *Sender[T] {
	c := s.c
	n := &Sender[T]{c: c}
	c.mu.Lock()
	if s.h.closed {
		n.h.closed = true
	} else {
		c.senders++
	}
	c.mu.Unlock()
	return n
}

// Close says this handle will send no more and returns nil. Its waiting
// and later operations fail with ErrClosed. Once every Sender handle is
// closed, the channel closes: receivers get the buffered values, then
// ErrClosed. Closing a closed handle does nothing.
func (s *Sender[T]) Close() error {
	c := s.c
	var small [4]*waiter[T]
	wake := small[:0]
	c.mu.Lock()
	if s.h.closed {
		c.mu.Unlock()
		return nil
	}
	s.h.closed = true
	c.senders--
	if c.senders == 0 && !c.done {
		wake = c.closeSend(ErrClosed, wake)
	} else {
		wake = c.fail(&c.sendq, &s.h, ErrClosed, wake)
	}
	c.mu.Unlock()
	wakeAll(wake)
	return nil
}

// CloseWithError closes the channel now, whatever other Sender handles
// exist, and this handle with it: receivers get the buffered values, then
// err itself (errors.Is and errors.As see it as given); waiting and later
// sends fail with ErrClosed. CloseWithError(nil) is a normal close, as
// with io.Pipe. If the channel was already closed, or this handle was, it
// does nothing: the first close wins.
func (s *Sender[T]) CloseWithError(err error) {
	if err == nil {
		err = ErrClosed
	}
	c := s.c
	var small [4]*waiter[T]
	wake := small[:0]
	c.mu.Lock()
	if s.h.closed {
		c.mu.Unlock()
		return
	}
	s.h.closed = true
	c.senders--
	if !c.done {
		wake = c.closeSend(err, wake)
	}
	c.mu.Unlock()
	wakeAll(wake)
}

// Len returns the number of values in the channel's buffer.
func (s *Sender[T]) Len() int { return s.c.len() }

// Cap returns the capacity given to New, or Unbounded.
func (s *Sender[T]) Cap() int { return s.c.capacity }

func (c *core[T]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.len()
}

// OnReceiversClosed arranges for f to run once, when every Receiver handle
// of the channel has been closed: on the goroutine that closed the last
// one, after the channel's waiters were woken, or at once on the calling
// goroutine if that already happened. It is how a producer that is not
// sending right now learns that nobody listens any more (a waiting or
// later Send learns it from ErrClosed). f must not block. stop unregisters
// f and reports whether that kept it from running. A nil f does nothing.
func (s *Sender[T]) OnReceiversClosed(f func()) (stop func() bool) {
	if f == nil {
		return func() bool { return false }
	}
	c := s.c
	key := &f
	c.mu.Lock()
	if c.gone {
		c.mu.Unlock()
		f()
		return func() bool { return false }
	}
	if c.goneFns == nil {
		c.goneFns = make(map[*func()]struct{})
	}
	c.goneFns[key] = struct{}{}
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.goneFns[key]
		delete(c.goneFns, key)
		return ok
	}
}

// runGone runs the OnReceiversClosed callbacks taken off a channel whose
// last receiver closed; one that panics does not keep the others from
// running.
func runGone(fns map[*func()]struct{}) {
	if len(fns) == 0 {
		return
	}
	list := make([]*func(), 0, len(fns))
	for f := range fns {
		list = append(list, f)
	}
	safecall.Each(list, func(f *func()) { (*f)() })
}

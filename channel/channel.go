package channel

import (
	"context"
	"runtime"
	"sync"
)

// Unbounded is the capacity of a channel whose sends never wait: New with
// any negative capacity makes one, and its Cap reports Unbounded.
const Unbounded = -1

// New makes a channel and returns its sending and receiving ends, one
// handle each. A capacity > 0 bounds the values it holds (a send waits
// while it is full); 0 makes a rendezvous channel (a send completes when a
// receiver takes the value, as with an unbuffered Go channel); any negative
// capacity makes an unbounded channel.
//
// The channel closes for receivers once every Sender handle is closed or
// one sender calls CloseWithError, and for senders once every Receiver
// handle is closed. Close your handles: a handle that is merely dropped
// keeps its end open.
func New[T any](capacity int) (*Sender[T], *Receiver[T]) {
	if capacity < 0 {
		capacity = Unbounded
	}
	c := &core[T]{capacity: capacity, buf: newRing[T](capacity), senders: 1, receivers: 1}
	return &Sender[T]{c: c}, &Receiver[T]{c: c}
}

// core is the channel's shared state. One mutex guards all of it.
//
// Invariants, whenever the mutex is free: receivers wait (recvq) only while
// the buffer is empty and no sender waits; senders wait (sendq) only while
// the buffer is full (a rendezvous channel is always full) and no receiver
// waits. A value put back by a cancelled OnEach may leave more than
// capacity values in the buffer for a while.
type core[T any] struct {
	mu       sync.Mutex
	buf      ring[T]
	capacity int // as given to New; Unbounded for any negative one

	senders   int   // open Sender handles
	receivers int   // open Receiver handles
	done      bool  // no more values: every sender closed, or CloseWithError
	failure   error // with done: what a receive gets once drained (ErrClosed or the CloseWithError error)
	gone      bool  // every receiver closed: sends fail, the buffer was dropped
	held      int   // values OnEach consumers took and have not handed to fn yet

	goneFns map[*func()]struct{} // OnReceiversClosed callbacks not yet run

	recvq queue[T] // waiting receives
	sendq queue[T] // waiting sends

	parked sync.Pool // *waiter[T] with a parker, for blocking Send and Recv
}

// full reports whether a send would have to wait for a receiver.
func (c *core[T]) full() bool {
	return c.capacity >= 0 && c.buf.len() >= c.capacity
}

// closedForSend reports whether sends through h are refused.
func (c *core[T]) closedForSend(h *handle) bool { return h.closed || c.done || c.gone }

// offer tries to deliver v at once: to a waiting receiver, else into the
// buffer. It returns the receiver to wake (after unlocking), and whether v
// was delivered. Called with the mutex held, on an open channel.
func (c *core[T]) offer(v T) (wake *waiter[T], ok bool) {
	if w := c.recvq.claimFirst(); w != nil {
		w.val = v
		return w, true
	}
	if !c.full() {
		c.buf.push(v)
		return nil, true
	}
	return nil, false
}

// take tries to take a value at once: from the buffer (then moving the
// first waiting sender's value into the freed slot), else straight from a
// waiting sender. It returns the sender to wake (after unlocking). Called
// with the mutex held.
func (c *core[T]) take() (v T, wake *waiter[T], ok bool) {
	var zero T
	if c.buf.len() > 0 {
		v = c.buf.pop()
		if !c.full() {
			if w := c.sendq.claimFirst(); w != nil {
				c.buf.push(w.val)
				w.val = zero
				wake = w
			}
		}
		return v, wake, true
	}
	if w := c.sendq.claimFirst(); w != nil {
		v, w.val = w.val, zero
		return v, w, true
	}
	return v, nil, false
}

// putBack returns values taken but not handed on (by a cancelled or failed
// OnEach) to the front of the channel, in order: to waiting receivers
// first, then into the buffer. It returns the receivers to wake. Called
// with the mutex held; after every receiver closed the values are dropped.
func (c *core[T]) putBack(vals []T, wake []*waiter[T]) []*waiter[T] {
	if c.gone {
		return wake
	}
	i := 0
	for ; i < len(vals) && c.buf.len() == 0; i++ {
		w := c.recvq.claimFirst()
		if w == nil {
			break
		}
		w.val = vals[i]
		wake = append(wake, w)
	}
	for j := len(vals) - 1; j >= i; j-- {
		c.buf.pushFront(vals[j])
	}
	return wake
}

// closeSend closes the channel for receivers with failure (ErrClosed for a
// normal close): waiting senders fail with ErrClosed, waiting receivers
// (the buffer is empty) get failure, unless an OnEach holds values it may
// yet put back: then they wait for unhold. It returns the waiters to wake.
// Called with the mutex held.
func (c *core[T]) closeSend(failure error, wake []*waiter[T]) []*waiter[T] {
	c.done, c.failure = true, failure
	wake = c.fail(&c.sendq, nil, ErrClosed, wake)
	if c.held > 0 {
		return wake
	}
	return c.fail(&c.recvq, nil, failure, wake)
}

// unhold records that an OnEach handed or put back n values it held. The
// channel is drained only when nobody holds values that may come back, so
// once the last is released on a closed, empty channel, waiting receivers
// get the close. It returns the waiters to wake. Called with the mutex
// held.
func (c *core[T]) unhold(n int, wake []*waiter[T]) []*waiter[T] {
	c.held -= n
	if n > 0 && c.held == 0 && c.done && c.buf.len() == 0 {
		wake = c.fail(&c.recvq, nil, c.failure, wake)
	}
	return wake
}

// closeRecv closes the channel for senders once every receiver handle is
// closed: the buffered values are dropped, every waiter fails with
// ErrClosed. It returns the waiters to wake. Called with the mutex held.
func (c *core[T]) closeRecv(wake []*waiter[T]) []*waiter[T] {
	c.gone = true
	c.buf.clear()
	wake = c.fail(&c.sendq, nil, ErrClosed, wake)
	return c.fail(&c.recvq, nil, ErrClosed, wake)
}

// fail fires the waiters of q made through owner (every waiter if owner is
// nil) with err and appends them to wake.
func (c *core[T]) fail(q *queue[T], owner *handle, err error, wake []*waiter[T]) []*waiter[T] {
	for w := q.head; w != nil; {
		next := w.next
		if owner == nil || w.owner == owner {
			q.remove(w)
			if w.party.claim() {
				w.err = err
				wake = append(wake, w)
			}
		}
		w = next
	}
	return wake
}

// wakeAll wakes each waiter of ws; the mutex must not be held. If a wake
// panics or calls runtime.Goexit (a future's continuation), the others are
// still woken.
func wakeAll[T any](ws []*waiter[T]) {
	i := 0
	defer func() {
		if i < len(ws) {
			wakeAll(ws[i+1:])
		}
	}()
	for ; i < len(ws); i++ {
		ws[i].party.wake()
	}
}

// parkedWaiter returns a pooled waiter whose party is a parker.
func (c *core[T]) parkedWaiter(owner *handle) *waiter[T] {
	w, _ := c.parked.Get().(*waiter[T])
	if w == nil {
		w = &waiter[T]{party: make(parker, 1)}
	}
	w.owner = owner
	return w
}

// park waits until w, queued in q by the caller, is fired or ctx ends. It
// returns the value and error w was fired with, or ctx's error if ctx ended
// first and w was still queued: then w moved nothing. The mutex must not be
// held. w goes back to the pool.
func (c *core[T]) park(ctx context.Context, q *queue[T], w *waiter[T], op string) (v T, err error) {
	ready := w.party.(parker)
	// The other side, running on another core, often comes within a
	// microsecond: yielding the processor a few times first usually spares
	// parking the goroutine, which costs more than the hand-over itself.
	for range parkYields {
		runtime.Gosched()
		if len(ready) > 0 {
			break
		}
	}
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	if done == nil {
		<-ready // a context that never ends: a plain receive is cheaper than a select
		v, err = w.val, w.err
		c.release(w)
		return v, err
	}
	select {
	case <-ready:
	case <-done:
		c.mu.Lock()
		if w.queued {
			q.remove(w)
			c.mu.Unlock()
			c.release(w)
			return v, ctxError(ctx, op)
		}
		c.mu.Unlock()
		<-ready // fired meanwhile: its wake is on its way
	}
	v, err = w.val, w.err
	c.release(w)
	return v, err
}

// parkYields is how many times a waiting Send or Recv yields the processor,
// checking for its wake in between, before it parks (see
// bench/channels: BenchmarkRendezvous).
const parkYields = 4

func (c *core[T]) release(w *waiter[T]) {
	var zero T
	w.val, w.err, w.owner = zero, nil, nil
	c.parked.Put(w)
}

package channel

import (
	"runtime/debug"
	"sync/atomic"

	"github.com/velalang/runtime/async"
)

// maxBatch bounds the values an OnEach takes in one go, and handLimit the
// values it hands to fn before it lets the loop's other callbacks run.
const (
	maxBatch  = 256
	handLimit = 4096
)

// OnEach runs fn on the loop for each value received through r, one at a
// time, in order. Each time it is woken it takes every value ready (up to a
// batch) under one acquisition of the channel's mutex and hands them to fn
// without holding it, so a fast producer costs one loop wake-up per batch,
// not per value; after a few thousand values it lets the loop's other
// callbacks run before going on. While it waits it is a waiting receiver
// of the channel (TrySend on a rendezvous channel hands it the value).
//
// The future is fulfilled once the channel is closed normally and drained
// (or r is closed), and rejected with the CloseWithError error. A Cancel()
// that returns true stops it: values not yet handed to fn stay in the
// channel, a value taken but not yet handed goes back to the front, in
// order. If fn panics or calls runtime.Goexit, OnEach stops the same way,
// its future is rejected with a *async.PanicError or async.ErrGoexit, and
// the panic or Goexit goes on, unwinding the loop's Run. If the loop is or
// gets closed, the future is rejected with async.ErrLoopClosed and the
// values stay in the channel. Until the future settles it keeps the loop's
// Run from returning, as async.On does. A nil loop, receiver or fn gives a
// future rejected with ErrInvalidArgument.
//
// fn runs on the loop's goroutine; it may use the channel (even r) and
// cancel the future. Other OnEach consumers and receives on clones of r
// share the values with it.
func OnEach[T any](l *async.Loop, r *Receiver[T], fn func(T)) *async.Future[struct{}] {
	switch {
	case l == nil:
		return async.FromError[struct{}](invalid("OnEach with a nil loop"))
	case r == nil:
		return async.FromError[struct{}](invalid("OnEach with a nil receiver"))
	case fn == nil:
		return async.FromError[struct{}](invalid("OnEach with a nil function"))
	}
	e := &each[T]{c: r.c, r: r, l: l, fn: fn}
	e.w.owner, e.w.party = &r.h, e
	e.drainFn = e.drain
	e.release = l.Hold()
	e.p.Observe(e)
	e.p.OnCancel(e.cancelled)
	if !l.Post(e.drainFn) {
		e.p.Reject(async.ErrLoopClosed)
	}
	return e.p.Future()
}

// each is one OnEach consumer.
type each[T any] struct {
	c       *core[T]
	r       *Receiver[T]
	l       *async.Loop
	fn      func(T)
	drainFn func() // e.drain, made once
	release func() // the loop's Hold, released when the future settles
	p       async.Promise[struct{}]

	// Guarded by c.mu.
	w       waiter[T] // queued in recvq while the consumer waits
	got     bool      // w was fired and drain has not looked at it yet
	stopped bool      // cancelled, failed or finished: takes nothing more
	held    int       // this consumer's part of c.held

	// batch is written by drain (on the loop) under c.mu; pos is the index
	// of the next value to hand to fn, or negative once stopped. drain
	// claims each value by moving pos on; whoever stops the consumer swaps
	// pos to -1 under c.mu and puts batch[pos:] back.
	batch []T
	pos   atomic.Int64
}

// claim counts the value the waiter is about to get as held: until drain
// hands it to fn, a stop may put it back.
func (e *each[T]) claim() bool {
	e.got = true
	e.held++
	e.c.held++
	return true
}

func (e *each[T]) live() bool                 { return true }
func (e *each[T]) of() *selector              { return nil }
func (e *each[T]) wake()                      { e.post() }
func (e *each[T]) Settled(async.State, error) { e.release() }

// post schedules drain on the loop; if the loop is closed, the consumer
// stops and its future is rejected with async.ErrLoopClosed.
func (e *each[T]) post() {
	if !e.l.Post(e.drainFn) {
		e.stop(async.ErrLoopClosed)
	}
}

// drain runs on the loop: it takes what is ready and hands it to fn, batch
// by batch, then waits as a receiver again, or settles the future once the
// channel is closed and drained. If fn panics or calls runtime.Goexit, the
// consumer stops (the values not handed go back) and the future is
// rejected; if waking a sender whose value it took panics (a SendAsync
// continuation), drain is posted again and the consumer goes on. Either
// way the panic or Goexit then goes on.
func (e *each[T]) drain() {
	normal, inFn := false, false
	defer func() {
		if normal {
			return
		}
		p := recover()
		switch {
		case !inFn:
			e.post()
		case p != nil:
			e.stop(&async.PanicError{Value: p, Stack: debug.Stack()})
		default:
			e.stop(async.ErrGoexit)
		}
		if p != nil {
			panic(p)
		}
	}()
	c := e.c
	var zero T
	for handed := 0; handed < handLimit; {
		var small [8]*waiter[T]
		wakes := small[:0]
		var final error
		c.mu.Lock()
		if e.stopped {
			c.mu.Unlock()
			normal = true
			return
		}
		if i := e.pos.Load(); i >= 0 && i < int64(len(e.batch)) {
			// a batch not handed out yet: a wake that panicked interrupted
			// the round that took it
			c.mu.Unlock()
			if !e.handOut(&inFn) {
				normal = true
				return
			}
			continue
		}
		handedOut := e.held // the last batch, and a value claimed since, are in batch now or handed
		batch := e.batch[:0]
		if e.got {
			e.got = false
			if e.w.err != nil {
				final = e.w.err
			} else {
				batch = append(batch, e.w.val)
				e.w.val = zero
			}
		}
		for final == nil && len(batch) < maxBatch {
			v, wake, ok := c.take()
			if !ok {
				break
			}
			batch = append(batch, v)
			if wake != nil {
				wakes = append(wakes, wake)
			}
		}
		e.held = len(batch)
		c.held += len(batch)
		wakes = c.unhold(handedOut, wakes)
		if len(batch) == 0 && final == nil {
			if final = c.closedForRecv(&e.r.h); final == nil {
				c.recvq.push(&e.w)
				c.mu.Unlock()
				wakeAll(wakes)
				normal = true
				return
			}
		}
		e.stopped = final != nil
		e.batch = batch
		e.pos.Store(0)
		c.mu.Unlock()
		wakeAll(wakes)
		if final != nil {
			normal = true
			if final == ErrClosed {
				e.p.Resolve(struct{}{})
			} else {
				e.p.Reject(final)
			}
			return
		}
		if !e.handOut(&inFn) {
			normal = true
			return
		}
		handed += len(batch)
	}
	normal = true
	e.post() // let the loop's other callbacks run, then go on
}

// handOut hands the values of the batch from pos on to fn, one at a time,
// claiming each by moving pos on. It reports false if the consumer was
// stopped meanwhile (whoever stopped it put the rest back). *inFn is true
// while fn runs.
func (e *each[T]) handOut(inFn *bool) bool {
	var zero T
	batch := e.batch
	for {
		i := e.pos.Load()
		if i < 0 {
			return false
		}
		if i >= int64(len(batch)) {
			return true
		}
		if !e.pos.CompareAndSwap(i, i+1) {
			return false
		}
		v := batch[i]
		batch[i] = zero
		*inFn = true
		e.fn(v)
		*inFn = false
	}
}

// stop ends the consumer: it leaves the receive queue, the values it took
// but did not hand to fn go back to the front of the channel, and, for a
// non-nil err, the future is rejected with err (a Cancel has settled it
// already). Stopping a stopped consumer does nothing.
func (e *each[T]) stop(err error) {
	c := e.c
	var zero T
	c.mu.Lock()
	if e.stopped {
		c.mu.Unlock()
		return
	}
	e.stopped = true
	if e.w.queued {
		c.recvq.remove(&e.w)
	}
	var back []T
	if i := e.pos.Swap(-1); i >= 0 && i < int64(len(e.batch)) {
		back = e.batch[i:]
	}
	if e.got && e.w.err == nil {
		back = append(back[:len(back):len(back)], e.w.val)
		e.w.val = zero
	}
	e.got = false
	wakes := c.putBack(back, nil)
	clear(back)
	wakes = c.unhold(e.held, wakes)
	e.held = 0
	c.mu.Unlock()
	wakeAll(wakes)
	if err != nil {
		e.p.Reject(err)
	}
}

// cancelled is the future's cancellation handler.
func (e *each[T]) cancelled(error) { e.stop(nil) }

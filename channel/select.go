package channel

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
)

// Case is one operation of a Select, made by RecvCase or SendCase. A Case
// may be used by one Select at a time; a Select given a case that another
// Select is using refuses it with ErrInvalidArgument.
type Case interface {
	// op returns the case's operation, or nil for a case on a nil handle.
	op() caseOp
}

// caseOp is what Select does with a case. try and enqueue take the case's
// channel mutex themselves.
type caseOp interface {
	// try performs the operation if it can complete now, with nothing
	// registered: fired reports that it did, err how (nil, or the close).
	try() (fired bool, err error)
	// enqueue registers the case's waiter for sel under index i, unless
	// the case could complete now: then it registers nothing and reports
	// ready, and the Select tries again.
	enqueue(sel *selector, i int) (ready bool)
	// dequeue takes the waiter out of its queue if it is still there.
	dequeue()
	// outcome delivers what a fired waiter got (a received value into the
	// case's destination) and returns its error.
	outcome() error
	// busy marks the case as used by a Select; it reports false if it
	// already was. idle unmarks it.
	busy() bool
	idle()
}

// selector is one blocked Select: the first case fired wins it. state moves
// once from selWaiting to a case index (a channel fired that case) or to
// selAborted (the Select gave up: its context ended, or it found a case
// ready while registering and starts over).
type selector struct {
	state atomic.Int32
	ready chan struct{} // capacity 1: the winning case's wake
}

const (
	selWaiting = -1
	selAborted = -2
)

// Select performs exactly one of cases, waiting until one can complete, and
// returns its index. A RecvCase fires when it received a value into its
// destination, or when its channel is closed and drained (then the error is
// ErrClosed or the CloseWithError error); a SendCase fires when its value
// was delivered, or when its channel is closed (ErrClosed). Among cases
// ready at once one is chosen at random, so none starves. A case that did
// not fire took nothing and delivered nothing.
//
// If ctx ends first, Select returns -1 and an error that matches ctx.Err()
// and context.Cause(ctx); a case that can complete at once still does. No
// cases, a nil case, a case on a nil handle or a case in use by another
// Select give -1 and an error wrapping ErrInvalidArgument at once.
//
// A Select that fires at once allocates nothing beyond its cases; one that
// waits allocates its selector and registers one waiter per case.
func Select(ctx context.Context, cases ...Case) (int, error) {
	if len(cases) == 0 {
		return -1, invalid("Select with no cases")
	}
	var small [8]caseOp
	ops := small[:0]
	for i, c := range cases {
		var op caseOp
		if c != nil {
			op = c.op()
		}
		if op == nil {
			return -1, invalid("Select case %d is nil or on a nil handle", i)
		}
		ops = append(ops, op)
	}
	for i, op := range ops {
		if !op.busy() {
			for _, o := range ops[:i] {
				o.idle()
			}
			return -1, invalid("Select case %d is in use by another Select", i)
		}
	}
	defer func() {
		for _, op := range ops {
			op.idle()
		}
	}()
	var smallOrder [8]int
	order := smallOrder[:0]
	for i := range ops {
		order = append(order, i)
	}
	rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })

	var sel *selector
	for {
		for _, i := range order {
			if fired, err := ops[i].try(); fired {
				return i, err
			}
		}
		if ctx != nil && ctx.Err() != nil {
			return -1, ctxError(ctx, "select")
		}
		if sel == nil {
			sel = &selector{ready: make(chan struct{}, 1)}
		}
		sel.state.Store(selWaiting)
		if i, ok := wait(ctx, sel, ops, order); ok {
			if i < 0 {
				return -1, ctxError(ctx, "select")
			}
			return i, ops[i].outcome()
		}
	}
}

// wait registers every case for sel and waits for one to fire or ctx to
// end. It returns the fired case's index, or -1 if ctx ended, and ok; ok
// is false if a case was found ready while registering, and then nothing is
// registered any more and the Select starts over.
func wait(ctx context.Context, sel *selector, ops []caseOp, order []int) (int, bool) {
	n := 0 // order[:n] are registered
	defer func() {
		for _, i := range order[:n] {
			ops[i].dequeue()
		}
	}()
	for _, i := range order {
		if ops[i].enqueue(sel, i) {
			if sel.state.CompareAndSwap(selWaiting, selAborted) {
				return 0, false
			}
			break // a case fired meanwhile
		}
		n++
	}
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	select {
	case <-sel.ready:
	case <-done:
		if sel.state.CompareAndSwap(selWaiting, selAborted) {
			return -1, true
		}
		<-sel.ready // fired meanwhile: its wake is on its way
	}
	return int(sel.state.Load()), true
}

// selectParty is the party of a case's waiter while it is registered.
type selectParty struct {
	sel *selector
	i   int32
}

// caseBase is what both kinds of case keep: the waiter, its party and the
// in-use flag.
type caseBase struct {
	inUse atomic.Bool
	party selectParty
}

func (b *caseBase) busy() bool { return b.inUse.CompareAndSwap(false, true) }
func (b *caseBase) idle()      { b.inUse.Store(false) }

func (p *selectParty) claim() bool   { return p.sel.state.CompareAndSwap(selWaiting, p.i) }
func (p *selectParty) live() bool    { return p.sel.state.Load() == selWaiting }
func (p *selectParty) of() *selector { return p.sel }
func (p *selectParty) wake()         { p.sel.ready <- struct{}{} }

// recvCase is a RecvCase.
type recvCase[T any] struct {
	caseBase
	r   *Receiver[T]
	dst *T
	w   waiter[T]
}

// RecvCase is a Select case that receives from r into *dst (a nil dst
// discards the value). It fires when a value was received, or when the
// channel is closed and drained, whoever closed it, or r was closed: then
// Select returns its index with ErrClosed or the CloseWithError error, and
// *dst is left alone.
func RecvCase[T any](r *Receiver[T], dst *T) Case {
	if r == nil {
		return nilCase{}
	}
	c := &recvCase[T]{r: r, dst: dst}
	c.w.owner, c.w.party = &r.h, &c.party
	return c
}

func (c *recvCase[T]) op() caseOp { return c }

func (c *recvCase[T]) try() (bool, error) {
	v, err := c.r.TryRecv()
	switch err {
	case nil:
		if c.dst != nil {
			*c.dst = v
		}
		return true, nil
	case ErrEmpty:
		return false, nil
	}
	return true, err
}

func (c *recvCase[T]) enqueue(sel *selector, i int) bool {
	ch := c.r.c
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if c.r.h.closed || ch.buf.len() > 0 || ch.sendq.ready(sel) || ch.closedForRecv(&c.r.h) != nil {
		return true
	}
	c.party = selectParty{sel: sel, i: int32(i)}
	c.w.err = nil
	ch.recvq.push(&c.w)
	return false
}

func (c *recvCase[T]) dequeue() {
	ch := c.r.c
	ch.mu.Lock()
	if c.w.queued {
		ch.recvq.remove(&c.w)
	}
	ch.mu.Unlock()
}

func (c *recvCase[T]) outcome() error {
	var zero T
	v := c.w.val
	c.w.val = zero
	if c.w.err != nil {
		return c.w.err
	}
	if c.dst != nil {
		*c.dst = v
	}
	return nil
}

// sendCase is a SendCase.
type sendCase[T any] struct {
	caseBase
	s *Sender[T]
	v T
	w waiter[T]
}

// SendCase is a Select case that sends v through s. It fires when v was
// delivered, or when the channel is closed (by its senders, by every
// receiver leaving, or s was closed): then Select returns its index with
// ErrClosed, and v was not delivered.
func SendCase[T any](s *Sender[T], v T) Case {
	if s == nil {
		return nilCase{}
	}
	c := &sendCase[T]{s: s, v: v}
	c.w.owner, c.w.party = &s.h, &c.party
	return c
}

func (c *sendCase[T]) op() caseOp { return c }

func (c *sendCase[T]) try() (bool, error) {
	switch err := c.s.TrySend(c.v); err {
	case nil:
		return true, nil
	case ErrFull:
		return false, nil
	default:
		return true, err
	}
}

func (c *sendCase[T]) enqueue(sel *selector, i int) bool {
	ch := c.s.c
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.closedForSend(&c.s.h) || !ch.full() || ch.recvq.ready(sel) {
		return true
	}
	c.party = selectParty{sel: sel, i: int32(i)}
	c.w.val, c.w.err = c.v, nil
	ch.sendq.push(&c.w)
	return false
}

func (c *sendCase[T]) dequeue() {
	ch := c.s.c
	ch.mu.Lock()
	if c.w.queued {
		ch.sendq.remove(&c.w)
	}
	ch.mu.Unlock()
}

func (c *sendCase[T]) outcome() error {
	var zero T
	c.w.val = zero
	return c.w.err
}

// nilCase is a case made on a nil handle: Select refuses it.
type nilCase struct{}

func (nilCase) op() caseOp { return nil }

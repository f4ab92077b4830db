package channel

// party is whoever waits behind a waiter: a goroutine blocked in Send or
// Recv (parker), a future of SendAsync or RecvAsync, a Select, an OnEach
// consumer. The channel's side of a hand-over is two steps: claim, under
// the channel's mutex, decides that the waiter gets the outcome (a value,
// or the error in its err field); wake, after the mutex is released, tells
// the party, since telling it may run user code (a future's
// continuations).
type party interface {
	// claim reports whether the waiter may still be fired. A Select that
	// another case fired, or a future already cancelled, says no, and the
	// waiter is dropped. Called with the channel's mutex held; it must not
	// block or run user code.
	claim() bool
	// live reports, without claiming, whether claim would succeed now.
	// Called with the channel's mutex held.
	live() bool
	// of returns the Select the waiter belongs to, or nil.
	of() *selector
	// wake tells the party that claim succeeded and the waiter's outcome is
	// written. Called once, without the channel's mutex.
	wake()
}

// handle is what each Sender and Receiver handle keeps for itself: whether
// it was closed. A waiter points at the handle it was made through, so
// closing that handle can wake its waiters.
type handle struct {
	closed bool // guarded by the channel's mutex
}

// waiter is one operation waiting in one of a channel's queues. The
// channel's mutex guards every field while the waiter is queued; once it
// is claimed and out of the queue, the claimer writes val and err before
// wake, and the party reads them after.
type waiter[T any] struct {
	next, prev *waiter[T]
	queued     bool

	val   T       // a send: the value offered; a receive: the value received
	err   error   // set when the waiter is fired without a value (close)
	owner *handle // the handle the operation was made through
	party party
}

// queue is a FIFO of waiters, linked through the waiters themselves.
type queue[T any] struct {
	head, tail *waiter[T]
}

func (q *queue[T]) push(w *waiter[T]) {
	w.prev, w.next = q.tail, nil
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
	w.queued = true
}

func (q *queue[T]) remove(w *waiter[T]) {
	if w.prev == nil {
		q.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		q.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.next, w.prev = nil, nil
	w.queued = false
}

// claimFirst takes the first waiter that can still be fired out of the
// queue and returns it claimed, or nil; waiters that can no longer be fired
// are dropped on the way.
func (q *queue[T]) claimFirst() *waiter[T] {
	for w := q.head; w != nil; w = q.head {
		q.remove(w)
		if w.party.claim() {
			return w
		}
	}
	return nil
}

// ready reports whether a waiter not of the select except could be fired
// now (except is the select asking, so that it never matches itself).
func (q *queue[T]) ready(except *selector) bool {
	for w := q.head; w != nil; w = w.next {
		if w.party.of() != except && w.party.live() {
			return true
		}
	}
	return false
}

// parker is the party of a goroutine blocked in Send or Recv: a channel of
// capacity one that wake sends on once.
type parker chan struct{}

func (p parker) claim() bool   { return true }
func (p parker) live() bool    { return true }
func (p parker) wake()         { p <- struct{}{} }
func (p parker) of() *selector { return nil }

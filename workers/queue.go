package workers

import "time"

// The queue: a pool's waiting work, first come, first served. An entry is a
// task (Spawn) or a batch (SpawnAll), whose tasks workers claim one by one
// from its cursor while the entry stays at the head. All of it is guarded
// by the pool's mutex.

// list is an intrusive doubly linked list of tasks: a task is in at most one
// list (the queue or the running set) and unlinks in O(1) when cancelled.
type list struct {
	head, tail *taskBase
}

func (l *list) push(t *taskBase) {
	t.prev, t.next = l.tail, nil
	if l.tail == nil {
		l.head = t
	} else {
		l.tail.next = t
	}
	l.tail = t
}

func (l *list) pop() *taskBase {
	t := l.head
	if t != nil {
		l.remove(t)
	}
	return t
}

func (l *list) remove(t *taskBase) {
	if t.prev == nil {
		l.head = t.next
	} else {
		t.prev.next = t.next
	}
	if t.next == nil {
		l.tail = t.prev
	} else {
		t.next.prev = t.prev
	}
	t.prev, t.next = nil, nil
}

// each calls fn for every task in the list, oldest first.
func (l *list) each(fn func(*taskBase)) {
	for t := l.head; t != nil; t = t.next {
		fn(t)
	}
}

// popLocked returns the next queued task, marked running on worker w, or
// nil if the queue is empty or the pool has shrunk below its workers. The
// clock is read only when there is a task to start.
func (p *Pool) popLocked(w *worker) *taskBase {
	if p.workers > p.max || p.queue.head == nil {
		return nil
	}
	t := p.takeLocked(w)
	p.runLocked(t, w, p.now())
	return t
}

// takeLocked takes the next task off the non-empty queue for worker w: the
// task at its head, or the next task of the batch at its head.
func (p *Pool) takeLocked(w *worker) *taskBase {
	t := p.queue.head
	if b, ok := t.body.(queuedBatch); ok {
		return b.claimLocked(w)
	}
	p.queue.pop()
	p.queued--
	return t
}

// queuedBatch is the body of a batch's entry in the queue (see batch).
type queuedBatch interface {
	// claimLocked returns the record of the batch's next task, for worker
	// w, not yet running; the entry leaves the queue with the last one.
	claimLocked(w *worker) *taskBase
	// waitingLocked is how many of the batch's tasks wait in the queue.
	waitingLocked() int
	// nextLocked describes the batch's tasks in the queue: the ID and name
	// of the next, and how many wait.
	nextLocked() (id uint64, name string, waiting int)
}

// fillLocked hands queued tasks to waiting workers, then to new workers
// while MaxWorkers allows, and returns, appended to starts, the tasks whose
// new worker goroutines the caller must start once the mutex is released.
func (p *Pool) fillLocked(starts []*taskBase, now time.Duration) []*taskBase {
	for p.queue.head != nil {
		if w := p.unparkLocked(); w != nil {
			t := p.takeLocked(w)
			p.runLocked(t, w, now)
			w.park.ch <- t
			continue
		}
		if p.workers >= p.max {
			break
		}
		p.workers++
		w := p.slotLocked()
		t := p.takeLocked(w)
		p.runLocked(t, w, now)
		starts = append(starts, t)
	}
	return starts
}

// withdrawLocked takes a queued task, or a batch with all the tasks it
// still holds, off the queue for good: they will never run.
func (p *Pool) withdrawLocked(t *taskBase) {
	p.queue.remove(t)
	if b, ok := t.body.(queuedBatch); ok {
		p.queued -= b.waitingLocked()
	} else {
		p.queued--
	}
	t.where = whereDone
}

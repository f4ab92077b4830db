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

// queue is the list of queue entries with the number of tasks they hold:
// one for a task, those not yet claimed for a batch. It is the only writer
// of that number.
type queue struct {
	list
	n int
}

// push appends entry t with the tasks it holds.
func (q *queue) push(t *taskBase) {
	q.list.push(t)
	q.n += weight(t)
}

// remove takes entry t off, with the tasks it still holds.
func (q *queue) remove(t *taskBase) {
	q.list.remove(t)
	q.n -= weight(t)
}

// claimed counts one task claimed from the batch at the head, which stays.
func (q *queue) claimed() { q.n-- }

// len is how many tasks the queue holds.
func (q *queue) len() int { return q.n }

// weight is how many tasks queue entry t holds.
func weight(t *taskBase) int {
	if b, ok := t.body.(queuedBatch); ok {
		return b.waitingLocked()
	}
	return 1
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
// task at its head, or the next task of the batch at its head, whose entry
// leaves the queue with its last task. The caller runs the task at once
// (runLocked), which takes a plain task off the queue.
func (p *Pool) takeLocked(w *worker) *taskBase {
	t := p.queue.head
	b, ok := t.body.(queuedBatch)
	if !ok {
		return t // runLocked takes it off the queue
	}
	i, last := b.claimLocked()
	p.queue.claimed()
	if last {
		p.moveLocked(t, stateDone)
	}
	return b.itemLocked(w, i)
}

// queuedBatch is the body of a batch's entry in the queue (see batch).
type queuedBatch interface {
	// claimLocked claims the batch's next task and returns its index, and
	// whether it was the last one waiting.
	claimLocked() (i int, last bool)
	// itemLocked returns worker w's record of the batch, set up to run
	// task i.
	itemLocked(w *worker, i int) *taskBase
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

// withdrawLocked takes a waiting task (queued, due later or waiting to
// retry), or a batch with all the tasks it still holds, out of the pool
// for good: they will never run. The caller settles their futures.
func (p *Pool) withdrawLocked(t *taskBase) {
	t.hook |= hookWithdrawn
	p.moveLocked(t, stateDone)
}

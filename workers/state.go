package workers

import "time"

// taskState is where a task is in its life. Only (*Pool).moveLocked
// changes it, under the pool's mutex, and moveLocked is also the only
// writer of what depends on it: the queue, the running list, the list of
// waiting tasks, the pool's counts of active, abandoned and waiting tasks
// (the queue keeps its own length), and the deadlines that
// belong to a state (a run timeout while running, the due time while due
// or waiting to retry). A new state is a change to this file.
//
//	new ──▶ queued ──▶ running ──▶ done
//	 │        ▲  │        │  ▲ │     ▲
//	 │        │  │        │  │ ▼     │
//	 ├──▶ due ┤  │        │  abandoned (settled by cancel or timeout,
//	 │        │  │        │   its function still running)
//	 │     retrying ◀─────┘
//	 └──────────▶ running (a free worker takes it at once)
//
// A task that is due later or waits to retry holds no worker and is not in
// the queue: it waits in the pool's deadline heap, and its timer moves it
// to the queue. Every state but running and abandoned can also go straight
// to done, when the task's future is cancelled or times out. A batch's
// anchor (its entry in the queue) is due or queued, then done; a batch's
// item (a worker's record of the function it runs) goes from new or done
// to running, abandoned and done, once per function; a batch's task that
// waits to retry is a record of its own (batchRetry): retrying, queued,
// done.
type taskState uint8

const (
	stateNew       taskState = iota // not yet in the pool; a batch's item between functions
	stateDue                        // WithDelay: waits for its due time
	stateQueued                     // in the queue
	stateRunning                    // its function runs on its worker
	stateRetrying                   // WithRetry: waits for its next call
	stateAbandoned                  // its function runs, its future settled by cancel or timeout
	stateDone                       // out of the pool for good (a batch's item: until its next function)
)

// moveLocked moves task t to state to, and keeps the books that go with
// the move. A task entering running must have its worker and start time
// set; one entering due or retrying must have its wake-up time set
// (taskExtra.wakeAt).
func (p *Pool) moveLocked(t *taskBase, to taskState) {
	from := t.state
	t.state = to
	switch from {
	case stateQueued:
		p.queue.remove(t)
	case stateDue, stateRetrying:
		p.waits.remove(t)
		p.waiting -= weight(t)
		p.disarmLocked(&t.extra.Load().runDue)
	case stateRunning:
		if to == stateAbandoned {
			p.abandon++
			p.disarmRunLocked(t)
			p.releaseLocked(t)
			return
		}
		fallthrough
	case stateAbandoned:
		p.running.remove(t)
		p.active--
		if from == stateAbandoned {
			p.abandon--
		}
		p.disarmRunLocked(t)
	}
	switch to {
	case stateQueued:
		p.queue.push(t)
	case stateDue, stateRetrying:
		p.waits.push(t)
		p.waiting += weight(t)
		x := t.extra.Load()
		p.armLocked(&x.runDue, t.body, x.wakeAt)
	case stateRunning:
		p.running.push(t)
		p.active++
		if x := t.extra.Load(); x != nil {
			x.attempt++
			if x.runTimeout > 0 {
				x.runAt = t.started + x.runTimeout
				p.armLocked(&x.runDue, t.body, x.runAt)
			}
		}
	case stateDone:
		p.releaseLocked(t)
		if from == stateDue || from == stateRetrying {
			p.drainedLocked()
		}
	}
}

// wake moves task t, due later or waiting to retry, to the queue once its
// deadline d, armed with generation gen, has fired, and starts a worker for
// it if one is free. A firing for a wait that has since ended is ignored.
func (p *Pool) wake(t *taskBase, d *deadline, gen uint64) {
	p.mu.Lock()
	if d.gen != gen || (t.state != stateDue && t.state != stateRetrying) {
		p.mu.Unlock()
		return
	}
	p.moveLocked(t, stateQueued)
	var buf [1]*taskBase
	starts := p.fillLocked(buf[:0], p.now())
	p.mu.Unlock()
	p.startWorkers(starts)
}

// waitLocked makes task t, new or running, wait until at on the pool's
// clock: due later (WithDelay) or waiting to retry.
func (p *Pool) waitLocked(t *taskBase, to taskState, at time.Duration) {
	t.extra.Load().wakeAt = at
	p.moveLocked(t, to)
}

// disarmRunLocked disarms the run timeout of t, whose function has
// returned or been abandoned.
func (p *Pool) disarmRunLocked(t *taskBase) {
	if x := t.extra.Load(); x != nil {
		p.disarmLocked(&x.runDue)
	}
}

// releaseLocked disarms the deadlines of a task that is done, or whose
// future has settled, and takes it off its watch on the parent context.
func (p *Pool) releaseLocked(t *taskBase) {
	if x := t.extra.Load(); x != nil {
		p.disarmLocked(&x.due)
		p.disarmLocked(&x.runDue)
		p.unwatchLocked(t, x)
	}
}

// limitLocked gives task t, about to be published, its limits: its name,
// its WithTimeout deadline (armed in the heap), its run timeout, its retry
// policy and its watch on the parent context. Most tasks have none of them and get no
// record at all.
func (p *Pool) limitLocked(t *taskBase, s *settings, now time.Duration) {
	if s.name == "" && s.timeout == 0 && s.runTimeout == 0 && s.delay == 0 && !s.retry.retries() && t.parent.Done() == nil {
		return
	}
	x := &taskExtra{}
	x.name, x.timeout, x.runTimeout = s.name, s.timeout, s.runTimeout
	if s.retry.retries() {
		x.retry = s.retry
	}
	t.extra.Store(x)
	if s.timeout > 0 {
		// WithTimeout counts from the due time: a delay is not the task's
		// to spend.
		at := now + s.delay + s.timeout
		x.deadline = p.epoch.Add(at)
		p.armLocked(&x.due, t.body, at)
	}
	if t.parent.Done() != nil {
		p.watchLocked(t, x)
	}
}

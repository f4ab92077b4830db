package workers

import (
	"cmp"
	"slices"
	"time"
)

// Stats is a snapshot of a pool. The gauges are read together under the
// pool's mutex; the counters are read one by one and may be a task apart
// from each other while the pool is busy.
//
// The counters obey one invariant: once every future has settled and every
// function has returned (after Shutdown returns nil, for instance),
//
//	Submitted == Completed + Failed + Cancelled + TimedOut
//
// Every task that enters the pool counts once in Submitted and once in one
// of the four outcomes: a Spawn whose parent had already ended counts as
// Cancelled, and so does each function of a SpawnAll that never ran because
// its batch had failed or been cancelled. Rejected stands apart: it counts
// calls refused before anything entered the pool (on the default pool, the
// calls with bad options too), which are not in Submitted. Late stands apart
// as well: each late outcome belongs to a task already counted as Cancelled
// or TimedOut, so Late <= Cancelled + TimedOut. Panicked is part of Failed.
// Retried counts calls, not tasks: a task retried twice counts once in
// Submitted, once in its final outcome and twice in Retried.
type Stats struct {
	MaxWorkers int // the bound on running functions
	Workers    int // live worker goroutines, idle ones included
	Idle       int // of Workers, those waiting for work (see Config.IdleTimeout)
	Active     int // functions running now, abandoned ones included
	Queued     int // tasks waiting for a worker
	Abandoned  int // functions still running although their future was cancelled or timed out

	Submitted uint64 // tasks that entered the pool (each function of a SpawnAll counts)
	Completed uint64 // futures fulfilled with the function's value
	Failed    uint64 // futures rejected with the function's error, a panic or a Goexit
	Cancelled uint64 // futures cancelled, by Cancel, a parent context, CancelAll or Close
	TimedOut  uint64 // futures rejected with a *TimeoutError
	Panicked  uint64 // of Failed, the functions that panicked
	Rejected  uint64 // Spawn and SpawnAll calls refused before submission: bad input, full queue, closed pool
	Late      uint64 // outcomes (a value, an error, a panic, a Goexit) after the future was cancelled or timed out, dropped
	Retried   uint64 // calls beyond the first (WithRetry), counted as each starts; not tasks

	HookPanics uint64 // panics recovered from Config.OnTaskDone
}

// Stats returns a snapshot of the pool's gauges and counters.
func (p *Pool) Stats() Stats {
	p.ready()
	p.mu.Lock()
	s := Stats{MaxWorkers: p.max, Workers: p.workers, Active: p.active, Queued: p.queuedLocked(), Abandoned: p.abandon, Idle: len(p.parked)}
	for _, w := range p.slots {
		s.Completed += w.completed.Load()
		s.Failed += w.failed.Load()
		s.Panicked += w.panicked.Load()
		s.Late += w.late.Load()
	}
	p.mu.Unlock()
	c := &p.stats
	s.Submitted = c.submitted.Load()
	s.Cancelled = c.cancelled.Load()
	s.TimedOut = c.timedOut.Load()
	s.Rejected = c.rejected.Load()
	s.Retried = c.retried.Load()
	s.HookPanics = c.hookPanics.Load()
	return s
}

// TaskState is where a task is in a Tasks snapshot.
type TaskState uint8

const (
	TaskQueued   TaskState = iota // waiting for a worker
	TaskRunning                   // its function is running
	TaskDue                       // WithDelay: not due yet; holds no worker
	TaskRetrying                  // WithRetry: waiting for its next call; holds no worker
)

// String returns "queued", "running", "due" or "retrying".
func (s TaskState) String() string {
	switch s {
	case TaskRunning:
		return "running"
	case TaskDue:
		return "due"
	case TaskRetrying:
		return "retrying"
	}
	return "queued"
}

// TaskInfo describes one task in a Tasks snapshot, or a SpawnAll's tasks
// still in the queue.
type TaskInfo struct {
	ID        uint64    // unique within the pool, in submission order
	Name      string    // the WithName (or WithNames) name, or ""
	Worker    string    // the worker running it, or "" while queued
	State     TaskState // queued, running, due or retrying
	Abandoned bool      // running although its future was cancelled or timed out
	Enqueued  time.Time // when it was submitted
	Started   time.Time // when its function (its last call, with WithRetry) started; zero if it never did
	// Attempt is the number of the call running, or of the last call made
	// while the task waits to retry (1 for the first call); 0 until the
	// first call starts.
	Attempt int
	// Due is when a task due later or waiting to retry goes to the queue;
	// zero in the other states.
	Due time.Time
	// Waiting is 1 for a task; for a SpawnAll in the queue, one entry
	// stands for all its tasks that have not started, ID and Name being
	// those of the next, and Waiting counts them.
	Waiting int
}

// Tasks returns a snapshot of the pool's tasks: running ones first, then
// queued ones, then those due later or waiting to retry, each group oldest
// first. A SpawnAll's tasks that have not started appear as one entry (see
// TaskInfo.Waiting), so a snapshot costs O(running + queue entries +
// waiting tasks), whatever the size of the batches.
func (p *Pool) Tasks() []TaskInfo {
	p.ready()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]TaskInfo, 0, p.active+min(p.queuedLocked(), 1024))
	p.running.each(func(t *taskBase) {
		out = append(out, TaskInfo{ID: t.id, Name: t.name(), Worker: t.worker.name, State: TaskRunning,
			Abandoned: t.state == stateAbandoned, Enqueued: p.epoch.Add(t.enqueued), Started: p.epoch.Add(t.started),
			Attempt: max(t.attempt(), 1), Waiting: 1})
	})
	p.queue.each(func(t *taskBase) {
		out = append(out, p.infoLocked(t, TaskQueued))
	})
	wait := len(out)
	p.waits.each(func(t *taskBase) {
		state := TaskDue
		if t.state == stateRetrying {
			state = TaskRetrying
		}
		ti := p.infoLocked(t, state)
		ti.Due = p.epoch.Add(t.extra.Load().wakeAt)
		out = append(out, ti)
	})
	slices.SortFunc(out[wait:], func(a, b TaskInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// infoLocked describes task t, not running, in state.
func (p *Pool) infoLocked(t *taskBase, state TaskState) TaskInfo {
	ti := TaskInfo{ID: t.id, Name: t.name(), State: state, Enqueued: p.epoch.Add(t.enqueued), Attempt: t.attempt(), Waiting: 1}
	if b, ok := t.body.(queuedBatch); ok {
		ti.ID, ti.Name, ti.Waiting = b.nextLocked()
	}
	if ti.Attempt > 0 {
		ti.Started = p.epoch.Add(t.started)
	}
	return ti
}

// attempt is the number of the task's current or last call, 0 before the
// first; pool.mu.
func (t *taskBase) attempt() int {
	if x := t.extra.Load(); x != nil {
		return x.attempt
	}
	return 0
}

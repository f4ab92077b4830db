package workers

import (
	"context"
	"time"
)

// Outcome is how a task ended, as a TaskRecord reports it. It matches the
// Stats counter the task was counted in.
type Outcome uint8

const (
	Completed Outcome = iota + 1 // its future was fulfilled with the function's value
	Failed                       // rejected with the function's error, a panic or a Goexit
	Cancelled                    // cancelled, by Cancel, a parent context, CancelAll, Close or a failed sibling
	TimedOut                     // rejected with a *TimeoutError
)

// String returns "completed", "failed", "cancelled" or "timed_out", the
// values the observe module uses as a label.
func (o Outcome) String() string {
	switch o {
	case Completed:
		return "completed"
	case Failed:
		return "failed"
	case Cancelled:
		return "cancelled"
	case TimedOut:
		return "timed_out"
	}
	return "unknown"
}

// TaskRecord describes one task to the hooks of a Config (OnTaskStart and
// OnTaskDone). It is a value: a hook may keep it.
type TaskRecord struct {
	Pool    string // the pool's Config.Name ("vela-worker" by default)
	ID      uint64 // the task's ID, as in Tasks snapshots
	Name    string // its WithName or WithNames name, or ""
	Worker  string // the worker that ran it, or "" if it never started
	Attempt int    // 1 for the first run of a task

	// Batch is the ID of a SpawnAll's first task (0 for a Spawn) and Index
	// the task's index in it. Count is how many tasks the record stands
	// for: 1, except for the tasks of a SpawnAll that never started once
	// its outcome was decided, which share one OnTaskDone record (Index is
	// then the first of them).
	Batch uint64
	Index int
	Count int

	Outcome   Outcome // OnTaskDone only
	Err       error   // OnTaskDone only: the error the future was rejected or cancelled with
	Panicked  bool    // OnTaskDone only: the function panicked (Outcome is Failed)
	Abandoned bool    // OnTaskDone only: the function was still running when the outcome was decided

	Enqueued time.Time // when the task entered the pool
	Started  time.Time // when its function started; zero if it never did
	Ended    time.Time // OnTaskDone only: when the record was made

	// Context is, in OnTaskStart, the context the function is about to
	// receive; in OnTaskDone, the context OnTaskStart returned for the task,
	// or the context given to Spawn or SpawnAll if the function never
	// started. Tracers find their span in it.
	Context context.Context
}

// Wait is how long the task waited for a worker: until its function
// started, or until the record was made if it never did.
func (r *TaskRecord) Wait() time.Duration {
	if r.Started.IsZero() {
		if r.Ended.IsZero() {
			return 0
		}
		return r.Ended.Sub(r.Enqueued)
	}
	return r.Started.Sub(r.Enqueued)
}

// Run is how long the function ran until the record was made; 0 if it
// never started.
func (r *TaskRecord) Run() time.Duration {
	if r.Started.IsZero() || r.Ended.IsZero() {
		return 0
	}
	return r.Ended.Sub(r.Started)
}

// hooks are a pool's Config.OnTaskStart and OnTaskDone, fixed by NewPool.
// Both nil (a zero Pool, or a Config without them) costs one nil check per
// task.
type hooks struct {
	onStart func(context.Context, TaskRecord) context.Context
	onDone  func(TaskRecord)
}

// record starts the record of task t, with the pool's mutex held or from
// the goroutine that owns t.
func (p *Pool) record(t *taskBase, ctx context.Context) TaskRecord {
	var r TaskRecord
	p.fill(&r, t, ctx)
	return r
}

// fill is record writing into r, so that a worker's frames stay small (a
// fresh worker goroutine starts with a 2 KiB stack; see docs/observe.md,
// "Cost").
func (p *Pool) fill(r *TaskRecord, t *taskBase, ctx context.Context) {
	*r = TaskRecord{Pool: p.name, ID: t.id, Name: t.name(), Attempt: 1, Count: 1,
		Enqueued: p.epoch.Add(t.enqueued), Context: ctx}
	if x := t.extra.Load(); x != nil && x.attempt > 1 {
		r.Attempt = x.attempt
	}
	if t.worker != nil {
		r.Worker = t.worker.name
		r.Started = p.epoch.Add(t.started)
	}
}

// startHook calls OnTaskStart with r, the record of a task whose function
// is about to receive r.Context, and returns the context the function
// receives instead. It runs on the worker, inside the function's own
// safecall, so that a panic or a Goexit in the hook ends the task as the
// function's own would.
func (p *Pool) startHook(r TaskRecord) context.Context {
	if c := p.hooks.onStart(r.Context, r); c != nil {
		return c
	}
	return r.Context
}

// done calls OnTaskDone with r, stamped now unless the caller stamped it.
// A panic in the hook is recovered and counted in Stats.HookPanics: the
// task's outcome is already final and the pool's books are right, so
// nothing else is lost.
func (p *Pool) done(r *TaskRecord) {
	if r.Ended.IsZero() {
		r.Ended = p.epoch.Add(p.now()) // the pool's monotonic clock: half the cost of time.Now
	}
	defer p.recoverHook()
	p.hooks.onDone(*r)
}

// recoverHook counts a panic of OnTaskDone; deferred by done.
func (p *Pool) recoverHook() {
	if recover() != nil {
		p.stats.hookPanics.Add(1)
	}
}

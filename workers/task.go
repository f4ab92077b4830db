package workers

import (
	"context"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/internal/safecall"
)

// taskBase is the untyped part of a task: its place in the pool (a node of
// the queue or the running list, its state), its pool's record of it, and
// its context (a task is its own context.Context, so running a function
// costs no context allocation; see context.go). The typed part, task[T],
// holds the function and the promise. What most tasks never need (a name,
// timeouts, a watch on the parent, a Done channel) is in taskExtra, made on
// first need.
type taskBase struct {
	prev, next *taskBase // pool.mu: the queue or the running list
	pool       *Pool
	body       taskBody
	parent     context.Context // the ctx given to Spawn
	worker     *worker         // pool.mu; set before the function runs, then fixed
	id         uint64          // pool.mu when set, then fixed
	enqueued   time.Duration   // since pool.epoch; fixed before the task is published
	started    time.Duration   // since pool.epoch; pool.mu
	ctxState   atomic.Uint32   // ctxLive, ctxClosing (Done is being closed, see isEnded), ctxEnded (extra holds why)
	state      taskState       // pool.mu; written by moveLocked alone
	panicked   bool            // written by the worker before it settles the future
	hook       hookState       // pool.mu: see hookState
	extra      atomic.Pointer[taskExtra]
}

// taskExtra holds what most tasks never need, one record per role,
// allocated together on first need.
type taskExtra struct {
	limits
	parentLink
	ctxPart
}

// limits are a task's name and deadlines. The name and the timeouts are
// fixed before the task is published; the deadlines are armed and disarmed
// under pool.mu by the pool (limitLocked, moveLocked).
type limits struct {
	name       string
	timeout    time.Duration // WithTimeout, from submission
	runTimeout time.Duration // WithRunTimeout, from the start of the function
	deadline   time.Time     // submission + timeout
	due        deadline      // the timeout in the pool's heap
	// runDue is the run timeout in the pool's heap while the function runs
	// (at runAt, on the pool's clock, set before it starts).
	runAt  time.Duration
	runDue deadline
	// wakeAt is when a task due later, or waiting to retry, goes to the
	// queue (runDue is then armed for it).
	wakeAt time.Duration
	// timedOut is set by the first *TimeoutError built for the task.
	timedOut atomic.Bool

	// WithRetry: the policy, fixed; the calls started so far (moveLocked
	// counts each start); and, once the run timeout of a call to be
	// retried has fired, the wait decided then (overran), for when the
	// call returns. pool.mu.
	retry       RetryPolicy
	attempt     int
	overran     bool
	overranWait time.Duration
}

// parentLink is the task's link in its pool's watch on its parent context
// (see watch); pool.mu.
type parentLink struct {
	watch                *watch
	watchPrev, watchNext *taskBase
}

// taskBody is the typed half of a task.
type taskBody interface {
	// run runs the task on its worker: calls the function (unless the
	// task was settled or its parent ended before it started), puts the
	// pool's books right, then settles the future. It returns the worker's
	// next task if it took one under the mutex with which it finished,
	// already marked running, or nil.
	run() *taskBase
	reject(err error) bool
	cancel(cause error) bool
	// cancelledTasks is how many tasks a CancelAll that cancelled this one
	// left cancelled: for a task, 1 if its future is cancelled; for a
	// batch, the tasks its cancel counted, reported once.
	cancelledTasks() int
	// attach makes the task the observer of its future (async.Observer).
	attach()
	// expired is called by the pool's timer when one of the task's
	// deadlines passes.
	expirer
}

// hookState is the OnTaskDone hand-over of a Spawn task that a worker took
// and whose future another goroutine settled (a cancel, a timeout, the
// parent's end): its low bits are the outcome that goroutine's observer
// counted, hookWorkerDone says the worker is done with the task (and
// hookRan that the function ran), and whichever of the two comes second
// makes the record. It lives in a byte of the task's padding, so hooks
// cost a task no memory.
type hookState uint8

const (
	hookWorkerDone hookState = 8  // the worker is done with the task
	hookRan        hookState = 16 // and its function ran
	hookWithdrawn  hookState = 32 // taken off the queue or the waits by CancelAll, Shutdown or Close: no worker holds it
	hookOutcome    hookState = 7  // the mask of the outcome
)

// task is one Spawn call.
type task[T any] struct {
	taskBase
	promise async.Promise[T]
	fn      func(context.Context) (T, error)
}

func (t *task[T]) attach()                 { t.promise.Observe((*taskWatch)(&t.taskBase)) }
func (t *task[T]) reject(err error) bool   { return t.promise.Reject(err) }
func (t *task[T]) cancel(cause error) bool { return t.promise.Future().CancelWithCause(cause) }
func (t *task[T]) cancelledTasks() int {
	if t.promise.Future().State() == async.Cancelled {
		return 1
	}
	return 0
}

func (t *task[T]) run() *taskBase {
	b := &t.taskBase
	w, p := b.worker, b.pool
	// The parent may have ended with its watch not yet run, or the future
	// may have settled (or be settling) while the task was handed to this
	// worker (a sibling failed, a timer fired): never call the function.
	start := b.parent.Err() == nil && t.promise.Pending()
	var v T
	var r *safecall.Recovered
	var err error
	if start {
		ctx := context.Context(b)
		x := b.extra.Load()
		if x != nil && x.attempt > 1 {
			p.stats.retried.Add(1)
			ctx = b.callContext()
		}
		labelled := b.setLabels()
		if p.hooks.onStart != nil {
			v, r, err = safecall.Call(t.hooked, ctx, (*taskExit)(b))
		} else {
			v, r, err = safecall.Call(t.fn, ctx, (*taskExit)(b))
		}
		if labelled {
			pprof.SetGoroutineLabels(w.labels)
		}
		if x != nil && x.retry.retries() {
			var again bool
			if again, err = b.again(r, err); again {
				return nil // waits to retry, off this worker
			}
		}
	}
	t.fn = nil // do not keep the closure alive
	p.mu.Lock()
	abandoned := b.state == stateAbandoned
	p.moveLocked(b, stateDone)
	p.mu.Unlock()
	// The pool's books are right; settling runs user code (observers,
	// wakers, Then functions), and the worker takes its next task after it.
	own := Cancelled
	settled := false
	if start {
		settled = t.settle(v, r, err)
		own = Completed
		if r != nil {
			err = &PanicError{Value: r.Value, Stack: r.Stack}
		}
		if err != nil {
			own = Failed
		}
	} else if b.parent.Err() != nil {
		err = context.Cause(b.parent)
		settled = t.promise.Future().CancelWithCause(err)
	}
	if p.hooks.onDone != nil {
		b.workerDone(start, abandoned, settled, own, err, true)
	}
	return nil
}

// hooked is the function behind Config.OnTaskStart, which gives it its
// context; the context is kept for the task's OnTaskDone record.
func (t *task[T]) hooked(ctx context.Context) (T, error) {
	b := &t.taskBase
	ctx = b.pool.startHook(b.pool.record(b, ctx))
	b.ensureExtra().hooked = ctx
	return t.fn(ctx)
}

// workerDone makes the OnTaskDone record of a task its worker took, once
// the worker is done with it: started says whether its function ran,
// abandoned whether its future settled by cancel or timeout while it ran.
// If the worker's own settle won (settled), the outcome is own, with err;
// otherwise the goroutine that settled the future may still be counting
// it, and the record is made by whichever of the two finishes second (see
// hookState). With later, the record waits in the worker for its loop to
// hand it to OnTaskDone once run has returned (see worker.record).
func (b *taskBase) workerDone(started, abandoned, settled bool, own Outcome, err error, later bool) {
	if !settled {
		p := b.pool
		p.mu.Lock()
		b.hook |= hookWorkerDone
		if started {
			b.hook |= hookRan
		}
		own = Outcome(b.hook & hookOutcome)
		p.mu.Unlock()
		if own == 0 {
			return // the settler's observer makes the record
		}
		err = async.ErrCancelled
		if own == TimedOut {
			err = ErrTimeout
		}
	}
	w := b.worker
	r := &w.record
	b.doneRecord(r, started)
	r.Outcome, r.Err, r.Abandoned = own, err, abandoned
	r.Panicked = b.panicked && own == Failed
	if later {
		w.recorded = true
		return
	}
	b.pool.flush(w)
}

// doneRecord starts, in r, the OnTaskDone record of a task a worker took.
func (b *taskBase) doneRecord(r *TaskRecord, started bool) {
	b.pool.fill(r, b, b.parent)
	if x := b.extra.Load(); x != nil && x.hooked != nil {
		r.Context = x.hooked
	}
	if !started {
		r.Started, r.Worker = time.Time{}, ""
	}
}

// again decides, on the worker, whether the call of a task with a retry
// policy that just returned (r, err) is followed by another, and if so
// moves the task to waiting to retry and reports true. A call that failed
// (an error, a panic, a run past WithRunTimeout) is retried as the policy
// says, unless the future has settled meanwhile (a cancel, the parent's
// end, WithTimeout's deadline), which no retry outlives. When it is not
// retried, again returns the error the future is to settle with: err, or
// the error a Permanent mark wrapped.
func (b *taskBase) again(r *safecall.Recovered, err error) (bool, error) {
	p, x := b.pool, b.extra.Load()
	p.mu.Lock()
	overran, wait, running := x.overran, x.overranWait, b.state == stateRunning
	p.mu.Unlock()
	if !running {
		return false, err
	}
	if !overran {
		failure := err
		switch {
		case r != nil:
			failure = &PanicError{Value: r.Value, Stack: r.Stack}
		case x.runTimeout > 0 && !time.Now().Before(p.epoch.Add(x.runAt)):
			// Returned past its run timeout before the timer fired: a
			// failure like any other, whatever it returned.
			failure = &TimeoutError{Name: x.name, Timeout: x.runTimeout, Run: true}
		}
		if failure == nil {
			return false, nil
		}
		var retry bool
		var final error
		if wait, retry, final = x.retry.Next(x.attempt, failure); !retry {
			if r == nil && err != nil {
				err = final
			}
			return false, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if b.state != stateRunning {
		return false, err
	}
	x.overran = false
	p.waitLocked(b, stateRetrying, p.now()+wait)
	return true, nil
}

// settle settles the future with what the function returned (v and err, or
// the panic r), and counts the outcome as late if the future had already
// settled by cancel or timeout.
func (t *task[T]) settle(v T, r *safecall.Recovered, err error) bool {
	b := &t.taskBase
	if x := b.extra.Load(); x != nil && (x.timeout > 0 || x.runTimeout > 0) {
		// Returned after a deadline, before the timer's goroutine got to
		// run: the deadline still wins.
		now := time.Now()
		switch {
		case x.timeout > 0 && !now.Before(x.deadline):
			b.timeOut(false)
		case x.runTimeout > 0 && !now.Before(b.pool.epoch.Add(x.runAt)):
			b.timeOut(true)
		}
	}
	var ok bool
	switch {
	case r != nil:
		b.panicked = true
		ok = t.promise.Reject(&PanicError{Value: r.Value, Stack: r.Stack})
	case err != nil:
		if pe, isPermanent := err.(*permanentError); isPermanent {
			err = pe.err // the mark is for the retry policy, not the caller
		}
		ok = t.promise.Reject(err)
	default:
		ok = t.promise.Resolve(v)
	}
	if !ok {
		b.worker.late.Add(1)
	}
	return ok
}

// taskExit and taskWatch are the task seen by safecall and by its future:
// the same memory, with methods of their own, so that the context.Context
// a function receives (the taskBase) has none beyond what a context has.
type (
	taskExit  taskBase
	taskWatch taskBase
)

// Goexited ends a task whose function called runtime.Goexit; the worker's
// loop then passes its slot on as the goroutine unwinds.
func (e *taskExit) Goexited() {
	b := (*taskBase)(e)
	p, w := b.pool, b.worker
	p.mu.Lock()
	abandoned := b.state == stateAbandoned
	p.moveLocked(b, stateDone)
	p.mu.Unlock()
	settled := b.body.reject(async.ErrGoexit)
	if !settled {
		w.late.Add(1) // cancelled or timed out before the Goexit: dropped
	}
	if p.hooks.onDone != nil {
		b.workerDone(true, abandoned, settled, Failed, async.ErrGoexit, false)
	}
}

// Settled is the future's observer: it counts how the task ended and, if
// it ended by cancel or timeout, takes it off the queue or tells the running
// function to stop. It runs before the future's waiters are released.
func (o *taskWatch) Settled(state async.State, err error) {
	b := (*taskBase)(o)
	s := &b.pool.stats
	switch state {
	case async.Fulfilled: // only ever by the worker that ran the task
		b.worker.completed.Add(1)
	case async.Rejected:
		if te, ok := err.(*TimeoutError); ok && te.task == b {
			s.timedOut.Add(1)
			b.abort(context.DeadlineExceeded, err)
			return
		}
		// Other rejections come from the worker that ran the task.
		b.worker.failed.Add(1)
		if b.panicked {
			b.worker.panicked.Add(1)
		}
	case async.Cancelled:
		s.cancelled.Add(1)
		b.abort(context.Canceled, err)
	}
}

// abort ends a task whose future was cancelled or timed out: a task that
// waits (queued, due later, waiting to retry) leaves the pool and never
// runs; a running one is marked abandoned and its context is cancelled
// with err as the cause.
func (b *taskBase) abort(ctxErr, err error) {
	p := b.pool
	p.mu.Lock()
	running, waiting, retried := false, false, b.state == stateRetrying
	switch b.state {
	case stateQueued, stateDue, stateRetrying:
		p.moveLocked(b, stateDone)
		waiting = true
	case stateRunning:
		p.moveLocked(b, stateAbandoned)
		running = true
	}
	// A task no worker holds (it waited: queued, due later, waiting to
	// retry) never will: its record is this goroutine's to make. For one a
	// worker holds, the worker makes it once done with the task, unless it
	// was done first (see hookState).
	report, unstarted := false, b.worker == nil
	if p.hooks.onDone != nil {
		report = waiting || b.hook&(hookWorkerDone|hookWithdrawn) != 0
		if ctxErr == context.DeadlineExceeded {
			b.hook |= hookState(TimedOut)
		} else {
			b.hook |= hookState(Cancelled)
		}
	}
	started := b.hook&hookRan != 0 || retried || (waiting && !unstarted)
	p.mu.Unlock()
	if report {
		b.reportSettled(unstarted, started, running, ctxErr, err)
	}
	if running {
		if pe := b.parent.Err(); pe != nil {
			ctxErr = pe // the parent ended: its error, as for any derived context
		}
		b.cancelContext(ctxErr, err)
	}
}

// expired runs on the pool's timer when one of the task's deadlines
// passes: WithTimeout's; the run timeout of the call that is running; or,
// for a task due later or waiting to retry, its due time. A deadline armed
// for an earlier state is told apart by its generation.
func (b *taskBase) expired(d *deadline, gen uint64) {
	x := b.extra.Load()
	if d == &x.due {
		b.timeOut(false)
		return
	}
	p := b.pool
	p.mu.Lock()
	state, attempt := b.state, x.attempt
	current := d.gen == gen
	p.mu.Unlock()
	switch {
	case !current:
	case state == stateDue || state == stateRetrying:
		p.wake(b, d, gen)
	case state != stateRunning:
	case !x.retry.retries():
		b.timeOut(true)
	default:
		// A call past its run timeout is retried like a failure: its
		// context ends now, and the retry waits for it to return.
		te := &TimeoutError{Name: x.name, Timeout: x.runTimeout, Run: true}
		wait, retry, _ := x.retry.Next(attempt, te)
		if !retry {
			b.timeOut(true)
			return
		}
		p.mu.Lock()
		current = d.gen == gen && b.state == stateRunning
		if current {
			x.overran, x.overranWait = true, wait
		}
		p.mu.Unlock()
		if current {
			b.endCall(te)
		}
	}
}

// timeOut rejects the task's future with its *TimeoutError, for the run
// timeout if run is true, else for WithTimeout. Only the first call builds
// the error.
func (b *taskBase) timeOut(run bool) {
	x := b.extra.Load()
	if !x.timedOut.CompareAndSwap(false, true) {
		return
	}
	d := x.timeout
	if run {
		d = x.runTimeout
	}
	b.body.reject(&TimeoutError{Name: x.name, Timeout: d, Run: run, task: b})
}

// name is the task's WithName name.
func (b *taskBase) name() string {
	if x := b.extra.Load(); x != nil {
		return x.name
	}
	return ""
}

var _ async.Observer = (*taskWatch)(nil)

// reportSettled calls OnTaskDone for a Spawn task settled by cancel
// (ctxErr is context.Canceled) or by its timeout, with err, on the
// goroutine that settled it: a task no worker took (unstarted), or one
// whose worker was done with it first.
func (b *taskBase) reportSettled(unstarted, started, abandoned bool, ctxErr, err error) {
	r := b.pool.record(b, b.parent)
	if !unstarted {
		b.doneRecord(&r, started)
	}
	r.Outcome, r.Err, r.Abandoned = Cancelled, err, abandoned
	if ctxErr == context.DeadlineExceeded {
		r.Outcome = TimedOut
	}
	b.pool.done(&r)
}

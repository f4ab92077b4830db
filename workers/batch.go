package workers

import (
	"context"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/internal/safecall"
)

// A batch is one SpawnAll call. It enters the pool's queue as a single
// entry, its anchor, with a cursor: a worker that takes from the queue
// claims the batch's next index, and the anchor leaves the queue once every
// index is claimed. Its functions share one context (derived once from the
// caller's), one watch on that context and one deadline, so a batch holds,
// beyond the caller's slice of functions and its result slice, a fixed
// record plus one item for each of its functions running at once, whatever
// its size.
//
// A batch's outcome is decided once, under the pool's mutex (done): by its
// last function returning a value, by the first one failing, by its
// deadline, by its context's parent ending, or by a cancel of its future.
// The deciding goroutine counts every function not yet finished in Stats,
// takes the anchor off the queue, marks running functions abandoned, and
// only then, with the mutex released, ends the shared context and settles
// the future, so that user code reached from that settle sees the pool
// consistent.
type batch[T any] struct {
	anchor taskBase // the batch's entry in the queue; its body is the batch
	pool   *Pool
	fns    []func(context.Context) (T, error)
	vals   []T
	name   string           // WithName: every task's name
	names  func(int) string // WithNames: task i's name, or nil
	runFor time.Duration    // WithRunTimeout: each task's, or 0
	delay  time.Duration    // WithDelay: the batch is due delay after submission
	retry  RetryPolicy      // WithRetry: each task's
	p      async.Promise[[]T]

	// SpawnAllSettled: no fail-fast; each task's outcome in results, and
	// the future is all instead of p.
	settled bool
	results []async.Result[T]
	all     async.Promise[[]async.Result[T]]
	// pool.mu, then the settler's: the tasks unfinished when the outcome
	// was decided by the context's end, those running then and those from
	// the first unclaimed on, whose Results the settle fills in.
	unfinished     []int
	unfinishedFrom int

	// WithRetry: the tasks waiting to retry, not yet claimed (pool.mu);
	// those the decision took out of the pool, for OnTaskDone.
	retries  []*batchRetry[T]
	retryIdx []int

	ctx     context.Context // every function's context
	ctxDone <-chan struct{} // ctx.Done() if the context can end on its own, else nil
	end     context.CancelCauseFunc
	stop    func() bool   // stops the watch on ctx; nil without one
	timeout *TimeoutError // the error of the batch's deadline, or nil
	endsAt  time.Time     // the batch's deadline, with timeout

	decided  atomic.Bool  // done, readable without the mutex; set by decideOnceLocked
	reported atomic.Int64 // tasks a cancel counted, until CancelAll reports them

	// Guarded by pool.mu.
	cursor int  // the next index to claim
	left   int  // functions that have yet to return a value
	done   bool // the outcome is decided; set by decideOnceLocked
	rest   int  // the tasks that decision counted
	// The tasks that decision found unclaimed, and how it counted them, for
	// the OnTaskDone record that the future's observer makes.
	unclaimed        int
	unclaimedOutcome Outcome
	items            []*batchItem[T] // by worker slot: the worker's item, made on its first claim
}

// batchItem is a worker's record of the batch's function it runs, in the
// pool's running set. A worker runs one function at a time, so a batch
// makes one item per worker that runs its functions, and reuses it.
type batchItem[T any] struct {
	taskBase
	b    *batch[T]
	i    int       // the index of the function; pool.mu
	ctx  *itemCtx  // the function's context: &own, or under WithNames its own
	own  itemCtx   // the context of the batch's functions on this worker
	call *itemCall // pool.mu: the running call's own context, if it has one (see callCtx)

	counted Outcome         // pool.mu: how the batch's decision counted the running task, or 0
	hookCtx context.Context // what Config.OnTaskStart returned; the worker's
}

// itemCtx is the context a batch's function receives: the batch's shared
// context, whose Done, Err and Deadline it has, with the pprof labels of the
// worker running it ("worker", and "task" for a named batch) in front of
// the caller's values. A batch has one per worker that runs its functions
// or, under WithNames, one per function (its "task" label differs). It is
// never changed once made, so a goroutine that outlives its function may
// keep it.
type itemCtx struct {
	context.Context
	labels context.Context // pprof labels; the worker's own when unnamed
	pool   *Pool
}

func (c *itemCtx) Value(key any) any {
	if key == (poolKey{}) {
		return c.pool
	}
	if v := c.labels.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}

// decision is a batch's outcome, decided under the pool's mutex and carried
// out (settle) once it is released.
type decision struct {
	o   outcome
	i   int   // rejectBatch: the failed task
	err error // rejectBatch: its error
}

type outcome uint8

const (
	noOutcome    outcome = iota
	resolveBatch         // every function returned a value
	rejectBatch          // task i failed with err
	timeoutBatch         // the batch's deadline passed
	cancelBatch          // the caller's context ended
)

func newBatch[T any](ctx context.Context, fns []func(context.Context) (T, error), s *settings) *batch[T] {
	b := &batch[T]{pool: s.pool, fns: fns, vals: make([]T, len(fns)), name: s.name, names: s.names,
		runFor: s.runTimeout, delay: s.delay, left: len(fns)}
	if s.retry.retries() {
		b.retry = s.retry
	}
	b.anchor.pool, b.anchor.body, b.anchor.parent = s.pool, b, ctx
	return b
}

// start derives the batch's context from the caller's, arms its deadline
// and its watch, and ties a cancel of its future to the batch. It runs
// under the pool's mutex once the pool has accepted the batch, before any
// worker can see it. (The watch runs on a goroutine of its own, so taking
// the parent's lock under the pool's cannot deadlock.)
func (b *batch[T]) start(parent context.Context, timeout time.Duration) {
	var cancel context.CancelCauseFunc
	b.ctx, cancel = context.WithCancelCause(parent)
	b.end = cancel
	if timeout > 0 {
		// The deadline's context is a child of the cancellable one, so that
		// a cancel with a cause reaches it, and its own cause is the
		// batch's *TimeoutError.
		b.timeout = &TimeoutError{Name: b.name, Timeout: timeout}
		b.endsAt = time.Now().Add(b.delay + timeout) // counted from the due time
		var stopTimer context.CancelFunc
		b.ctx, stopTimer = context.WithDeadlineCause(b.ctx, b.endsAt, b.timeout)
		b.end = func(cause error) { cancel(cause); stopTimer() }
	}
	if parent.Done() != nil || timeout > 0 {
		// Without a deadline or a parent that can end, the context ends
		// only by release, after the outcome is decided: no watch needed.
		b.ctxDone = b.ctx.Done()
		b.stop = context.AfterFunc(b.ctx, b.ctxEnded)
	}
	if b.settled {
		b.all.Observe(b)
	} else {
		b.p.Observe(b)
	}
}

// Settled observes the batch's future: whoever cancelled it (Future.Cancel,
// CancelAll, Close, or settle for the caller's context), the batch stops
// and its queued functions never run. It runs before the future's waiters
// are released.
func (b *batch[T]) Settled(state async.State, err error) {
	if state == async.Cancelled {
		b.cancelled(err)
	}
	// The tasks that the decision found unclaimed are reported by the
	// goroutine that settles the future, before its waiters wake, whoever
	// decided the batch.
	b.reportUnclaimed()
}

// release ends the batch's context and its watch, once its outcome is
// decided: its functions see their context end, and the parent forgets it.
// It may be called more than once.
func (b *batch[T]) release(cause error) {
	if b.stop != nil {
		b.stop()
	}
	if b.end != nil { // nil for a batch refused before it started
		b.end(cause)
	}
}

// nameOf is the name of task i.
func (b *batch[T]) nameOf(i int) string {
	if b.names != nil {
		return b.names(i)
	}
	return b.name
}

// ended reports whether the batch's context has ended on its own, before
// its outcome was decided. (A nil ctxDone never is.)
func (b *batch[T]) ended() bool {
	select {
	case <-b.ctxDone:
		return true
	default:
		return false
	}
}

// ctxEnded runs, on a goroutine of the context package's, when the batch's
// context ends on its own: its deadline passed or the caller's context
// ended. (release stops this watch before it ends the context itself.)
func (b *batch[T]) ctxEnded() {
	p := b.pool
	p.mu.Lock()
	d := b.decideEndedLocked()
	p.mu.Unlock()
	b.settle(d)
}

// decideEndedLocked decides a batch whose context ended on its own, unless
// it was decided already.
func (b *batch[T]) decideEndedLocked() decision {
	if context.Cause(b.ctx) == b.timeout && b.timeout != nil {
		if b.decideLocked(&b.pool.stats.timedOut) {
			return decision{o: timeoutBatch}
		}
	} else if b.decideLocked(&b.pool.stats.cancelled) {
		return decision{o: cancelBatch}
	}
	return decision{}
}

// cancelled decides a batch whose future was cancelled, unless it was
// decided already, and ends its context.
func (b *batch[T]) cancelled(cause error) {
	p := b.pool
	p.mu.Lock()
	decided := b.decideLocked(&p.stats.cancelled)
	if decided {
		b.reported.Store(int64(b.rest))
	}
	p.mu.Unlock()
	if decided {
		b.release(cause)
	}
}

// decideLocked decides the batch's outcome unless it was decided already,
// and reports whether it did: every function that has not finished is
// counted in c, the anchor leaves the queue, and running functions are
// marked abandoned. The caller then releases the mutex and settles.
func (b *batch[T]) decideLocked(c *atomic.Uint64) bool {
	return b.decideExceptLocked(c, nil)
}

// decideExceptLocked is decideLocked but for item x, which the caller
// counts itself.
func (b *batch[T]) decideExceptLocked(c *atomic.Uint64, x *batchItem[T]) bool {
	if !b.decideOnceLocked() {
		return false
	}
	p := b.pool
	rest := b.waitingLocked()
	counted := Cancelled
	if c == &p.stats.timedOut {
		counted = TimedOut
	}
	b.unclaimed, b.unclaimedOutcome = rest, counted
	if b.anchor.state == stateQueued || b.anchor.state == stateDue {
		p.moveLocked(&b.anchor, stateDone)
	}
	b.unfinishedFrom = b.cursor
	rest += b.withdrawRetriesLocked()
	for _, it := range b.items {
		if it != nil && it.state == stateRunning {
			if b.settled {
				b.unfinished = append(b.unfinished, it.i)
			}
			p.moveLocked(&it.taskBase, stateAbandoned)
			if it != x {
				rest++
				it.counted = counted
			}
		}
	}
	c.Add(uint64(rest))
	b.rest = rest
	return true
}

// decideOnceLocked marks the batch's outcome decided, and reports whether
// it was not already: the one writer of done and its mirror decided.
func (b *batch[T]) decideOnceLocked() bool {
	if b.done {
		return false
	}
	b.done = true
	b.decided.Store(true)
	return true
}

// waitingLocked is how many tasks have not been claimed yet.
func (b *batch[T]) waitingLocked() int { return len(b.fns) - b.cursor }

func (b *batch[T]) nextLocked() (uint64, string, int) {
	return b.anchor.id + uint64(b.cursor), b.nameOf(b.cursor), b.waitingLocked()
}

// submit hands the batch to its pool, all or nothing, under one
// acquisition of the mutex: it is refused if the pool is closed or its
// queue has no room for every task; with a caller's context that has
// already ended it is counted as submitted and cancelled (errParentDone);
// otherwise it is started and queued as one entry, and idle or new workers
// take its first tasks at once.
func (b *batch[T]) submit(timeout time.Duration) error {
	p, n := b.pool, len(b.fns)
	p.ready()
	p.mu.Lock()
	if err := p.refuseLocked(n); err != nil {
		p.mu.Unlock()
		return err
	}
	p.stats.submitted.Add(uint64(n))
	if b.anchor.parent.Err() != nil {
		b.decideOnceLocked()
		p.stats.cancelled.Add(uint64(n))
		b.unclaimed, b.unclaimedOutcome = n, Cancelled
		b.anchor.id = p.nextID + 1
		p.nextID += uint64(n)
		p.mu.Unlock()
		return errParentDone
	}
	b.start(b.anchor.parent, timeout)
	now := p.now()
	b.anchor.id = p.nextID + 1
	p.nextID += uint64(n)
	b.anchor.enqueued = now
	if b.delay > 0 {
		b.anchor.ensureExtra()
		p.waitLocked(&b.anchor, stateDue, now+b.delay)
		p.mu.Unlock()
		return nil
	}
	p.moveLocked(&b.anchor, stateQueued)
	var buf [4]*taskBase
	starts := p.fillLocked(buf[:0], now)
	p.mu.Unlock()
	p.startWorkers(starts)
	return nil
}

// claimLocked claims the batch's next task: it returns its index, and
// whether it was the last one waiting.
func (b *batch[T]) claimLocked() (int, bool) {
	i := b.cursor
	b.cursor++
	return i, b.cursor == len(b.fns)
}

// itemLocked returns worker w's item, made on w's first claim, set up to
// run task i (not yet running).
func (b *batch[T]) itemLocked(w *worker, i int) *taskBase {
	if len(b.items) < w.slot {
		b.items = append(b.items, make([]*batchItem[T], w.slot-len(b.items))...)
	}
	it := b.items[w.slot-1]
	if it == nil {
		it = &batchItem[T]{b: b}
		it.pool, it.body, it.parent = b.pool, it, b.ctx
		it.own = *b.newCtx(w, b.name)
		it.ctx = &it.own
		b.items[w.slot-1] = it
	}
	it.i = i
	it.id = b.anchor.id + uint64(i)
	it.enqueued = b.anchor.enqueued
	it.counted = 0
	name := b.nameOf(i)
	if name != "" || b.runFor > 0 || b.retry.retries() || it.extra.Load() != nil {
		x := it.ensureExtra()
		x.name, x.runTimeout, x.attempt = name, b.runFor, 0
	}
	if b.names != nil {
		it.ctx = b.newCtx(w, name)
	}
	return &it.taskBase
}

// newCtx makes the context of a function named name on worker w: the
// worker's labels, plus "task" and any labels of the caller's context.
func (b *batch[T]) newCtx(w *worker, name string) *itemCtx {
	return &itemCtx{Context: b.ctx, labels: taskLabels(b.anchor.parent, w, name), pool: b.pool}
}

// recordLocked records how task i ended, on worker w, and decides the batch
// if it was the last task or the first to fail.
// A task of a SpawnAllSettled keeps its outcome and decides nothing
// unless it is the last. settled says the task's outcome was recorded
// already (its run timeout, in a SpawnAllSettled).
func (b *batch[T]) recordLocked(i int, v T, err error, panicked, settled bool, w *worker) decision {
	switch {
	case b.done || settled:
		w.late.Add(1)
		return decision{}
	case err != nil:
		w.failed.Add(1)
		if panicked {
			w.panicked.Add(1)
		}
		if pe, ok := err.(*permanentError); ok {
			err = pe.err
		}
		if !b.settled {
			b.decideLocked(&b.pool.stats.cancelled)
			return decision{o: rejectBatch, i: i, err: err}
		}
		b.results[i].Err = err
	case b.settled:
		w.completed.Add(1)
		b.results[i].Value = v
	default:
		w.completed.Add(1)
		b.vals[i] = v
	}
	return b.leftLocked()
}

// leftLocked counts one more task of the batch finished, and decides the
// batch resolved if it was the last.
func (b *batch[T]) leftLocked() decision {
	if b.left--; b.left == 0 {
		b.decideOnceLocked()
		return decision{o: resolveBatch}
	}
	return decision{}
}

// settle carries out a decided outcome, with the mutex released. The
// context ends before the future settles, so a running sibling's context
// has ended by the time anyone sees the batch fail.
func (b *batch[T]) settle(d decision) {
	if b.settled {
		b.settleAll(d)
		return
	}
	switch d.o {
	case resolveBatch:
		b.release(context.Canceled)
		b.p.Resolve(b.vals)
	case rejectBatch:
		te := &TaskError{Index: d.i, Name: b.nameOf(d.i), Err: d.err}
		b.release(&siblingError{te})
		b.p.Reject(te)
	case timeoutBatch:
		b.release(b.timeout)
		b.p.Reject(b.timeout)
	case cancelBatch:
		cause := context.Cause(b.anchor.parent)
		b.release(cause)
		b.p.Future().CancelWithCause(cause)
	}
}

// settleAll carries out the outcome of a SpawnAllSettled: its future is
// fulfilled, with the tasks that had not finished when the batch's context
// ended holding the timeout or the cancellation in their Result.
func (b *batch[T]) settleAll(d decision) {
	var err error
	switch d.o {
	case noOutcome:
		return
	case timeoutBatch:
		err = b.timeout
	case cancelBatch:
		err = &cancelledError{context.Cause(b.anchor.parent)}
	}
	if err != nil {
		for _, i := range b.unfinished {
			b.results[i].Err = err
		}
		for i := b.unfinishedFrom; i < len(b.results); i++ {
			b.results[i].Err = err
		}
		b.unfinished = nil
	}
	if err != nil {
		b.release(err)
	} else {
		b.release(context.Canceled)
	}
	b.all.Resolve(b.results)
}

// The anchor's body: the pool reaches the batch through it.

// run is never called: workers run claimed items, never the anchor.
func (b *batch[T]) run() *taskBase { panic("workers: a batch's anchor cannot run") }

func (b *batch[T]) cancelledTasks() int { return int(b.reported.Swap(0)) }
func (b *batch[T]) reject(err error) bool {
	if b.settled {
		return b.all.Reject(err)
	}
	return b.p.Reject(err)
}

func (b *batch[T]) cancel(cause error) bool {
	if b.settled {
		return b.all.Future().CancelWithCause(cause)
	}
	return b.p.Future().CancelWithCause(cause)
}
func (b *batch[T]) attach() {}

// expired is the due time of a delayed batch: it goes to the queue. (Its
// WithTimeout is its context's deadline, not one of the heap's.)
func (b *batch[T]) expired(d *deadline, gen uint64) { b.pool.wake(&b.anchor, d, gen) }

// The item's body.

func (it *batchItem[T]) cancelledTasks() int     { return it.b.cancelledTasks() }
func (it *batchItem[T]) reject(err error) bool   { return it.b.reject(err) }
func (it *batchItem[T]) cancel(cause error) bool { return it.b.cancel(cause) }
func (it *batchItem[T]) attach()                 {}

// run runs task it.i of the batch on its worker, records how it ended and
// returns the worker's next task: taken under the lock with which it
// finished when there is nothing to settle, else nil, for the worker's loop
// to take it after the settle.
func (it *batchItem[T]) run() *taskBase {
	b, p, w, i := it.b, it.b.pool, it.worker, it.i
	if b.decided.Load() || b.ended() {
		// Decided while handed to this worker, or the context ended and its
		// watch has not run yet: the function never starts.
		p.mu.Lock()
		var d decision
		if !b.done {
			d = b.decideEndedLocked()
		}
		p.moveLocked(&it.taskBase, stateDone)
		var r TaskRecord
		if p.hooks.onDone != nil {
			r = it.recordLocked(false, nil, it.b.anchor.parent)
		}
		next := b.followLocked(w, d)
		p.mu.Unlock()
		b.settle(d)
		if p.hooks.onDone != nil {
			p.done(&r)
		}
		return next
	}
	ctx := it.callCtx()
	labelled := it.ctx.labels != w.labels
	if labelled {
		pprof.SetGoroutineLabels(ctx)
	}
	if x := it.extra.Load(); x != nil && x.attempt > 1 {
		p.stats.retried.Add(1)
	}
	var v T
	var r *safecall.Recovered
	var err error
	if p.hooks.onStart != nil {
		v, r, err = safecall.Call(it.hooked, ctx, it)
	} else {
		v, r, err = safecall.Call(b.fns[i], ctx, it)
	}
	if labelled {
		pprof.SetGoroutineLabels(w.labels)
	}
	panicked := r != nil
	if panicked {
		err = &PanicError{Value: r.Value, Stack: r.Stack}
	}
	if b.retry.retries() {
		again, next, final := it.again(err)
		if again {
			return next
		}
		err = final
	}
	p.mu.Lock()
	d := it.finishLocked(i, v, err, panicked, w)
	var rec TaskRecord
	if p.hooks.onDone != nil {
		rec = it.recordLocked(true, err, ctx)
		rec.Panicked = panicked && rec.Outcome == Failed
	}
	next := b.followLocked(w, d)
	if p.hooks.onDone != nil && next != nil {
		// The next task's start was read from the clock in this same
		// critical section: it is this one's end, one clock read saved.
		rec.Ended = p.epoch.Add(next.started)
	}
	p.mu.Unlock()
	b.settle(d)
	if p.hooks.onDone != nil {
		p.done(&rec)
	}
	return next
}

// hooked is task it.i's function behind Config.OnTaskStart, which gives it
// its context.
func (it *batchItem[T]) hooked(ctx context.Context) (T, error) {
	r := it.b.pool.record(&it.taskBase, ctx)
	r.Batch, r.Index = it.b.anchor.id, it.i
	ctx = it.b.pool.startHook(r)
	it.hookCtx = ctx
	return it.b.fns[it.i](ctx)
}

// recordLocked makes the OnTaskDone record of task it.i, which has
// finished (started says whether its function ran, err is what it
// returned): its outcome is how the pool counted it. The record is made
// under the mutex because the worker's next claim of the same batch reuses
// the item.
func (it *batchItem[T]) recordLocked(started bool, err error, ctx context.Context) TaskRecord {
	if started && it.hookCtx != nil {
		ctx, it.hookCtx = it.hookCtx, nil
	}
	r := it.b.pool.record(&it.taskBase, ctx)
	r.Batch, r.Index, r.Abandoned = it.b.anchor.id, it.i, it.counted != 0 // counted: abandoned by the decision
	if !started {
		r.Started, r.Worker = time.Time{}, ""
	}
	switch {
	case it.counted == TimedOut:
		r.Outcome, r.Err = TimedOut, ErrTimeout
	case it.counted == Cancelled:
		r.Outcome, r.Err = Cancelled, async.ErrCancelled
	case err != nil:
		r.Outcome, r.Err = Failed, err
	default:
		r.Outcome = Completed
	}
	return r
}

// reportUnclaimed calls OnTaskDone once for the tasks the batch's decision
// found unclaimed (and once for each of its retries that the decision took
// out of the pool), with the mutex released. The future's observer calls
// it, so the records are made before the future's waiters wake; the
// decision, under the mutex, always comes before the future settles.
func (b *batch[T]) reportUnclaimed() {
	p := b.pool
	if p.hooks.onDone == nil {
		return
	}
	p.mu.Lock()
	retryIdx, n := b.retryIdx, b.unclaimed
	b.retryIdx, b.unclaimed = nil, 0
	p.mu.Unlock()
	for _, i := range retryIdx {
		r := TaskRecord{Pool: p.name, ID: b.anchor.id + uint64(i), Name: b.nameOf(i), Count: 1, Batch: b.anchor.id, Index: i,
			Enqueued: p.epoch.Add(b.anchor.enqueued), Context: b.anchor.parent, Outcome: b.unclaimedOutcome, Err: async.ErrCancelled}
		if r.Outcome == TimedOut {
			r.Err = b.timeout
		}
		p.done(&r)
	}
	if n == 0 {
		return
	}
	r := TaskRecord{Pool: p.name, ID: b.anchor.id + uint64(len(b.fns)-n), Attempt: 1, Count: n,
		Batch: b.anchor.id, Index: len(b.fns) - n, Enqueued: p.epoch.Add(b.anchor.enqueued),
		Context: b.anchor.parent, Outcome: b.unclaimedOutcome, Err: async.ErrCancelled}
	if b.names == nil {
		r.Name = b.name
	}
	if r.Outcome == TimedOut {
		r.Err = b.timeout
	}
	p.done(&r)
}

// followLocked is worker w's next task once one of the batch's tasks has
// ended with outcome d: with nothing to settle, the queue's next, taken
// under the same lock; otherwise nil, so that the worker takes its next
// task only after the settle.
func (b *batch[T]) followLocked(w *worker, d decision) *taskBase {
	if d.o != noOutcome {
		return nil
	}
	return b.pool.popLocked(w)
}

// finishLocked ends task i, whose function returned (v, err) on worker w,
// and returns the batch's outcome if that decided it. A deadline that
// passed while the function ran wins over what the function returned,
// which then counts as Late, as for a single task.
func (it *batchItem[T]) finishLocked(i int, v T, err error, panicked bool, w *worker) decision {
	b := it.b
	d := it.overranLocked()
	settled := it.state == stateAbandoned // its run timeout recorded its outcome (SpawnAllSettled)
	b.pool.moveLocked(&it.taskBase, stateDone)
	if r := b.recordLocked(i, v, err, panicked, settled, w); d.o == noOutcome {
		d = r
	}
	return d
}

// overranLocked decides the batch, unless it was decided already, if one
// of its deadlines passed before task it.i returned: its context ended on
// its own (the batch's deadline, the caller's context), or the batch's
// deadline or the task's run timeout passed before the timer or the watch
// that ends it got to run.
func (it *batchItem[T]) overranLocked() decision {
	b, p := it.b, it.b.pool
	switch {
	case b.done:
	case b.ended():
		return b.decideEndedLocked()
	case b.timeout != nil && !time.Now().Before(b.endsAt):
		if b.decideLocked(&p.stats.timedOut) {
			return decision{o: timeoutBatch}
		}
	case b.runFor > 0 && it.state == stateRunning && p.now() >= it.extra.Load().runAt:
		return it.timeOutLocked()
	}
	return decision{}
}

// timeOutLocked fails the running batch for task it.i, which has run for
// its WithRunTimeout: the task counts as TimedOut, its unfinished siblings
// as Cancelled.
func (it *batchItem[T]) timeOutLocked() decision {
	b, p := it.b, it.b.pool
	if b.settled {
		// Only this task times out; its function runs on, abandoned.
		p.stats.timedOut.Add(1)
		it.counted = TimedOut
		b.results[it.i].Err = &TimeoutError{Name: b.nameOf(it.i), Timeout: b.runFor, Run: true}
		p.moveLocked(&it.taskBase, stateAbandoned)
		return b.leftLocked()
	}
	b.decideExceptLocked(&p.stats.cancelled, it)
	p.stats.timedOut.Add(1)
	it.counted = TimedOut
	return decision{o: rejectBatch, i: it.i, err: &TimeoutError{Name: b.nameOf(it.i), Timeout: b.runFor, Run: true}}
}

// Goexited ends task it.i, whose function called runtime.Goexit, as a
// failure with async.ErrGoexit; the worker's loop then passes its slot on
// as the goroutine unwinds.
func (it *batchItem[T]) Goexited() {
	b, p, w, i := it.b, it.b.pool, it.worker, it.i
	p.mu.Lock()
	var zero T
	d := it.finishLocked(i, zero, async.ErrGoexit, false, w)
	var r TaskRecord
	if p.hooks.onDone != nil {
		r = it.recordLocked(true, async.ErrGoexit, it.ctx)
	}
	p.mu.Unlock()
	b.settle(d)
	if p.hooks.onDone != nil {
		p.done(&r)
	}
}

// expired fails the batch when task it.i has run for its WithRunTimeout,
// unless the function returned, or the batch was decided, first: the task
// counts as TimedOut, its siblings as Cancelled, and the function, still
// running, is abandoned.
func (it *batchItem[T]) expired(d *deadline, gen uint64) {
	b, p := it.b, it.b.pool
	p.mu.Lock()
	current := d.gen == gen && it.state == stateRunning && !b.done
	x := it.extra.Load()
	attempt := x.attempt
	p.mu.Unlock()
	if !current {
		return
	}
	if b.retry.retries() {
		// A call past its run timeout is retried like a failure: its own
		// context ends now, and the retry waits for it to return.
		te := &TimeoutError{Name: x.name, Timeout: b.runFor, Run: true}
		if wait, retry, _ := b.retry.Next(attempt, te); retry {
			p.mu.Lock()
			c := it.call
			current = d.gen == gen && it.state == stateRunning && !b.done
			if current {
				x.overran, x.overranWait = true, wait
			}
			p.mu.Unlock()
			if current && c != nil {
				c.end(te)
			}
			return
		}
	}
	p.mu.Lock()
	var dec decision
	if d.gen == gen && it.state == stateRunning && !b.done {
		dec = it.timeOutLocked()
	}
	p.mu.Unlock()
	b.settle(dec)
}

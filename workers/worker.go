package workers

import (
	"context"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
)

// A worker is one of a pool's MaxWorkers slots and, while the slot has
// work, the goroutine that fills it. The slot outlives its goroutines: its
// name and pprof labels are made once, its outcome counters accumulate,
// and a goroutine that leaves early (runtime.Goexit, in a function or in a
// continuation its settle ran) passes the slot's duty to a new one.
//
// The loop (work) takes a task, runs it (the task calls its function, puts
// the pool's books right, then settles its future) and takes the next; when
// the queue is empty it parks (Config.IdleTimeout) or exits. A task's run
// may take the next task itself, under the mutex with which it finished,
// when it has nothing to settle (a batch's task that is neither the last
// nor a failure); otherwise the loop takes it after the settle, so that a
// continuation that waits for a queued task leaves it queued, for a free
// worker to start.
type worker struct {
	slot   int
	name   string
	labels context.Context
	park   *parker // pool.mu; the live goroutine's, once it has waited

	// The labels of the last named task the slot ran, so that a run of
	// tasks with one name makes them once; used by the slot's goroutine.
	lastName   string
	lastLabels context.Context

	// Outcomes counted by the worker's own goroutine, apart from the other
	// workers' so that busy workers do not contend on one cache line.
	completed, failed, panicked, late atomic.Uint64
	_                                 [64]byte

	// The OnTaskDone record of the task the slot's goroutine has just
	// finished, which the loop (work) hands to the hook once run has
	// returned: from that shallow frame the hook's frames fit in a fresh
	// goroutine's stack more often (see docs/observe.md, "Cost"). Used by
	// the slot's goroutine alone.
	record   TaskRecord
	recorded bool
}

// work is the goroutine of slot t.worker: it runs t, already marked running
// on that slot, then whatever the queue holds. (It takes the task alone, so
// that a go statement costs the smallest closure.)
func (t *taskBase) work() {
	p, w := t.pool, t.worker
	if p.lockThread {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	}
	pprof.SetGoroutineLabels(w.labels)
	returned := false
	defer func() {
		if !returned {
			// runtime.Goexit: the task that was running is already off the
			// books (its Goexited, or its run before it settled).
			p.handOff(w)
		}
	}()
	for t != nil {
		t = t.body.run()
		if w.recorded {
			p.flush(w)
		}
		if t == nil {
			t = p.next(w)
		}
	}
	returned = true
}

// next returns worker w's next task: the queue's next or, with an
// IdleTimeout, one handed over while w waits; nil once w has exited.
func (p *Pool) next(w *worker) *taskBase {
	p.mu.Lock()
	t := p.popLocked(w)
	var handover chan *taskBase
	if t == nil && p.parkLocked(w) {
		handover = w.park.ch // w.park is cleared when w is retired
	}
	p.mu.Unlock()
	if handover != nil {
		return <-handover // nil: retired by the reaper, Shutdown, Close or Resize
	}
	return t
}

// handOff passes the duty of slot w, whose goroutine is exiting early, to a
// new goroutine if work is queued; with no work left, the slot is freed.
func (p *Pool) handOff(w *worker) {
	p.mu.Lock()
	t := p.popLocked(w)
	if t == nil {
		p.exitLocked(w)
	}
	p.mu.Unlock()
	if t != nil {
		go t.work()
	}
}

// startWorkers starts a goroutine for each task, already marked running on
// a new slot by fillLocked. Callers start them after releasing the mutex.
func (p *Pool) startWorkers(ts []*taskBase) {
	for _, t := range ts {
		go t.work()
	}
}

// flush hands worker w's record to OnTaskDone and forgets it.
func (p *Pool) flush(w *worker) {
	w.recorded = false
	p.done(&w.record)
	w.record = TaskRecord{} // do not keep its context and error alive
}

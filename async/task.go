package async

import "sync/atomic"

// Task is a unit of work that a [Loop] drives by polling. Poll runs on the
// loop goroutine; it returns true when the task is finished, or false after
// arranging, typically through [Future.Poll], for w.Wake to be called when
// it can make progress. The loop polls it again each time w is woken (several
// wakes before the next poll count as one) and never after it returned true.
type Task interface {
	Poll(w Waker) (done bool)
}

// Spawn hands t to the loop, which polls it once soon and again each time
// the waker it was given is woken. Until Poll returns true the task counts as
// work and keeps Run from returning. Spawn is safe from any goroutine and
// never blocks; on a closed loop, or with a nil t, it does nothing.
func (l *Loop) Spawn(t Task) {
	if t == nil || !l.addWork() {
		return
	}
	lt := &loopTask{l: l, t: t}
	lt.pollFn = lt.poll
	lt.Wake()
}

// loopTask is a spawned task and its own waker.
type loopTask struct {
	l      *Loop
	t      Task
	pollFn func()      // lt.poll, made once
	queued atomic.Bool // a poll is posted and has not started
	done   bool        // touched only on the loop goroutine
}

// Wake schedules a poll unless one is already scheduled.
func (lt *loopTask) Wake() {
	if lt.queued.CompareAndSwap(false, true) {
		lt.l.Post(lt.pollFn)
	}
}

func (lt *loopTask) poll() {
	lt.queued.Store(false)
	if lt.done {
		return
	}
	finished := true // if Poll panics, the task is over
	defer func() {
		if finished {
			lt.done = true
			lt.t = nil
			lt.l.doneWork()
		}
	}()
	finished = lt.t.Poll(lt)
}

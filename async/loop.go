package async

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrLoopClosed is returned by Run and RunUntilComplete on a closed loop.
var ErrLoopClosed = errors.New("async: loop closed")

// ErrLoopRunning is returned by Run and RunUntilComplete when another
// goroutine is already running the loop.
var ErrLoopRunning = errors.New("async: loop already running")

// Loop is a single-threaded event loop, the Vela runtime's executor.
// Callbacks posted with Post, timers from AfterFunc, tasks from Spawn and
// continuations from On all run one at a time, in the goroutine that calls
// Run, so they may share state without locks.
//
// Post, AfterFunc, Spawn, On, Hold and Close are safe to call from any
// goroutine, including from callbacks; none of them blocks. Only one
// goroutine runs the loop at a time. A panic in a callback or task unwinds
// Run on its goroutine; the loop stays consistent and may be run again.
type Loop struct {
	wake chan struct{} // capacity 1: "look at the queue again"

	// closed is set once, by Close, under mu; it is read under mu where the
	// decision must agree with the queue, and without it between callbacks.
	closed atomic.Bool

	mu      sync.Mutex
	queue   []func() // FIFO
	spare   []func() // the last batch's slice, for reuse
	waiting bool     // Run waits on wake; the next Post must signal
	pending int      // timers, tasks and On continuations not finished yet
	timers  map[*loopTimer]struct{}
	running bool
}

// NewLoop returns an empty loop. A loop holds no goroutine; the one that
// calls Run does the work.
func NewLoop() *Loop {
	return &Loop{wake: make(chan struct{}, 1)}
}

func (l *Loop) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Post queues fn to run on the loop, after every callback posted before it.
// It never blocks. It returns false, and fn will not run, if fn is nil or the
// loop is closed.
func (l *Loop) Post(fn func()) bool {
	if fn == nil {
		return false
	}
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return false
	}
	l.queue = append(l.queue, fn)
	wake := l.waiting
	l.waiting = false
	l.mu.Unlock()
	if wake {
		l.signal()
	}
	return true
}

// addWork counts one more timer, task or continuation that keeps Run from
// returning. It reports false on a closed loop.
func (l *Loop) addWork() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return false
	}
	l.pending++
	return true
}

// doneWork is the end of what addWork counted.
func (l *Loop) doneWork() {
	l.mu.Lock()
	l.pending--
	l.mu.Unlock()
	l.signal()
}

// Run runs callbacks, timers, tasks and continuations on the calling
// goroutine until there is no work left, then returns nil. Work left means a
// queued callback, a timer not yet fired or stopped, a spawned task not yet
// done, an On continuation whose future has not settled, or a Hold not yet
// released: Run waits for those rather than return early. If ctx ends first, Run returns ctx.Err()
// and leaves the remaining work queued for a later Run. Run returns
// ErrLoopClosed if the loop is or becomes closed, and ErrLoopRunning if
// another goroutine is running it.
func (l *Loop) Run(ctx context.Context) error {
	return l.run(ctx, nil)
}

func (l *Loop) run(ctx context.Context, until func() bool) error {
	l.mu.Lock()
	switch {
	case l.closed.Load():
		l.mu.Unlock()
		return ErrLoopClosed
	case l.running:
		l.mu.Unlock()
		return ErrLoopRunning
	}
	l.running = true
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.running = false
		l.mu.Unlock()
	}()
	var ctxDone <-chan struct{}
	if ctx != nil {
		ctxDone = ctx.Done()
	}
	for {
		if until != nil && until() {
			return nil
		}
		if ctxDone != nil {
			select {
			case <-ctxDone:
				return ctx.Err()
			default:
			}
		}
		l.mu.Lock()
		if l.closed.Load() {
			l.mu.Unlock()
			return ErrLoopClosed
		}
		if len(l.queue) > 0 {
			batch := l.queue
			l.queue, l.spare = l.spare[:0], nil
			l.mu.Unlock()
			if stop, err := l.runBatch(ctx, ctxDone, batch, until); stop {
				return err
			}
			continue
		}
		if l.pending == 0 && until == nil {
			l.mu.Unlock()
			return nil
		}
		l.waiting = true
		l.mu.Unlock()
		select {
		case <-l.wake:
		case <-ctxDone:
			return ctx.Err()
		}
	}
}

// runBatch runs the callbacks of batch in order, checking between them that
// the loop should go on. What it did not run (it stopped, or a callback
// panicked) goes back to the front of the queue unless the loop is closed.
func (l *Loop) runBatch(ctx context.Context, ctxDone <-chan struct{}, batch []func(), until func() bool) (stop bool, err error) {
	i := 0
	defer func() {
		rest := batch[i:]
		l.mu.Lock()
		if len(rest) == 0 {
			l.spare = batch[:0]
		} else if !l.closed.Load() {
			l.queue = append(slices.Clone(rest), l.queue...)
		}
		l.mu.Unlock()
	}()
	for i < len(batch) {
		fn := batch[i]
		batch[i] = nil // do not keep the closure alive
		i++
		fn()
		switch {
		case l.closed.Load():
			return true, ErrLoopClosed
		case until != nil && until():
			return true, nil
		case ctxDone != nil:
			select {
			case <-ctxDone:
				return true, ctx.Err()
			default:
			}
		}
	}
	return false, nil
}

// Close closes the loop: queued callbacks are dropped, timers are stopped,
// later Post calls return false, and later Spawn, On and AfterFunc calls do
// nothing. A Run in progress returns ErrLoopClosed after the callback it is
// running, if any. Close does not wait; a second Close does nothing.
func (l *Loop) Close() {
	l.mu.Lock()
	l.closed.Store(true)
	l.queue, l.spare = nil, nil
	timers := l.timers
	l.timers = nil
	l.mu.Unlock()
	for t := range timers {
		t.t.Stop()
	}
	l.signal()
}

// loopTimer is one AfterFunc call. state moves once from 0 to stopped (by
// stop) or to fired (on the loop); whoever moves it ends the pending work.
type loopTimer struct {
	l     *Loop
	fn    func()
	t     *time.Timer
	state atomic.Uint32
}

const (
	timerStopped = 1
	timerFired   = 2
)

// AfterFunc arranges for fn to run on the loop once d has elapsed; until
// then the timer counts as work and keeps Run from returning. stop cancels
// it and returns true if that prevented fn from running, even when the timer
// had fired and its callback was still waiting in the loop's queue; it
// returns false if fn has already run or the timer was already stopped. A
// nil fn or a closed loop gives a stop that does nothing and returns false.
func (l *Loop) AfterFunc(d time.Duration, fn func()) (stop func() bool) {
	if fn == nil || !l.addWork() {
		return func() bool { return false }
	}
	lt := &loopTimer{l: l, fn: fn}
	l.mu.Lock()
	if l.timers == nil {
		l.timers = make(map[*loopTimer]struct{})
	}
	l.timers[lt] = struct{}{}
	lt.t = time.AfterFunc(d, func() { l.Post(lt.fire) })
	l.mu.Unlock()
	return lt.stop
}

func (lt *loopTimer) forget() {
	lt.l.mu.Lock()
	delete(lt.l.timers, lt)
	lt.l.mu.Unlock()
	lt.l.doneWork()
}

func (lt *loopTimer) fire() {
	if lt.state.CompareAndSwap(0, timerFired) {
		lt.forget()
		fn := lt.fn
		lt.fn = nil
		fn()
	}
}

func (lt *loopTimer) stop() bool {
	if !lt.state.CompareAndSwap(0, timerStopped) {
		return false
	}
	lt.t.Stop()
	lt.fn = nil
	lt.forget()
	return true
}

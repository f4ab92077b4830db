package jsloop

import (
	"context"
	"time"

	"github.com/dop251/goja"
)

// run is everything that lives for one RunScript: its context, its first
// failure, the work that keeps it alive, its timers and the rejections not
// handled yet. It is made by RunScript and dropped when RunScript returns;
// a callback of an ended run finds that its run is no longer r.cur and does
// nothing. Touched on the loop goroutine only, but for ctx and cancel.
type run struct {
	r       *Runtime
	ctx     context.Context         // ends when the run ends; its cause says why
	cancel  context.CancelCauseFunc // ends ctx
	taskCtx context.Context         // ctx's values, never cancelled: the parent of tasks

	failErr   error           // the first error that ends the run
	refs      int             // calls, timers and awaits keeping the run alive
	release   func()          // the loop's Hold while refs > 0
	live      *call           // spawn and spawnJS calls not finished
	rejected  []*goja.Promise // rejected with no handler, in order
	timers    timerQueue
	turnStart time.Time               // when the current turn began: the "now" of new timers
	enders    []runEnder              // streams and iterators to tell when the run ends
	ops       map[*pendingOp]struct{} // Channel operations on the loop still pending
}

func (r *Runtime) newRun(ctx context.Context) *run {
	rn := &run{r: r}
	rn.ctx, rn.cancel = context.WithCancelCause(ctx)
	rn.taskCtx = context.WithoutCancel(rn.ctx)
	return rn
}

// active reports whether rn is the Runtime's current run and has not
// ended: only then may its callbacks touch the VM.
func (rn *run) active() bool {
	return rn.r.cur == rn && rn.failErr == nil && rn.ctx.Err() == nil
}

// fail ends the run with err, unless it has ended already (then the first
// reason stands: a failure, the ctx, Close).
func (rn *run) fail(err error) {
	if rn.failErr != nil || rn.ctx.Err() != nil {
		return
	}
	rn.failErr = err
	rn.cancel(err)
}

// failJS ends the run with the error goja returned, unless it is the
// interrupt of the run's own ending.
func (rn *run) failJS(err error) {
	if rn.ctx.Err() != nil && isUncatchable(err) {
		return
	}
	rn.fail(exceptionError(rn.r.guard, err))
}

// ref counts one more thing (a call, a timer, an Await) that keeps the run
// going; unref ends it. While the count is positive the run holds the loop
// once (async.Loop.Hold).
func (rn *run) ref() {
	if rn.refs == 0 {
		rn.release = rn.r.loop.Hold()
	}
	rn.refs++
}

func (rn *run) unref() {
	if rn.refs == 0 {
		return
	}
	rn.refs--
	if rn.refs == 0 {
		rn.release()
		rn.release = nil
	}
}

// turn runs fn, one loop turn that touches the VM, if the run is still
// active. Like libuv's loop time, the turn's start is the "now" from which
// the timers it makes count their delay, so that the order of timers made
// by one synchronous block does not depend on how long it ran. goja drains
// its microtask queue when the outermost call into the VM returns, so by
// the end of fn every microtask has run; turn then reports a promise
// rejected with no handler.
func (rn *run) turn(fn func()) {
	if !rn.active() {
		return
	}
	rn.turnStart = time.Now()
	defer func() { rn.turnStart = time.Time{} }() // outside a turn, timers count from time.Now()
	fn()
	if len(rn.rejected) > 0 && rn.failErr == nil {
		p := rn.rejected[0]
		rn.rejected = rn.rejected[:0]
		e := describe(rn.r.guard, p.Result(), "")
		if e.Name == "" {
			e.Message = "unhandled promise rejection: " + e.Message
		}
		rn.fail(e)
	}
}

// end is the end of the run, on the loop goroutine: every call not
// finished is cancelled with cause (queued tasks never run, running ones
// see their context end), the timers are dropped and the loop's hold is
// released.
func (rn *run) end(cause error) {
	for c := rn.live; c != nil; {
		next := c.next
		c.held, c.prev, c.next = false, nil, nil
		c.f.CancelWithCause(cause)
		c = next
	}
	rn.live = nil
	enders := rn.enders
	rn.enders = nil
	for _, e := range enders {
		e.endRun(cause)
	}
	for op := range rn.ops {
		op.ended = true
		op.cancel()
	}
	rn.ops = nil
	rn.timers.stop()
	if rn.release != nil {
		rn.release()
		rn.release = nil
	}
	rn.refs = 0
	rn.rejected = nil
	rn.cancel(cause)
}

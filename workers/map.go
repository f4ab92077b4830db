package workers

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/channel"
	"github.com/velalang/runtime/internal/safecall"
)

// Map runs fn on the pool for each value received from in, at most the
// pool's MaxWorkers calls at a time (per Map; the pool still bounds
// everything it runs), and returns at once a channel that delivers the
// results in input order. It takes at most twice MaxWorkers values from in
// ahead of the consumer (the running calls and as many ready to start), and
// holds at most that many results besides the output channel's buffer
// (DefaultBuffer unless WithBuffer says otherwise).
// WithRunTimeout bounds each call (each attempt, with WithRetry), and
// WithTimeout each call from the moment its value was taken from in, both
// with a *TimeoutError that is also the cause of the call's context;
// WithName names the calls in errors; WithRetry retries each call on its
// own.
//
// Map owns in: it closes that handle when it stops. The first failure in
// time (an error, panic, Goexit or timeout of a call) ends the output with
// a *TaskError whose Index is the value's position in the input (from 0),
// after an in-order prefix of the results before it; nothing after it is
// delivered, the contexts of running calls end, and in is closed, so
// upstream senders get channel.ErrClosed. An error that ends in (its
// CloseWithError error) ends the output with that error itself, after the
// results of every value before it. When ctx ends, the output ends with an
// error that matches async.ErrCancelled and wraps context.Cause(ctx), as
// the future of a Spawn would. Closing every receiver of the output stops
// Map the same way: running calls' contexts end, in is closed.
//
// A nil ctx, in or fn, or a bad option, gives a receiver whose first
// receive returns an error wrapping ErrInvalidArgument (in, if not nil, is
// closed); a pool that refuses work (closed, queue full) ends the output
// with its error.
//
// Cost: the calls run on MaxWorkers tasks of the pool that each take value
// after value (so the pool's statistics count those tasks, not the calls),
// plus two goroutines of Map's own that end when it stops; a call costs no
// allocation of Map's beyond what fn and the channels need, and one
// context per call when a timeout is set.
func Map[A, R any](ctx context.Context, in *channel.Receiver[A], fn func(context.Context, A) (R, error), opts ...Option) *channel.Receiver[R] {
	s, err := ReadOptions(opts...)
	capacity := s.Buffer
	if capacity < 0 {
		capacity = DefaultBuffer
	}
	tx, rx := channel.New[R](capacity)
	switch {
	case err != nil:
	case ctx == nil:
		err = invalid("Map with a nil context")
	case in == nil:
		err = invalid("Map with a nil input")
	case fn == nil:
		err = invalid("Map with a nil function")
	}
	if err != nil {
		if in != nil {
			in.Close()
		}
		tx.CloseWithError(err)
		return rx
	}
	pool := s.Pool
	if pool == nil {
		pool = Default()
	}
	limit := max(pool.MaxWorkers(), 1)
	window := 2 * limit // values taken ahead: the running calls and as many ready for the next
	m := &mapper[A, R]{
		parent:     ctx,
		in:         in,
		out:        tx,
		fn:         fn,
		name:       s.Name,
		timeout:    s.Timeout,
		runTimeout: s.RunTimeout,
		retry:      s.Retry,
		free:       make(chan struct{}, window),
		jobs:       make(chan mapJob[A], window),
		pending:    make(chan int, window),
		slots:      make([]mapSlot[R], window),
	}
	for i := range m.slots {
		m.slots[i].done = make(chan struct{}, 1)
	}
	m.ctx, m.cancel = context.WithCancelCause(ctx)
	m.stopGone = tx.OnReceiversClosed(func() { m.cancel(channel.ErrClosed) })
	m.pool, m.limit = pool, int32(limit)
	go m.feed()
	go m.emit()
	return rx
}

// mapper is one Map. feed takes values from in and hands them to the
// runners, tasks of the pool that call fn and leave each result in its
// slot; emit delivers the results in order and decides how the output
// ends.
type mapper[A, R any] struct {
	parent   context.Context
	ctx      context.Context // ends when Map stops; the runners' parent
	cancel   context.CancelCauseFunc
	stopGone func() bool
	in       *channel.Receiver[A]
	out      *channel.Sender[R]
	fn       func(context.Context, A) (R, error)

	pool    *Pool
	limit   int32        // MaxWorkers: the most runners at once
	running atomic.Int32 // runners started and not yet leaving

	name       string
	timeout    time.Duration // WithTimeout: per call, from the moment its value was taken
	runTimeout time.Duration // WithRunTimeout: per call attempt
	retry      RetryPolicy

	free    chan struct{}  // one token per value taken and not yet delivered: the window
	jobs    chan mapJob[A] // values for the runners; closed by feed
	pending chan int       // the indexes taken, in order; closed by feed
	slots   []mapSlot[R]   // result i is in slots[i%len(slots)]

	end   atomic.Pointer[error] // the first failure (a *TaskError) or stop, first wins
	inErr error                 // written by feed before it closes pending: the error that ended in
}

// mapJob is one value to call fn with, and its position in the input.
type mapJob[A any] struct {
	i     int
	v     A
	taken time.Time // when a WithTimeout is set
}

// mapSlot holds one result from the runner that made it to emit, which
// takes it after done.
type mapSlot[R any] struct {
	done chan struct{} // capacity 1
	r    R
	err  error
}

func (m *mapper[A, R]) feed() {
	defer close(m.pending)
	defer close(m.jobs)
	for i := 0; ; i++ {
		select {
		case m.free <- struct{}{}:
		case <-m.ctx.Done():
			return
		}
		if m.ctx.Err() != nil {
			return // a free slot and a stop at once: take nothing more
		}
		v, err := m.in.Recv(m.ctx)
		if err != nil {
			if m.ctx.Err() == nil && err != channel.ErrClosed {
				m.inErr = err
			}
			return
		}
		j := mapJob[A]{i: i, v: v}
		if m.timeout > 0 {
			j.taken = time.Now()
		}
		m.jobs <- j
		m.pending <- i
		if m.claimRunner() {
			m.startRunner()
		}
	}
}

// claimRunner counts one more runner if fewer than limit run.
func (m *mapper[A, R]) claimRunner() bool {
	for {
		n := m.running.Load()
		if n >= m.limit {
			return false
		}
		if m.running.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// startRunner submits a runner to the pool; if the pool refuses it or
// cancels it (CancelAll, Close), Map stops with that error.
func (m *mapper[A, R]) startRunner() {
	f := Spawn(m.ctx, m.runner, OnPool(m.pool), WithName(m.name))
	whenSettled(f, func(_ struct{}, err error) {
		if err != nil && m.ctx.Err() == nil {
			m.stop(err)
		}
	})
}

// runner is one task of the pool that calls fn for value after value. It
// leaves as soon as no value waits, so that it holds no worker while Map
// waits (for its input or its consumer, who may need that worker); feed
// starts runners again as values come.
func (m *mapper[A, R]) runner(ctx context.Context) (struct{}, error) {
	rs := &mapRunner[A, R]{m: m}
	for {
		select {
		case j, ok := <-m.jobs:
			if !ok {
				m.running.Add(-1)
				return struct{}{}, nil
			}
			rs.i = j.i
			r, err := rs.call(ctx, j)
			slot := &m.slots[j.i%len(m.slots)]
			slot.r, slot.err = r, err
			slot.done <- struct{}{}
			if err != nil {
				m.running.Add(-1)
				if ctx.Err() == nil { // otherwise Map is stopping anyway, and says why
					m.fail(j.i, err)
				}
				return struct{}{}, nil
			}
		case <-ctx.Done():
			m.running.Add(-1)
			return struct{}{}, nil
		default:
			// The feeder is usually a moment behind: yield a few times
			// before giving the worker back.
			for range runnerYields {
				runtime.Gosched()
				if len(m.jobs) > 0 {
					break
				}
			}
			if len(m.jobs) > 0 {
				continue
			}
			m.running.Add(-1)
			// A value that came after the select and before the count
			// went down: feed may have seen every runner busy, so stay
			// for it unless another runner is there to take it.
			if len(m.jobs) == 0 || !m.claimRunner() {
				return struct{}{}, nil
			}
		}
	}
}

// runnerYields is how many times an idle runner yields the processor,
// looking for a value in between, before it leaves (see BenchmarkMap in
// bench/channels).
const runnerYields = 4

// mapRunner is a runner's state for safecall: the index of the call it
// is making, for a Goexit.
type mapRunner[A, R any] struct {
	m *mapper[A, R]
	i int
}

type mapArg[A any] struct {
	ctx context.Context
	v   A
}

func (rs *mapRunner[A, R]) invoke(a mapArg[A]) (R, error) { return rs.m.fn(a.ctx, a.v) }

// Goexited fails the Map with async.ErrGoexit for the call that made it.
func (rs *mapRunner[A, R]) Goexited() { rs.m.fail(rs.i, async.ErrGoexit) }

// call calls fn for j, with its timeouts and retries: a panic becomes a
// *PanicError, a deadline that passed a *TimeoutError.
func (rs *mapRunner[A, R]) call(ctx context.Context, j mapJob[A]) (R, error) {
	m := rs.m
	var zero R
	if m.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadlineCause(ctx, j.taken.Add(m.timeout), &TimeoutError{Name: m.name, Timeout: m.timeout})
		defer cancel()
	}
	for attempt := 1; ; attempt++ {
		cctx, cancel := ctx, context.CancelFunc(nil)
		if m.runTimeout > 0 {
			cctx, cancel = context.WithTimeoutCause(ctx, m.runTimeout, &TimeoutError{Name: m.name, Timeout: m.runTimeout, Run: true})
		}
		r, rec, err := safecall.Call(rs.invoke, mapArg[A]{cctx, j.v}, rs)
		if rec != nil {
			err = &PanicError{Value: rec.Value, Stack: rec.Stack}
		}
		var te *TimeoutError
		if cctx.Err() != nil {
			te, _ = context.Cause(cctx).(*TimeoutError) // the deadline wins over what fn returned
		}
		if cancel != nil {
			cancel()
		}
		switch {
		case te != nil:
			return zero, te
		case err == nil:
			return r, nil
		case ctx.Err() != nil:
			return zero, err
		}
		wait, again, final := m.retry.Next(attempt, err)
		if !again {
			return zero, final
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return zero, final
		}
	}
}

// fail records the first failure and stops the calls still running.
func (m *mapper[A, R]) fail(i int, err error) {
	m.stop(&TaskError{Index: i, Name: m.name, Err: err, inMap: true})
}

// stop records why Map stops, if nothing did before, and ends the
// runners' context.
func (m *mapper[A, R]) stop(err error) {
	if m.end.CompareAndSwap(nil, &err) {
		m.cancel(err)
	}
}

func (m *mapper[A, R]) emit() {
	end := m.run()
	m.stopGone()
	m.out.CloseWithError(end)
	m.in.Close()
	m.cancel(end)
	for range m.pending {
		// feed has stopped taking values: let it finish
	}
}

// run delivers the results in order until Map stops, and returns how the
// output ends (nil: normally).
func (m *mapper[A, R]) run() error {
	var zero R
	for i := range m.pending {
		slot := &m.slots[i%len(m.slots)]
		select {
		case <-slot.done:
		case <-m.ctx.Done():
			return m.stopped()
		}
		r, err := slot.r, slot.err
		slot.r, slot.err = zero, nil
		if err != nil && m.ctx.Err() == nil {
			m.fail(i, err)
		}
		if end := m.stopped(); end != nil {
			return end
		}
		if err := m.out.Send(m.ctx, r); err != nil {
			if end := m.stopped(); end != nil {
				return end
			}
			return err
		}
		<-m.free
	}
	if end := m.stopped(); end != nil {
		return end
	}
	return m.inErr
}

// stopped returns the error that ends the output if Map must stop now:
// the first failure, the parent's end, or every receiver gone.
func (m *mapper[A, R]) stopped() error {
	if e := m.end.Load(); e != nil {
		return *e
	}
	if m.parent.Err() != nil {
		return fmt.Errorf("workers: Map: %w: %w", async.ErrCancelled, context.Cause(m.parent))
	}
	if m.ctx.Err() != nil {
		return channel.ErrClosed // every receiver of the output closed
	}
	return nil
}

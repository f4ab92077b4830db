package workers

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/channel"
)

// Map runs fn on the pool for each value received from in, at most the
// pool's MaxWorkers calls at a time (per Map; the pool still bounds
// everything it runs), and returns at once a channel that delivers the
// results in input order. It takes at most MaxWorkers values from in ahead
// of the consumer, and holds at most that many results besides the output
// channel's buffer (DefaultBuffer unless WithBuffer says otherwise).
// WithTimeout and WithRunTimeout apply to each call, WithName names each,
// WithRetry retries each.
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
// closed). Map's own work runs on two goroutines that end when it stops.
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
	m := &mapper[A, R]{
		parent:  ctx,
		in:      in,
		out:     tx,
		fn:      fn,
		opts:    opts,
		name:    s.Name,
		slots:   make(chan struct{}, limit),
		pending: make(chan mapCall[R], limit),
	}
	m.ctx, m.cancel = context.WithCancelCause(ctx)
	m.stopGone = tx.OnReceiversClosed(func() { m.cancel(channel.ErrClosed) })
	go m.feed()
	go m.emit()
	return rx
}

// mapper is one Map. feed takes values from in and spawns the calls; emit
// delivers their results in order and decides how the output ends.
type mapper[A, R any] struct {
	parent   context.Context
	ctx      context.Context // ends when Map stops; the calls' parent
	cancel   context.CancelCauseFunc
	stopGone func() bool
	in       *channel.Receiver[A]
	out      *channel.Sender[R]
	fn       func(context.Context, A) (R, error)
	opts     []Option
	name     string

	slots   chan struct{}   // one per call spawned and not yet delivered: the window
	pending chan mapCall[R] // the calls in input order; closed by feed
	failed  atomic.Pointer[TaskError]
	inErr   error // written by feed before it closes pending: the error that ended in
}

// mapCall is one call of fn: its position in the input and its future.
type mapCall[R any] struct {
	i int
	f *async.Future[R]
}

func (m *mapper[A, R]) feed() {
	defer close(m.pending)
	for i := 0; ; i++ {
		select {
		case m.slots <- struct{}{}:
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
		f := Spawn(m.ctx, func(ctx context.Context) (R, error) { return m.fn(ctx, v) }, m.opts...)
		whenSettled(f, func(_ R, err error) {
			if err != nil && f.State() == async.Rejected {
				m.fail(i, err)
			}
		})
		m.pending <- mapCall[R]{i, f}
	}
}

// fail records the first failure and stops the calls still running.
func (m *mapper[A, R]) fail(i int, err error) {
	if m.failed.CompareAndSwap(nil, &TaskError{Index: i, Name: m.name, Err: err}) {
		m.cancel(m.failed.Load())
	}
}

func (m *mapper[A, R]) emit() {
	end := m.run()
	m.stopGone()
	m.out.CloseWithError(end)
	m.in.Close()
	m.cancel(end)
	for c := range m.pending {
		c.f.Cancel() // feed has stopped taking values: drop what it spawned last
	}
}

// run delivers the results in order until Map stops, and returns how the
// output ends (nil: normally).
func (m *mapper[A, R]) run() error {
	for c := range m.pending {
		r, err := c.f.Await(context.Background()) // a call's future settles when m.ctx ends
		if err != nil && c.f.State() == async.Rejected {
			m.fail(c.i, err)
		}
		if end := m.stopped(); end != nil {
			return end
		}
		if err != nil { // cancelled by the pool (CancelAll, Close): a failure too
			m.fail(c.i, err)
			return m.failed.Load()
		}
		if err := m.out.Send(m.ctx, r); err != nil {
			if end := m.stopped(); end != nil {
				return end
			}
			return err
		}
		<-m.slots
	}
	if end := m.stopped(); end != nil {
		return end
	}
	return m.inErr
}

// stopped returns the error that ends the output if Map must stop now:
// the first failure, or the parent's end.
func (m *mapper[A, R]) stopped() error {
	if f := m.failed.Load(); f != nil {
		return f
	}
	if m.parent.Err() != nil {
		return m.cancelledError()
	}
	if m.ctx.Err() != nil {
		return channel.ErrClosed // every receiver of the output closed
	}
	return nil
}

func (m *mapper[A, R]) cancelledError() error {
	return fmt.Errorf("workers: Map: %w: %w", async.ErrCancelled, context.Cause(m.parent))
}

package workers

import (
	"context"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/channel"
)

// Stream runs fn on the pool, as Spawn does (with the same options:
// OnPool, WithName, WithTimeout, WithRunTimeout, WithDelay), and returns at
// once the receiving end of a channel that fn sends into through out. Its
// capacity is DefaultBuffer unless WithBuffer says otherwise.
//
// When fn returns nil the channel closes normally, even if fn cloned out
// (a clone used afterwards gets channel.ErrClosed). When fn returns an
// error, panics, calls runtime.Goexit or times out, receivers get the
// values already sent, then that error (fn's own, a *PanicError,
// async.ErrGoexit, a *TimeoutError). When ctx ends, they get an error that
// matches async.ErrCancelled and wraps context.Cause(ctx), as the future of
// a Spawn would. When every receiver handle is closed, fn's ctx ends with a
// cause that matches channel.ErrClosed and its sends return
// channel.ErrClosed; a Stream still queued then never runs.
//
// A refused Stream (a nil ctx or fn, a bad option, a closed pool, a full
// queue) returns a receiver whose first receive gives that error. WithRetry
// is refused too: a retried fn would send its values again.
func Stream[T any](ctx context.Context, fn func(ctx context.Context, out *channel.Sender[T]) error, opts ...Option) *channel.Receiver[T] {
	s, err := ReadOptions(opts...)
	capacity := s.Buffer
	if capacity < 0 {
		capacity = DefaultBuffer
	}
	tx, rx := channel.New[T](capacity)
	switch {
	case err != nil:
	case ctx == nil:
		err = invalid("Stream with a nil context")
	case fn == nil:
		err = invalid("Stream with a nil function")
	case s.Retry.MaxAttempts > 1:
		err = invalid("Stream with WithRetry: a retried function would send its values again")
	}
	if err != nil {
		tx.CloseWithError(err)
		return rx
	}
	sctx, cancel := context.WithCancelCause(ctx)
	stop := tx.OnReceiversClosed(func() { cancel(channel.ErrClosed) })
	f := Spawn(sctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx, tx) }, opts...)
	whenSettled(f, func(_ struct{}, err error) {
		stop()
		tx.CloseWithError(err) // nil: a normal close, whatever clones fn made
		cancel(nil)
	})
	return rx
}

// whenSettled calls fn with f's outcome once f settles: at once if it has,
// otherwise on the goroutine that settles it.
func whenSettled[T any](f *async.Future[T], fn func(T, error)) {
	w := async.WakerFunc(func() {
		r, _ := f.Result()
		fn(r.Value, r.Err)
	})
	if p := f.Poll(w); p.IsReady() {
		fn(p.Value(), p.Err())
	}
}

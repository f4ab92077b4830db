package async

import (
	"fmt"

	"github.com/velalang/runtime/internal/safecall"
)

// Then returns a future for fn applied to f's value. If f fails, fn does
// not run and the result rejects with f's error. If fn panics or calls
// runtime.Goexit, the result rejects with a *PanicError or ErrGoexit. A nil
// f or fn rejects the result with an error wrapping ErrInvalidArgument.
// Cancelling the result does not cancel f; it only drops fn's outcome.
//
// fn runs once, inline on the goroutine that settles f (or on the caller,
// if f has already settled), as Java's thenApply runs on the completing
// thread: that goroutine may be a pool's worker, a timer, the goroutine of
// a parent context's AfterFunc, or the caller of Cancel, CancelAll, Close
// or Shutdown. So fn should be quick, and must not wait for something that
// needs the goroutine it runs on: a continuation on a worker holds that
// worker's slot while it runs, so waiting there for another task of the
// same pool deadlocks when every slot is held; hand heavy or blocking work
// to a worker with Spawn instead. A Goexit in fn ends the goroutine fn ran
// on (a worker is then replaced, a loop's Run unwinds), after every other
// waiter of f is released; the library's own state stays consistent, since
// it runs continuations only once its bookkeeping is done.
func Then[T, U any](f *Future[T], fn func(T) (U, error)) *Future[U] {
	p, out := NewPromise[U]()
	if f == nil || fn == nil {
		p.Reject(fmt.Errorf("async: Then with a nil future or function: %w", ErrInvalidArgument))
		return out
	}
	f.subscribe(WakerFunc(func() {
		if f.err != nil {
			p.Reject(f.err)
			return
		}
		v, r, err := safecall.Call(fn, f.value, goexitRejecter[U]{p})
		switch {
		case r != nil:
			p.Reject(&PanicError{Value: r.Value, Stack: r.Stack})
		case err != nil:
			p.Reject(err)
		default:
			p.Resolve(v)
		}
	}))
	return out
}

// goexitRejecter rejects a promise whose producer called runtime.Goexit.
type goexitRejecter[T any] struct{ p *Promise[T] }

func (g goexitRejecter[T]) Goexited() { g.p.Reject(ErrGoexit) }

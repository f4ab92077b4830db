package async

import (
	"fmt"

	"github.com/velalang/runtime/internal/safecall"
)

// Then returns a future for fn applied to f's value. fn runs once, on the
// goroutine that settles f (or on the caller, if f has already settled), so
// it should be quick; hand heavy work to a worker instead. If f fails, fn
// does not run and the result rejects with f's error. If fn panics or calls
// runtime.Goexit, the result rejects with a *PanicError or ErrGoexit; a
// Goexit still ends the goroutine fn ran on (a worker is then replaced, a
// loop's Run unwinds), after every other waiter of f is released. A nil f
// or fn rejects the result with an error wrapping ErrInvalidArgument.
// Cancelling the result does not cancel f; it only drops fn's outcome.
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

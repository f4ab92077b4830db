package async

import (
	"fmt"
	"sync/atomic"
)

// All returns a future fulfilled with the values of fs, in input order, once
// every one is fulfilled. It rejects at once with the error of the first
// input to fail (a cancelled input counts as failed, with its cancellation
// error). With no inputs it is fulfilled at once with an empty slice; a nil
// input rejects it with an error wrapping ErrInvalidArgument.
//
// All starts no goroutine: the input that settles last does the work.
// Cancelling the returned future does not cancel the inputs, which may be
// shared; cancel them yourself if they are yours.
func All[T any](fs ...*Future[T]) *Future[[]T] {
	p, out := NewPromise[[]T]()
	if err := checkInputs("All", fs, true); err != nil {
		p.Reject(err)
		return out
	}
	vals := make([]T, len(fs))
	if len(fs) == 0 {
		p.Resolve(vals)
		return out
	}
	var left atomic.Int64
	left.Store(int64(len(fs)))
	for i, f := range fs {
		f.subscribe(WakerFunc(func() {
			if f.err != nil {
				p.Reject(f.err)
				return
			}
			vals[i] = f.value
			if left.Add(-1) == 0 {
				p.Resolve(vals)
			}
		}))
	}
	return out
}

// AllSettled returns a future fulfilled, once every input has settled, with
// each input's outcome in input order. It never rejects; a nil input's
// outcome is an error wrapping ErrInvalidArgument.
func AllSettled[T any](fs ...*Future[T]) *Future[[]Result[T]] {
	p, out := NewPromise[[]Result[T]]()
	rs := make([]Result[T], len(fs))
	var left atomic.Int64
	left.Store(int64(len(fs)) + 1)
	finish := func() {
		if left.Add(-1) == 0 {
			p.Resolve(rs)
		}
	}
	for i, f := range fs {
		if f == nil {
			rs[i].Err = fmt.Errorf("async: AllSettled: input %d is nil: %w", i, ErrInvalidArgument)
			finish()
			continue
		}
		f.subscribe(WakerFunc(func() {
			rs[i] = Result[T]{Value: f.value, Err: f.err}
			finish()
		}))
	}
	finish()
	return out
}

// checkInputs reports a nil input, and no input at all unless emptyOK.
func checkInputs[T any](name string, fs []*Future[T], emptyOK bool) error {
	if len(fs) == 0 && !emptyOK {
		return fmt.Errorf("async: %s of no futures: %w", name, ErrInvalidArgument)
	}
	for i, f := range fs {
		if f == nil {
			return fmt.Errorf("async: %s: input %d is nil: %w", name, i, ErrInvalidArgument)
		}
	}
	return nil
}

package async

import (
	"strings"
	"sync/atomic"
)

// AggregateError is the error of [Any] when every input failed. Errors holds
// the inputs' errors in input order, and errors.Is and errors.As reach each
// of them.
type AggregateError struct {
	Errors []error
}

func (e *AggregateError) Error() string {
	var b strings.Builder
	b.WriteString("async: all futures failed")
	for i, err := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap returns the inputs' errors.
func (e *AggregateError) Unwrap() []error { return e.Errors }

// Any returns a future fulfilled with the value of the first input to be
// fulfilled. If every input fails, it rejects with an *AggregateError that
// holds their errors in input order. With no inputs, or a nil input, it
// rejects at once with an error wrapping ErrInvalidArgument. Cancelling the
// result does not cancel the inputs.
func Any[T any](fs ...*Future[T]) *Future[T] {
	p, out := NewPromise[T]()
	if err := checkInputs("Any", fs, false); err != nil {
		p.Reject(err)
		return out
	}
	errs := make([]error, len(fs))
	var left atomic.Int64
	left.Store(int64(len(fs)))
	for i, f := range fs {
		f.subscribe(WakerFunc(func() {
			if f.err == nil {
				p.Resolve(f.value)
				return
			}
			errs[i] = f.err
			if left.Add(-1) == 0 {
				p.Reject(&AggregateError{Errors: errs})
			}
		}))
	}
	return out
}

// Race returns a future that settles like the first input to settle: with
// its value, or rejected with its error (a cancelled input's error still
// matches ErrCancelled). With no inputs, or a nil input, it rejects at once
// with an error wrapping ErrInvalidArgument rather than stay pending
// forever. Cancelling the result does not cancel the inputs.
func Race[T any](fs ...*Future[T]) *Future[T] {
	p, out := NewPromise[T]()
	if err := checkInputs("Race", fs, false); err != nil {
		p.Reject(err)
		return out
	}
	for _, f := range fs {
		f.subscribe(WakerFunc(func() {
			if f.err != nil {
				p.Reject(f.err)
			} else {
				p.Resolve(f.value)
			}
		}))
	}
	return out
}

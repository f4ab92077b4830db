package async

import (
	"context"
	"fmt"
)

// On arranges for fn to run on the loop with f's value and error once f
// settles. Until then the continuation counts as work, so Run does not
// return while f is still pending. fn runs once; on a closed loop, or with a
// nil f or fn, On does nothing. On is safe from any goroutine and never
// blocks.
func On[T any](l *Loop, f *Future[T], fn func(T, error)) {
	if f == nil || fn == nil || !l.addWork() {
		return
	}
	f.subscribe(WakerFunc(func() {
		if !l.Post(func() {
			l.doneWork()
			fn(f.value, f.err)
		}) {
			l.doneWork()
		}
	}))
}

// RunUntilComplete runs the loop on the calling goroutine until f settles,
// then returns f's value and error: the seed's executor.run_until_complete.
// Callbacks keep running while f is pending, even with no other work queued,
// because f may be settled by a worker. It returns an error wrapping
// ErrInvalidArgument for a nil f, and ErrLoopClosed or ErrLoopRunning as Run
// does, unless f has already settled.
func RunUntilComplete[T any](l *Loop, f *Future[T]) (T, error) {
	var zero T
	if f == nil {
		return zero, fmt.Errorf("async: RunUntilComplete of a nil future: %w", ErrInvalidArgument)
	}
	f.subscribe(WakerFunc(l.signal))
	if err := l.run(context.Background(), f.settled); err != nil && !f.settled() {
		return zero, err
	}
	return f.value, f.err
}

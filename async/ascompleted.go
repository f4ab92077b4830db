package async

import (
	"fmt"
	"iter"
)

// AsCompleted returns an iterator over the inputs' outcomes in the order
// they settle, each with its input index. The iterating goroutine blocks
// while no input has settled; stopping the loop early is safe and leaves no
// goroutine behind. Nil inputs come first, in input order, each with an
// error wrapping ErrInvalidArgument, before any input that has settled.
// Each iteration over the sequence waits on the inputs afresh.
func AsCompleted[T any](fs ...*Future[T]) iter.Seq2[int, Result[T]] {
	return func(yield func(int, Result[T]) bool) {
		ready := make(chan int, len(fs)) // never blocks a settling goroutine
		for i, f := range fs {
			if f == nil {
				ready <- i // before any input that has settled
			}
		}
		for i, f := range fs {
			if f != nil {
				f.subscribe(WakerFunc(func() { ready <- i }))
			}
		}
		for range len(fs) {
			i := <-ready
			var r Result[T]
			if fs[i] == nil {
				r.Err = fmt.Errorf("async: AsCompleted: input %d is nil: %w", i, ErrInvalidArgument)
			} else {
				r, _ = fs[i].Result()
			}
			if !yield(i, r) {
				return
			}
		}
	}
}

package async

// Waker is how a pending future tells an event loop to poll again. Wake is
// called once per registration, inline on the goroutine that settles the
// future (a worker, a timer, the caller of Cancel), and must not block:
// typically it posts work to the loop. If a Wake panics or calls
// runtime.Goexit, the future's other wakers are still called and its
// waiters released, and the panic or Goexit then goes on, on that
// goroutine.
type Waker interface{ Wake() }

// WakerFunc adapts a function to a [Waker].
type WakerFunc func()

// Wake calls fn.
func (fn WakerFunc) Wake() { fn() }

// Poll is the outcome of [Future.Poll]: either ready, with the future's
// value or error, or pending. The zero Poll is pending.
type Poll[T any] struct {
	ready bool
	value T
	err   error
}

// IsReady reports whether the future had settled when it was polled.
func (p Poll[T]) IsReady() bool { return p.ready }

// Value is the value the future settled with; the zero T while pending or
// when it settled with an error.
func (p Poll[T]) Value() T { return p.value }

// Err is the error the future settled with; nil while pending or when it was
// fulfilled.
func (p Poll[T]) Err() error { return p.err }

// Result is a settled future's outcome: its value, or the error that
// rejected or cancelled it.
type Result[T any] struct {
	Value T
	Err   error
}

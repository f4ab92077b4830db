package async_test

// Helpers shared by the package's tests: errors to reject with, waiting
// for a future and checking its state, futures and promises in bulk, the
// calling goroutine's id, and small Task, Waker and Observer types.

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strconv"
	"testing"

	"github.com/velalang/runtime/async"
)

// nilCtx is a nil context.Context: Await and friends treat it as
// context.Background.
var nilCtx context.Context

// errBoom is a plain error that tests reject futures with.
var errBoom = errors.New("boom")

// codeError is a typed error, to check that errors.As reaches a cause.
type codeError struct{ code int }

func (e *codeError) Error() string { return "code error" }

// await waits for f with no deadline. A future that never settles hangs the
// test, which is left to go test -timeout (or to synctest's deadlock
// detection inside a bubble).
func await[T any](t *testing.T, f *async.Future[T]) (T, error) {
	t.Helper()
	return f.Await(context.Background())
}

// wantState fails the test unless f is in state want.
func wantState[T any](t *testing.T, f *async.Future[T], want async.State) {
	t.Helper()
	if got := f.State(); got != want {
		t.Fatalf("State() = %v, want %v", got, want)
	}
}

// isClosed reports whether c is closed, without blocking.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// goid returns the calling goroutine's id, parsed from its stack header
// ("goroutine 7 [running]:"). Tests use it to check which goroutine ran a
// callback.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	b = b[:bytes.IndexByte(b, ' ')]
	id, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		panic("goid: " + err.Error())
	}
	return id
}

// promises returns n pending promises and their futures.
func promises[T any](n int) ([]*async.Promise[T], []*async.Future[T]) {
	ps := make([]*async.Promise[T], n)
	fs := make([]*async.Future[T], n)
	for i := range n {
		ps[i], fs[i] = async.NewPromise[T]()
	}
	return ps, fs
}

// settledFutures returns one future in each settled state.
func settledFutures() map[string]*async.Future[int] {
	_, c := async.NewPromise[int]()
	c.Cancel()
	return map[string]*async.Future[int]{
		"fulfilled": async.FromValue(42),
		"rejected":  async.FromError[int](errBoom),
		"cancelled": c,
	}
}

// futureTask is a Task that waits for a future, the way a coroutine would.
type futureTask struct {
	f      *async.Future[int]
	polls  int
	got    async.Result[int]
	polled chan struct{} // closed after the first poll
	loop   uint64        // the goroutine that runs the loop
}

func (t *futureTask) Poll(w async.Waker) bool {
	if goid() != t.loop {
		panic("task polled off the loop goroutine")
	}
	t.polls++
	r := t.f.Poll(w)
	if t.polls == 1 {
		close(t.polled)
	}
	if !r.IsReady() {
		return false
	}
	t.got = async.Result[int]{r.Value(), r.Err()}
	return true
}

// funcTask adapts a function to a Task.
type funcTask func(async.Waker) bool

func (f funcTask) Poll(w async.Waker) bool { return f(w) }

type observerFunc func(async.State, error)

func (o observerFunc) Settled(s async.State, err error) { o(s, err) }

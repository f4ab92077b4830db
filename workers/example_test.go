package workers_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// Spawn runs a function on a worker of the default pool and returns a
// future at once; Await waits for its value.
func ExampleSpawn() {
	ctx := context.Background()
	f := workers.Spawn(ctx, func(ctx context.Context) (int, error) {
		sum := 0
		for i := 1; i <= 100; i++ {
			sum += i
		}
		return sum, nil
	})
	sum, err := f.Await(ctx)
	fmt.Println(sum, err)
	// Output: 5050 <nil>
}

// SpawnAll runs several functions at once and collects their values in
// input order, whatever order they finish in.
func ExampleSpawnAll() {
	ctx := context.Background()
	words := []string{"go", "vela", "workers"}
	fns := make([]func(context.Context) (int, error), len(words))
	for i, w := range words {
		fns[i] = func(context.Context) (int, error) { return len(w), nil }
	}
	lengths, err := workers.SpawnAll(ctx, fns).Await(ctx)
	fmt.Println(lengths, err)
	// Output: [2 4 7] <nil>
}

// A timeout rejects the future at the deadline with a *TimeoutError, which
// generic code also recognises as context.DeadlineExceeded. The function's
// context ends at the same moment, with the TimeoutError as its cause.
func ExampleWithTimeout() {
	ctx := context.Background()
	f := workers.Spawn(ctx, func(ctx context.Context) (string, error) {
		select {
		case <-ctx.Done(): // a well-behaved function stops when told
			return "", context.Cause(ctx)
		case <-time.After(time.Hour):
			return "resized", nil
		}
	}, workers.WithName("resize"), workers.WithTimeout(20*time.Millisecond))

	_, err := f.Await(ctx)
	fmt.Println(err)
	fmt.Println(errors.Is(err, workers.ErrTimeout), errors.Is(err, context.DeadlineExceeded))
	var te *workers.TimeoutError
	if errors.As(err, &te) {
		fmt.Println(te.Name, te.Timeout)
	}
	// Output:
	// task "resize" timed out after 20ms
	// true true
	// resize 20ms
}

// Cancelling a future settles it at once and ends the function's context.
// Cancelling the context given to Spawn does the same, and the future's
// error carries the context's cause.
func Example_cancellation() {
	started := make(chan struct{})
	f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		return 0, context.Cause(ctx)
	})
	<-started
	fmt.Println("cancelled:", f.Cancel())
	_, err := f.Await(context.Background())
	fmt.Println(errors.Is(err, async.ErrCancelled), f.State())
	fmt.Println("cancelled again:", f.Cancel()) // already settled: no effect

	ctx, cancel := context.WithCancelCause(context.Background())
	g := workers.Spawn(ctx, func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	cancel(errors.New("user logged out"))
	_, err = g.Await(context.Background())
	fmt.Println(err)
	// Output:
	// cancelled: true
	// true cancelled
	// cancelled again: false
	// async: future cancelled: user logged out
}

// A function's own error reaches the caller unchanged, so errors.Is and
// errors.As work through any wrapping. A panic, such as an index out of
// range, becomes a *PanicError that unwraps to the runtime.Error.
func Example_errors() {
	ctx := context.Background()
	errNotFound := errors.New("not found")
	f := workers.Spawn(ctx, func(context.Context) (string, error) {
		return "", fmt.Errorf("loading user 42: %w", errNotFound)
	})
	_, err := f.Await(ctx)
	fmt.Println(err)
	fmt.Println(errors.Is(err, errNotFound))

	g := workers.Spawn(ctx, func(context.Context) (int, error) {
		var xs []int
		i := 3
		return xs[i], nil
	})
	_, err = g.Await(ctx)
	var pe *workers.PanicError
	var re runtime.Error
	fmt.Println(errors.As(err, &pe), errors.As(err, &re))
	fmt.Println(re)
	fmt.Println(len(pe.Stack) > 0)
	// Output:
	// loading user 42: not found
	// true
	// true true
	// runtime error: index out of range [3] with length 0
	// true
}

// An event loop hands heavy work to a worker and goes on with other
// callbacks; On delivers the worker's result back on the loop goroutine,
// and Run does not return while it is still awaited. RunUntilComplete runs
// the loop until one future settles.
func Example_loop() {
	ctx := context.Background()
	l := async.NewLoop()
	defer l.Close()

	gate := make(chan struct{}) // lets the worker finish only after the loop's other callback ran
	f := workers.Spawn(ctx, func(context.Context) (int, error) {
		<-gate
		return 6 * 7, nil
	})
	async.On(l, f, func(v int, err error) {
		fmt.Println("loop: the worker's result is", v, err)
	})
	l.Post(func() {
		fmt.Println("loop: other work runs while the worker computes")
		close(gate)
	})
	fmt.Println("Run:", l.Run(ctx))

	v, err := async.RunUntilComplete(l, workers.Spawn(ctx, func(context.Context) (string, error) {
		return strings.ToUpper("done"), nil
	}))
	fmt.Println(v, err)
	// Output:
	// loop: other work runs while the worker computes
	// loop: the worker's result is 42 <nil>
	// Run: <nil>
	// DONE <nil>
}

// A backend that accepts the Worker API's options reads them with
// ReadOptions.
func ExampleReadOptions() {
	s, err := workers.ReadOptions(workers.WithName("resize"), workers.WithTimeout(2*time.Second))
	fmt.Println(s.Name, s.Timeout, s.Pool == nil, err)

	_, err = workers.ReadOptions(workers.WithTimeout(-1))
	fmt.Println(errors.Is(err, workers.ErrInvalidArgument))
	// Output:
	// resize 2s true <nil>
	// true
}

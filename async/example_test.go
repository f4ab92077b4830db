package async_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/velalang/runtime/async"
)

// A promise is the write side, its future the read side: one goroutine
// resolves, any number of goroutines await.
func ExampleNewPromise() {
	p, f := async.NewPromise[string]()
	go p.Resolve("hello")
	v, err := f.Await(context.Background())
	fmt.Println(v, err, f.State())
	// Output: hello <nil> fulfilled
}

// Await gives up when its context ends; the future stays pending and can
// still be settled and awaited later.
func ExampleFuture_Await() {
	p, f := async.NewPromise[int]()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := f.Await(ctx)
	fmt.Println(errors.Is(err, context.DeadlineExceeded), f.State())

	p.Resolve(7)
	v, err := f.Await(context.Background())
	fmt.Println(v, err)
	// Output:
	// true pending
	// 7 <nil>
}

// Cancel settles a pending future at once; the producer hears of it through
// OnCancel.
func ExampleFuture_Cancel() {
	p, f := async.NewPromise[int]()
	p.OnCancel(func(cause error) { fmt.Println("producer told:", cause) })
	fmt.Println(f.Cancel(), f.Cancel())
	_, err := f.Await(context.Background())
	fmt.Println(errors.Is(err, async.ErrCancelled), p.Resolve(1))
	// Output:
	// producer told: async: future cancelled
	// true false
	// true false
}

func ExampleThen() {
	p, f := async.NewPromise[int]()
	s := async.Then(f, func(n int) (string, error) { return "#" + strconv.Itoa(n*2), nil })
	p.Resolve(21)
	v, err := s.Await(context.Background())
	fmt.Println(v, err)

	failed := async.Then(async.FromError[int](errors.New("no input")), func(n int) (int, error) { return n, nil })
	_, err = failed.Await(context.Background())
	fmt.Println(err)
	// Output:
	// #42 <nil>
	// no input
}

func ExampleAll() {
	ps := make([]*async.Promise[int], 3)
	fs := make([]*async.Future[int], 3)
	for i := range ps {
		ps[i], fs[i] = async.NewPromise[int]()
	}
	all := async.All(fs...)
	for i := len(ps) - 1; i >= 0; i-- { // settle in reverse order
		go ps[i].Resolve(i + 1)
	}
	v, err := all.Await(context.Background())
	fmt.Println(v, err) // input order, whatever the settle order

	_, err = async.All(async.FromValue(1), async.FromError[int](errors.New("second failed"))).Await(context.Background())
	fmt.Println(err)
	// Output:
	// [1 2 3] <nil>
	// second failed
}

func ExampleAny() {
	f := async.Any(async.FromError[string](errors.New("mirror 1 down")), async.FromValue("mirror 2"))
	v, _ := f.Await(context.Background())
	fmt.Println(v)

	_, err := async.Any(async.FromError[string](errors.New("a")), async.FromError[string](errors.New("b"))).Await(context.Background())
	var agg *async.AggregateError
	fmt.Println(errors.As(err, &agg), len(agg.Errors), err)
	// Output:
	// mirror 2
	// true 2 async: all futures failed: a; b
}

// Callbacks posted to a loop run one at a time, in order, on the goroutine
// that runs it. On continues on the loop when a future settles elsewhere,
// and Run waits for it before returning.
func ExampleLoop() {
	l := async.NewLoop()
	p, f := async.NewPromise[int]()
	l.Post(func() { fmt.Println("first") })
	l.Post(func() {
		fmt.Println("second: start a worker")
		go p.Resolve(42) // settled by another goroutine
	})
	async.On(l, f, func(v int, err error) { fmt.Println("continuation:", v, err) })
	err := l.Run(context.Background())
	fmt.Println("loop idle:", err)
	// Output:
	// first
	// second: start a worker
	// continuation: 42 <nil>
	// loop idle: <nil>
}

func ExampleRunUntilComplete() {
	l := async.NewLoop()
	p, f := async.NewPromise[string]()
	l.AfterFunc(time.Millisecond, func() { p.Resolve("timer fired") })
	v, err := async.RunUntilComplete(l, f)
	fmt.Println(v, err)
	// Output: timer fired <nil>
}

// counter is an Observer: the owner of a promise keeps books about it.
type counter struct{ cancelled int }

func (c *counter) Settled(s async.State, err error) {
	if s == async.Cancelled {
		c.cancelled++
	}
}

// An Observer set with Promise.Observe runs when the future settles, before
// anyone waiting on it is released, so its books are right by the time a
// waiter looks. Promise.Pending tells the producer a settle has begun.
func ExamplePromise_Observe() {
	var c counter
	p, f := async.NewPromise[int]()
	p.Observe(&c)
	go f.Cancel()
	_, err := f.Await(context.Background())
	fmt.Println(errors.Is(err, async.ErrCancelled), c.cancelled, p.Pending())
	// Output: true 1 false
}

package async_test

// On and RunUntilComplete: continuations of a future run on the loop, Run
// waits for them, and RunUntilComplete returns when the future settles.

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
)

func TestOnRunsOnLoopWhenSettled(t *testing.T) {
	l := async.NewLoop()
	var got []async.Result[int]
	async.On(l, async.FromValue(1), func(v int, err error) { got = append(got, async.Result[int]{v, err}) })
	async.On(l, async.FromError[int](errBoom), func(v int, err error) { got = append(got, async.Result[int]{v, err}) })
	if len(got) != 0 {
		t.Fatal("On ran fn on the caller instead of the loop")
	}
	if err := l.Run(context.Background()); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if len(got) != 2 || got[0] != (async.Result[int]{1, nil}) || got[1] != (async.Result[int]{0, errBoom}) {
		t.Fatalf("continuations saw %v", got)
	}
}

// TestRunWaitsForOnContinuation: Run does not return while an On
// continuation is waiting on a future that another goroutine settles later.
func TestRunWaitsForOnContinuation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := async.NewLoop()
		p, f := async.NewPromise[int]()
		go func() {
			time.Sleep(5 * time.Second)
			p.Resolve(42)
		}()
		got := 0
		loop := goid()
		async.On(l, f, func(v int, err error) {
			if goid() != loop {
				t.Error("the continuation ran off the loop goroutine")
			}
			got = v
		})
		start := time.Now()
		if err := l.Run(context.Background()); err != nil {
			t.Fatalf("Run = %v", err)
		}
		if got != 42 {
			t.Fatalf("Run returned before the continuation ran (got %d)", got)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Fatalf("Run returned after %v, want 5s", d)
		}
	})
}

// TestRunWaitsForManyContinuations does the same with real goroutines
// settling many futures in any order.
func TestRunWaitsForManyContinuations(t *testing.T) {
	const n = 200
	l := async.NewLoop()
	sum := 0
	var wg sync.WaitGroup
	for i := range n {
		p, f := async.NewPromise[int]()
		async.On(l, f, func(v int, err error) {
			if err != nil {
				t.Error(err)
			}
			sum += v
		})
		wg.Go(func() {
			runtime.Gosched()
			p.Resolve(i)
		})
	}
	if err := l.Run(context.Background()); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if want := n * (n - 1) / 2; sum != want {
		t.Fatalf("Run returned with sum %d, want %d: a continuation had not run", sum, want)
	}
	wg.Wait()
}

func TestOnInvalidOrClosedDoesNothing(t *testing.T) {
	l := async.NewLoop()
	_, pending := async.NewPromise[int]()
	async.On(l, nil, func(int, error) { t.Error("ran") })
	async.On[int](l, pending, nil)
	if err := l.Run(context.Background()); err != nil {
		t.Fatalf("Run after invalid On calls = %v, want nil at once", err)
	}
	l.Close()
	async.On(l, async.FromValue(1), func(int, error) { t.Error("continuation ran on a closed loop") })
	pending.Cancel()
}

func TestPanicInContinuationUnwindsRun(t *testing.T) {
	l := async.NewLoop()
	async.On(l, async.FromValue(1), func(int, error) { panic("continuation panic") })
	func() {
		defer func() {
			if r := recover(); r != "continuation panic" {
				t.Fatalf("recovered %v", r)
			}
		}()
		l.Run(context.Background())
	}()
	// The continuation is over: nothing keeps the loop busy.
	if err := l.Run(context.Background()); err != nil {
		t.Fatalf("Run after the panic = %v, want nil", err)
	}
}

func TestRunUntilCompleteSettledByOtherGoroutine(t *testing.T) {
	l := async.NewLoop()
	p, f := async.NewPromise[string]()
	var wg sync.WaitGroup
	defer wg.Wait()
	l.Post(func() {
		// Started from the loop, so the loop is surely running and idle
		// (no callback, timer or task) when the settle comes.
		wg.Go(func() { p.Resolve("from a goroutine") })
	})
	v, err := async.RunUntilComplete(l, f)
	if v != "from a goroutine" || err != nil {
		t.Fatalf("RunUntilComplete = %q, %v", v, err)
	}

	p2, f2 := async.NewPromise[string]()
	l.Post(func() { wg.Go(func() { p2.Reject(errBoom) }) })
	if _, err := async.RunUntilComplete(l, f2); err != errBoom {
		t.Fatalf("RunUntilComplete of a rejected future = %v, want boom", err)
	}
}

func TestRunUntilCompleteSettledByLoop(t *testing.T) {
	l := async.NewLoop()
	p, f := async.NewPromise[int]()
	l.Post(func() { l.Post(func() { p.Resolve(7) }) })
	if v, err := async.RunUntilComplete(l, f); v != 7 || err != nil {
		t.Fatalf("RunUntilComplete = %v, %v; want 7, nil", v, err)
	}
	_, g := async.NewPromise[int]()
	l.Post(func() { g.CancelWithCause(errBoom) })
	if _, err := async.RunUntilComplete(l, g); !errors.Is(err, async.ErrCancelled) || !errors.Is(err, errBoom) {
		t.Fatalf("RunUntilComplete of a cancelled future = %v", err)
	}
}

// TestRunUntilCompleteReturnsWhenSettled: it returns as soon as the future
// settles, even with other work (a long timer) left on the loop.
func TestRunUntilCompleteReturnsWhenSettled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := async.NewLoop()
		p, f := async.NewPromise[int]()
		start := time.Now()
		l.AfterFunc(time.Second, func() { p.Resolve(1) })
		stop := l.AfterFunc(time.Hour, func() { t.Error("the long timer ran") })
		if v, err := async.RunUntilComplete(l, f); v != 1 || err != nil {
			t.Fatalf("RunUntilComplete = %v, %v", v, err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("RunUntilComplete returned after %v, want 1s", d)
		}
		if !stop() {
			t.Fatal("the long timer was not pending any more")
		}
	})
}

func TestRunUntilCompleteSettledFuture(t *testing.T) {
	l := async.NewLoop()
	if v, err := async.RunUntilComplete(l, async.FromValue(3)); v != 3 || err != nil {
		t.Fatalf("RunUntilComplete of a settled future = %v, %v", v, err)
	}
	l.Close()
	// Already settled: its outcome, even on a closed loop.
	if v, err := async.RunUntilComplete(l, async.FromValue(4)); v != 4 || err != nil {
		t.Fatalf("RunUntilComplete of a settled future on a closed loop = %v, %v", v, err)
	}
	_, pending := async.NewPromise[int]()
	if _, err := async.RunUntilComplete(l, pending); !errors.Is(err, async.ErrLoopClosed) {
		t.Fatalf("RunUntilComplete of a pending future on a closed loop = %v, want ErrLoopClosed", err)
	}
	if _, err := async.RunUntilComplete[int](async.NewLoop(), nil); !errors.Is(err, async.ErrInvalidArgument) {
		t.Fatalf("RunUntilComplete(nil) = %v, want ErrInvalidArgument", err)
	}
}

package async_test

// The event Loop: Run, Post in FIFO order and from many goroutines, Close
// from a callback or while running, Run's context, one Run at a time, a
// panicking callback, and AfterFunc timers.

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
)

func TestRunEmptyLoopReturnsNil(t *testing.T) {
	l := async.NewLoop()
	for range 2 {
		if err := l.Run(context.Background()); err != nil {
			t.Fatalf("Run of an empty loop = %v, want nil", err)
		}
	}
	if err := l.Run(nilCtx); err != nil {
		t.Fatalf("Run(nil) of an empty loop = %v, want nil", err)
	}
}

func TestPostFIFO(t *testing.T) {
	l := async.NewLoop()
	var got []int
	for i := range 100 {
		if !l.Post(func() {
			got = append(got, i)
			if i == 0 {
				// Posted from a callback: after everything already queued.
				l.Post(func() { got = append(got, 1000) })
			}
		}) {
			t.Fatal("Post returned false on an open loop")
		}
	}
	if len(got) != 0 {
		t.Fatal("Post ran a callback before Run")
	}
	if err := l.Run(context.Background()); err != nil {
		t.Fatalf("Run = %v", err)
	}
	want := make([]int, 0, 101)
	for i := range 100 {
		want = append(want, i)
	}
	want = append(want, 1000)
	if !slices.Equal(got, want) {
		t.Fatalf("callbacks ran in order %v, want %v", got, want)
	}
}

// TestPostFromManyGoroutines: callbacks posted from many goroutines while
// the loop runs all run, one at a time, and each goroutine's callbacks in the
// order it posted them. The shared counter is a plain int: -race reports any
// two callbacks that overlap.
func TestPostFromManyGoroutines(t *testing.T) {
	const posters, each = 8, 500
	l := async.NewLoop()
	gate, gateF := async.NewPromise[struct{}]()
	async.On(l, gateF, func(struct{}, error) {}) // keeps Run going until the posters are done

	var inside atomic.Int32
	count := 0
	next := make([]int, posters)
	runErr := make(chan error, 1)
	go func() { runErr <- l.Run(context.Background()) }()

	var wg sync.WaitGroup
	for g := range posters {
		wg.Go(func() {
			for i := range each {
				ok := l.Post(func() {
					if inside.Add(1) != 1 {
						t.Error("two loop callbacks ran at the same time")
					}
					count++
					if next[g] != i {
						t.Errorf("poster %d: callback %d ran when %d was due", g, i, next[g])
					}
					next[g] = i + 1
					inside.Add(-1)
				})
				if !ok {
					t.Error("Post returned false on an open loop")
				}
			}
		})
	}
	wg.Wait()
	gate.Resolve(struct{}{})
	if err := <-runErr; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if count != posters*each {
		t.Fatalf("%d callbacks ran, want %d", count, posters*each)
	}
}

func TestPostNilAndAfterClose(t *testing.T) {
	l := async.NewLoop()
	if l.Post(nil) {
		t.Fatal("Post(nil) returned true")
	}
	ran := false
	l.Post(func() { ran = true }) // queued, then dropped by Close
	l.Close()
	l.Close() // a second Close does nothing
	if l.Post(func() { ran = true }) {
		t.Fatal("Post after Close returned true")
	}
	if err := l.Run(context.Background()); !errors.Is(err, async.ErrLoopClosed) {
		t.Fatalf("Run after Close = %v, want ErrLoopClosed", err)
	}
	if ran {
		t.Fatal("a callback ran on a closed loop")
	}
}

func TestCloseFromCallbackStopsRun(t *testing.T) {
	l := async.NewLoop()
	later := false
	l.Post(func() { l.Close() })
	l.Post(func() { later = true })
	if err := l.Run(context.Background()); !errors.Is(err, async.ErrLoopClosed) {
		t.Fatalf("Run = %v, want ErrLoopClosed", err)
	}
	if later {
		t.Fatal("a callback queued before Close ran after it")
	}
}

func TestCloseWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := async.NewLoop()
		_, f := async.NewPromise[int]()
		async.On(l, f, func(int, error) { t.Error("continuation ran on a closed loop") })
		go func() {
			time.Sleep(time.Second)
			l.Close()
		}()
		if err := l.Run(context.Background()); !errors.Is(err, async.ErrLoopClosed) {
			t.Fatalf("Run = %v, want ErrLoopClosed", err)
		}
		f.Cancel()
	})
}

func TestRunContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := async.NewLoop()
		p, f := async.NewPromise[int]()
		got := 0
		async.On(l, f, func(v int, err error) { got = v })
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err := l.Run(ctx)
		if err != ctx.Err() || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run = %v, want ctx.Err() = %v", err, ctx.Err())
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("Run returned after %v, want 1s", d)
		}
		// The work is kept for a later Run.
		p.Resolve(8)
		if err := l.Run(context.Background()); err != nil || got != 8 {
			t.Fatalf("second Run = %v with the continuation seeing %d, want nil and 8", err, got)
		}
	})
}

func TestRunContextAlreadyCancelled(t *testing.T) {
	l := async.NewLoop()
	ran := false
	l.Post(func() { ran = true })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if ran {
		t.Fatal("Run with an ended ctx ran a callback")
	}
	if err := l.Run(context.Background()); err != nil || !ran {
		t.Fatalf("later Run = %v, ran = %v; want nil, true", err, ran)
	}
}

func TestConcurrentRunReturnsErrLoopRunning(t *testing.T) {
	l := async.NewLoop()
	gate, gateF := async.NewPromise[int]()
	async.On(l, gateF, func(int, error) {})
	started := make(chan struct{})
	l.Post(func() {
		close(started)
		// Re-entering from a callback is refused too.
		if err := l.Run(context.Background()); !errors.Is(err, async.ErrLoopRunning) {
			t.Errorf("Run from a callback = %v, want ErrLoopRunning", err)
		}
	})
	runErr := make(chan error, 1)
	go func() { runErr <- l.Run(context.Background()) }()
	<-started
	if err := l.Run(context.Background()); !errors.Is(err, async.ErrLoopRunning) {
		t.Errorf("concurrent Run = %v, want ErrLoopRunning", err)
	}
	_, pending := async.NewPromise[int]()
	if _, err := async.RunUntilComplete(l, pending); !errors.Is(err, async.ErrLoopRunning) {
		t.Errorf("concurrent RunUntilComplete = %v, want ErrLoopRunning", err)
	}
	gate.Resolve(1)
	if err := <-runErr; err != nil {
		t.Fatalf("first Run = %v, want nil", err)
	}
}

// TestPanicInCallbackUnwindsRun: the panic reaches Run's caller, and the
// loop is consistent afterwards: it can be run again and runs the rest.
func TestPanicInCallbackUnwindsRun(t *testing.T) {
	l := async.NewLoop()
	var got []string
	l.Post(func() { got = append(got, "a") })
	l.Post(func() { panic("callback panic") })
	l.Post(func() { got = append(got, "c") })
	func() {
		defer func() {
			if r := recover(); r != "callback panic" {
				t.Fatalf("recovered %v, want the callback's panic", r)
			}
		}()
		l.Run(context.Background())
		t.Fatal("Run returned although a callback panicked")
	}()
	if !slices.Equal(got, []string{"a"}) {
		t.Fatalf("before the panic: ran %v, want [a]", got)
	}
	if err := l.Run(context.Background()); err != nil {
		t.Fatalf("Run after a panic = %v, want nil", err)
	}
	if !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("after the second Run: ran %v, want [a c]", got)
	}
}

func TestAfterFuncRunsOnLoopAfterDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := async.NewLoop()
		start := time.Now()
		loop := goid() // Run is called on this goroutine
		var got []string
		var at []time.Duration
		l.AfterFunc(2*time.Second, func() {
			if goid() != loop {
				t.Error("a timer function ran off the loop goroutine")
			}
			got = append(got, "2s")
			at = append(at, time.Since(start))
		})
		l.AfterFunc(time.Second, func() {
			if goid() != loop {
				t.Error("a timer function ran off the loop goroutine")
			}
			got = append(got, "1s")
			at = append(at, time.Since(start))
			l.Post(func() { got = append(got, "posted") })
		})
		l.Post(func() { got = append(got, "now") })
		if err := l.Run(context.Background()); err != nil {
			t.Fatalf("Run = %v", err)
		}
		// Run waits for the timers: the last one fired at 2s.
		if d := time.Since(start); d != 2*time.Second {
			t.Fatalf("Run returned after %v, want 2s", d)
		}
		if !slices.Equal(got, []string{"now", "1s", "posted", "2s"}) {
			t.Fatalf("ran %v", got)
		}
		if !slices.Equal(at, []time.Duration{time.Second, 2 * time.Second}) {
			t.Fatalf("timers ran at %v, want [1s 2s]", at)
		}
	})
}

func TestAfterFuncStop(t *testing.T) {
	t.Run("before it fires", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := async.NewLoop()
			ran := false
			stop := l.AfterFunc(time.Hour, func() { ran = true })
			if !stop() {
				t.Fatal("stop of a pending timer returned false")
			}
			if stop() {
				t.Fatal("a second stop returned true")
			}
			start := time.Now()
			if err := l.Run(context.Background()); err != nil {
				t.Fatalf("Run = %v", err)
			}
			if d := time.Since(start); d != 0 {
				t.Fatalf("Run waited %v for a stopped timer", d)
			}
			time.Sleep(2 * time.Hour)
			if err := l.Run(context.Background()); err != nil || ran {
				t.Fatalf("stopped timer: Run = %v, ran = %v", err, ran)
			}
		})
	})
	t.Run("after it ran", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := async.NewLoop()
			ran := 0
			stop := l.AfterFunc(time.Second, func() { ran++ })
			if err := l.Run(context.Background()); err != nil || ran != 1 {
				t.Fatalf("Run = %v, ran %d times", err, ran)
			}
			if stop() {
				t.Fatal("stop after the function ran returned true")
			}
		})
	})
	t.Run("from its own loop", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := async.NewLoop()
			ran := false
			stop := l.AfterFunc(2*time.Second, func() { ran = true })
			l.AfterFunc(time.Second, func() {
				if !stop() {
					t.Error("stop from a loop callback before the deadline returned false")
				}
			})
			if err := l.Run(context.Background()); err != nil || ran {
				t.Fatalf("Run = %v, ran = %v", err, ran)
			}
		})
	})
	t.Run("fired but not yet run", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := async.NewLoop()
			ran := false
			stop := l.AfterFunc(time.Second, func() { ran = true })
			time.Sleep(time.Second) // the timer fires while nobody runs the loop
			synctest.Wait()
			stopped := stop()
			if err := l.Run(context.Background()); err != nil {
				t.Fatalf("Run = %v", err)
			}
			if stopped == ran {
				t.Fatalf("stop() = %v and the function ran = %v: stop must report whether it prevented the run", stopped, ran)
			}
		})
	})
}

// TestAfterFuncStopRacesFiring races stop against the timer firing, with
// the loop running: stoppers and timers wake at the same instants of the
// bubble's clock, so which comes first is up to the scheduler. stop returns
// true if, and only if, the function never runs.
func TestAfterFuncStopRacesFiring(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timers = 300
		l := async.NewLoop()
		ran := make([]bool, timers) // written on the loop goroutine only
		stopped := make([]bool, timers)
		stops := make([]func() bool, timers)
		for i := range timers {
			stops[i] = l.AfterFunc(time.Duration(i%3)*time.Millisecond, func() { ran[i] = true })
		}
		var wg sync.WaitGroup
		for i := range timers {
			wg.Go(func() {
				time.Sleep(time.Duration(i%5) * time.Millisecond / 2)
				stopped[i] = stops[i]()
			})
		}
		if err := l.Run(context.Background()); err != nil {
			t.Fatalf("Run = %v", err)
		}
		wg.Wait()
		n := 0
		for i := range timers {
			if stopped[i] == ran[i] {
				t.Fatalf("timer %d: stop() = %v, function ran = %v", i, stopped[i], ran[i])
			}
			if stopped[i] {
				n++
			}
		}
		t.Logf("%d of %d timers stopped in time", n, timers)
	})
}

func TestAfterFuncInvalidAndClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := async.NewLoop()
		if l.AfterFunc(time.Second, nil)() {
			t.Fatal("stop of AfterFunc(nil) returned true")
		}
		ran := false
		l.AfterFunc(time.Second, func() { ran = true })
		l.Close() // stops the timer
		if l.AfterFunc(time.Second, func() { ran = true })() {
			t.Fatal("stop of an AfterFunc on a closed loop returned true")
		}
		time.Sleep(time.Minute)
		if ran {
			t.Fatal("a timer function ran on a closed loop")
		}
	})
}

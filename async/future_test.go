package async_test

// A Future seen from its readers: State, Await (with contexts that end
// first or have already ended), Done, Result, and Poll with wakers.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
)

func TestStateString(t *testing.T) {
	for _, tc := range []struct {
		s    async.State
		want string
	}{
		{async.Pending, "pending"},
		{async.Fulfilled, "fulfilled"},
		{async.Rejected, "rejected"},
		{async.Cancelled, "cancelled"},
		{async.State(9), "State(9)"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("State(%d).String() = %q, want %q", uint8(tc.s), got, tc.want)
		}
		if got := fmt.Sprint(tc.s); got != tc.want {
			t.Errorf("fmt.Sprint(State(%d)) = %q, want %q", uint8(tc.s), got, tc.want)
		}
	}
}

func TestStateZeroIsPending(t *testing.T) {
	var s async.State
	if s != async.Pending {
		t.Fatalf("zero State = %v, want pending", s)
	}
	if async.Pending != 0 || async.Fulfilled != 1 || async.Rejected != 2 || async.Cancelled != 3 {
		t.Fatalf("State values = %d %d %d %d, want 0 1 2 3", async.Pending, async.Fulfilled, async.Rejected, async.Cancelled)
	}
}

// TestAwaitSettledReturnsAtOnce: on a settled future Await returns its
// outcome even with a context that has already ended, and allocates nothing.
func TestAwaitSettledReturnsAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, f := range settledFutures() {
		want, _ := f.Result()
		for _, c := range []context.Context{ctx, context.Background(), nilCtx} {
			v, err := f.Await(c)
			if v != want.Value || err != want.Err {
				t.Errorf("%s: Await = %v, %v; want %v, %v", name, v, err, want.Value, want.Err)
			}
		}
		if n := testing.AllocsPerRun(100, func() { f.Await(ctx) }); n != 0 {
			t.Errorf("%s: Await on a settled future allocates %v times, want 0", name, n)
		}
	}
}

func TestAwaitBlocksUntilSettled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, f := async.NewPromise[int]()
		start := time.Now()
		go func() {
			time.Sleep(time.Second)
			p.Resolve(3)
		}()
		v, err := f.Await(context.Background())
		if v != 3 || err != nil {
			t.Fatalf("Await = %v, %v; want 3, nil", v, err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("Await returned after %v, want 1s", d)
		}
	})
}

func TestAwaitNilContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, f := async.NewPromise[string]()
		go func() {
			time.Sleep(time.Minute)
			p.Reject(errBoom)
		}()
		if v, err := f.Await(nilCtx); v != "" || err != errBoom {
			t.Fatalf("Await(nil) = %q, %v; want \"\", boom", v, err)
		}
	})
}

// TestAwaitContextEndsFirst: the deadline ends the wait, not the future.
func TestAwaitContextEndsFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, f := async.NewPromise[int]()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		v, err := f.Await(ctx)
		if d := time.Since(start); d != 2*time.Second {
			t.Fatalf("Await returned after %v, want the 2s deadline", d)
		}
		if v != 0 || err == nil {
			t.Fatalf("Await = %v, %v; want 0 and an error", v, err)
		}
		if !errors.Is(err, ctx.Err()) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Await error %v does not match ctx.Err() = %v", err, ctx.Err())
		}
		wantState(t, f, async.Pending)
		if _, ok := f.Result(); ok {
			t.Fatal("the future settled when the Await deadline passed")
		}
		// The future is still usable.
		if !p.Resolve(9) {
			t.Fatal("Resolve after a timed-out Await returned false")
		}
		if v, err := f.Await(ctx); v != 9 || err != nil {
			t.Fatalf("Await after Resolve = %v, %v; want 9, nil", v, err)
		}
	})
}

func TestAwaitContextCause(t *testing.T) {
	t.Run("cancel", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			_, f := async.NewPromise[int]()
			ctx, cancel := context.WithCancelCause(context.Background())
			cause := &codeError{code: 3}
			go func() {
				time.Sleep(time.Second)
				cancel(cause)
			}()
			_, err := f.Await(ctx)
			if !errors.Is(err, context.Canceled) || !errors.Is(err, ctx.Err()) {
				t.Errorf("Await error %v does not match context.Canceled", err)
			}
			if !errors.Is(err, context.Cause(ctx)) {
				t.Errorf("Await error %v does not match context.Cause = %v", err, context.Cause(ctx))
			}
			var ce *codeError
			if !errors.As(err, &ce) {
				t.Errorf("errors.As does not reach the cause in %v", err)
			}
			wantState(t, f, async.Pending)
		})
	})
	t.Run("timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			_, f := async.NewPromise[int]()
			ctx, cancel := context.WithTimeoutCause(context.Background(), time.Second, errBoom)
			defer cancel()
			_, err := f.Await(ctx)
			if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errBoom) {
				t.Errorf("Await error %v does not match both DeadlineExceeded and the cause", err)
			}
			wantState(t, f, async.Pending)
		})
	})
}

func TestAwaitContextAlreadyEnded(t *testing.T) {
	_, f := async.NewPromise[int]()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Await(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Await with an ended ctx = %v, want context.Canceled", err)
	}
	wantState(t, f, async.Pending)
}

func TestAwaitManyWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, f := async.NewPromise[int]()
		const n = 50
		got := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				v, err := f.Await(context.Background())
				if err != nil {
					t.Errorf("waiter %d: %v", i, err)
				}
				got[i] = v
			})
		}
		synctest.Wait() // every waiter is blocked
		p.Resolve(7)
		wg.Wait()
		for i, v := range got {
			if v != 7 {
				t.Fatalf("waiter %d got %d, want 7", i, v)
			}
		}
	})
}

func TestDone(t *testing.T) {
	for name, settle := range map[string]func(*async.Promise[int], *async.Future[int]){
		"Resolve": func(p *async.Promise[int], _ *async.Future[int]) { p.Resolve(1) },
		"Reject":  func(p *async.Promise[int], _ *async.Future[int]) { p.Reject(errBoom) },
		"Cancel":  func(_ *async.Promise[int], f *async.Future[int]) { f.Cancel() },
	} {
		t.Run(name, func(t *testing.T) {
			p, f := async.NewPromise[int]()
			d := f.Done()
			if d != f.Done() {
				t.Fatal("Done() returned different channels for a pending future")
			}
			if isClosed(d) {
				t.Fatal("Done() is closed while pending")
			}
			settle(p, f)
			if !isClosed(d) {
				t.Fatal("Done() channel taken while pending was not closed by the settle")
			}
			if !isClosed(f.Done()) {
				t.Fatal("Done() of a settled future is not closed")
			}
		})
	}
}

func TestResult(t *testing.T) {
	p, f := async.NewPromise[string]()
	if r, ok := f.Result(); ok || r != (async.Result[string]{}) {
		t.Fatalf("Result() while pending = %+v, %v", r, ok)
	}
	p.Resolve("ok")
	if r, ok := f.Result(); !ok || r.Value != "ok" || r.Err != nil {
		t.Fatalf("Result() = %+v, %v", r, ok)
	}
	if r, ok := async.FromError[string](errBoom).Result(); !ok || r.Value != "" || r.Err != errBoom {
		t.Fatalf("Result() of a rejected future = %+v, %v", r, ok)
	}
}

func TestPollZeroIsPending(t *testing.T) {
	var p async.Poll[int]
	if p.IsReady() || p.Value() != 0 || p.Err() != nil {
		t.Fatal("the zero Poll is not pending")
	}
}

func TestWakerFunc(t *testing.T) {
	n := 0
	var w async.Waker = async.WakerFunc(func() { n++ })
	w.Wake()
	if n != 1 {
		t.Fatalf("WakerFunc.Wake ran the function %d times, want 1", n)
	}
}

func TestPollPendingThenWoken(t *testing.T) {
	p, f := async.NewPromise[int]()
	woken := 0
	w := async.WakerFunc(func() { woken++ })
	r := f.Poll(w)
	if r.IsReady() || r.Value() != 0 || r.Err() != nil {
		t.Fatalf("Poll of a pending future = ready %v, %v, %v", r.IsReady(), r.Value(), r.Err())
	}
	if woken != 0 {
		t.Fatal("the waker was called before the future settled")
	}
	p.Resolve(4)
	// The waker runs on the settling goroutine, before Resolve returns.
	if woken != 1 {
		t.Fatalf("waker called %d times by the settle, want 1", woken)
	}
	r = f.Poll(w)
	if !r.IsReady() || r.Value() != 4 || r.Err() != nil {
		t.Fatalf("Poll after Resolve = ready %v, %v, %v; want ready 4 <nil>", r.IsReady(), r.Value(), r.Err())
	}
	if woken != 1 {
		t.Fatalf("a ready Poll called the waker (%d calls)", woken)
	}
}

func TestPollSettledFutures(t *testing.T) {
	for name, f := range settledFutures() {
		want, _ := f.Result()
		called := false
		r := f.Poll(async.WakerFunc(func() { called = true }))
		if !r.IsReady() || r.Value() != want.Value || r.Err() != want.Err {
			t.Errorf("%s: Poll = ready %v, %v, %v", name, r.IsReady(), r.Value(), r.Err())
		}
		if called {
			t.Errorf("%s: Poll of a settled future called the waker", name)
		}
	}
	_, f := async.NewPromise[int]()
	f.CancelWithCause(errBoom)
	if r := f.Poll(nil); !errors.Is(r.Err(), async.ErrCancelled) || !errors.Is(r.Err(), errBoom) {
		t.Fatalf("Poll of a cancelled future: Err = %v", r.Err())
	}
}

func TestPollRegistersOncePerPendingPoll(t *testing.T) {
	_, f := async.NewPromise[int]()
	a, b := 0, 0
	wa := async.WakerFunc(func() { a++ })
	f.Poll(wa)
	f.Poll(wa)
	f.Poll(async.WakerFunc(func() { b++ }))
	f.Poll(nil) // observes only
	f.Cancel()
	if a != 2 || b != 1 {
		t.Fatalf("wakers called %d and %d times, want 2 and 1", a, b)
	}
}

// TestWakerPanicDoesNotStrandOtherWakers: a waker that panics makes the
// settle panic on its goroutine, but every other registered waker is still
// called once and the waiters are released.
func TestWakerPanicDoesNotStrandOtherWakers(t *testing.T) {
	p, f := async.NewPromise[int]()
	before, after := 0, 0
	f.Poll(async.WakerFunc(func() { before++ }))
	f.Poll(async.WakerFunc(func() { panic("waker panic") }))
	f.Poll(async.WakerFunc(func() { after++ }))
	d := f.Done()
	func() {
		defer func() {
			if r := recover(); r != "waker panic" {
				t.Errorf("Resolve recovered %v, want the waker's panic", r)
			}
		}()
		p.Resolve(1)
	}()
	if before != 1 || after != 1 {
		t.Fatalf("the other wakers were called %d and %d times, want 1 and 1", before, after)
	}
	if !isClosed(d) {
		t.Fatal("Done() is not closed")
	}
	wantState(t, f, async.Fulfilled)
}

// TestPollRacingSettleNeverLosesWake races Poll against Resolve or Cancel
// many times. Whenever Poll returned pending, the settle must have called
// its waker (exactly once) by the time it returned; whenever Poll returned
// ready, the waker was not registered.
func TestPollRacingSettleNeverLosesWake(t *testing.T) {
	const rounds = 5000
	pending := 0
	for i := range rounds {
		p, f := async.NewPromise[int]()
		var woken atomic.Int32
		var r async.Poll[int]
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			<-start
			r = f.Poll(async.WakerFunc(func() { woken.Add(1) }))
		})
		wg.Go(func() {
			<-start
			if i%2 == 0 {
				p.Resolve(i)
			} else {
				f.Cancel()
			}
		})
		close(start)
		wg.Wait() // the settle has returned: a registered waker has run
		if r.IsReady() {
			if woken.Load() != 0 {
				t.Fatalf("round %d: Poll was ready but its waker was called", i)
			}
			if i%2 == 0 && (r.Value() != i || r.Err() != nil) {
				t.Fatalf("round %d: ready Poll = %v, %v", i, r.Value(), r.Err())
			}
			if i%2 == 1 && !errors.Is(r.Err(), async.ErrCancelled) {
				t.Fatalf("round %d: ready Poll error = %v", i, r.Err())
			}
			continue
		}
		pending++
		if n := woken.Load(); n != 1 {
			t.Fatalf("round %d: Poll returned pending and the settle called its waker %d times, want 1", i, n)
		}
	}
	t.Logf("Poll returned pending in %d of %d rounds", pending, rounds)
}

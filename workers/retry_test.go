package workers_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// ReadOptions reports the retry policy and the delay as given, so that
// another backend honours them, and refuses what makes no sense.
func TestReadOptionsRetryAndDelay(t *testing.T) {
	retryable := func(error) bool { return true }
	s, err := workers.ReadOptions(workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3, Backoff: time.Second,
		MaxBackoff: time.Minute, Retryable: retryable}), workers.WithDelay(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	r := s.Retry
	if r.MaxAttempts != 3 || r.Backoff != time.Second || r.MaxBackoff != time.Minute || r.Retryable == nil || s.Delay != 5*time.Second {
		t.Fatalf("ReadOptions = %+v, want the policy and the delay as given", s)
	}
	if s, err := workers.ReadOptions(); err != nil || s.Retry.MaxAttempts != 0 || s.Delay != 0 {
		t.Fatalf("ReadOptions() = %+v, %v; want no retry and no delay", s, err)
	}

	for _, bad := range []struct {
		name string
		opt  workers.Option
	}{
		{"negative attempts", workers.WithRetry(workers.RetryPolicy{MaxAttempts: -1})},
		{"negative backoff", workers.WithRetry(workers.RetryPolicy{MaxAttempts: 2, Backoff: -time.Second})},
		{"negative max backoff", workers.WithRetry(workers.RetryPolicy{MaxAttempts: 2, MaxBackoff: -time.Second})},
		{"max below backoff", workers.WithRetry(workers.RetryPolicy{MaxAttempts: 2, Backoff: time.Second, MaxBackoff: time.Millisecond})},
		{"backoff above the default max", workers.WithRetry(workers.RetryPolicy{MaxAttempts: 2, Backoff: time.Minute})},
		{"max below the default backoff", workers.WithRetry(workers.RetryPolicy{MaxAttempts: 2, MaxBackoff: time.Millisecond})},
		{"negative delay", workers.WithDelay(-time.Nanosecond)},
	} {
		if _, err := workers.ReadOptions(bad.opt); !errors.Is(err, workers.ErrInvalidArgument) {
			t.Errorf("%s: ReadOptions error %v, want ErrInvalidArgument", bad.name, err)
		}
		p := newPool(t, workers.Config{MaxWorkers: 1})
		f := workers.Spawn(context.Background(), returns(1), workers.OnPool(p), bad.opt)
		wantRejectedAtOnce(t, f, workers.ErrInvalidArgument)
		g := workers.SpawnAll(context.Background(), []func(context.Context) (int, error){returns(1)}, workers.OnPool(p), bad.opt)
		wantRejectedAtOnce(t, g, workers.ErrInvalidArgument)
		if s := p.Stats(); s.Rejected != 2 || s.Submitted != 0 {
			t.Errorf("%s: Rejected %d, Submitted %d; want 2 and 0", bad.name, s.Rejected, s.Submitted)
		}
	}
}

// A policy of one call in all, or a zero delay, asks for nothing: Spawn
// runs the task as if they were not given.
func TestRetryOfOneAttemptIsNoRetry(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1})
	for _, opt := range []workers.Option{workers.WithRetry(workers.RetryPolicy{}), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 1}), workers.WithDelay(0)} {
		if v, err := await(workers.Spawn(context.Background(), returns(7), workers.OnPool(p), opt)); v != 7 || err != nil {
			t.Errorf("Spawn with %+v = %v, %v; want 7, nil", opt, v, err)
		}
	}
}

// Next applies a policy's rules: the number of calls, Permanent,
// Retryable (a panic in it is a no), and waits that double up to the bound,
// each drawn from (0, bound].
func TestRetryPolicyNext(t *testing.T) {
	boom := errors.New("boom")
	p := workers.RetryPolicy{MaxAttempts: 6, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	for attempt, bound := range map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 3: 40 * time.Millisecond, 4: 50 * time.Millisecond, 5: 50 * time.Millisecond} {
		var longest time.Duration
		for range 2000 {
			wait, retry, final := p.Next(attempt, boom)
			if !retry || final != nil {
				t.Fatalf("Next(%d) = %v, %v, %v; want a retry", attempt, wait, retry, final)
			}
			if wait <= 0 || wait > bound {
				t.Fatalf("Next(%d) waits %v, want within (0, %v]", attempt, wait, bound)
			}
			longest = max(longest, wait)
		}
		if longest < bound*3/4 {
			t.Errorf("Next(%d): longest of 2000 waits %v, want near %v (full jitter)", attempt, longest, bound)
		}
	}
	if _, retry, final := p.Next(6, boom); retry || final != boom {
		t.Errorf("Next after the last attempt: retry %v, final %v; want false, boom", retry, final)
	}
	if _, retry, final := p.Next(1, workers.Permanent(boom)); retry || final != boom {
		t.Errorf("Next(Permanent(boom)): retry %v, final %v; want false, boom itself", retry, final)
	}
	wrapped := fmt.Errorf("context: %w", workers.Permanent(boom))
	if _, retry, final := p.Next(1, wrapped); retry || final != wrapped {
		t.Errorf("Next(wrapped Permanent): retry %v, final %v; want false, the error as returned", retry, final)
	}
	p.Retryable = func(err error) bool { return !errors.Is(err, boom) }
	if _, retry, _ := p.Next(1, boom); retry {
		t.Error("Next retried an error Retryable refused")
	}
	if _, retry, _ := p.Next(1, errors.New("other")); !retry {
		t.Error("Next did not retry an error Retryable accepted")
	}
	p.Retryable = func(error) bool { panic("hostile Retryable") }
	if _, retry, final := p.Next(1, boom); retry || final != boom {
		t.Errorf("Next with a panicking Retryable: retry %v, final %v; want false, boom", retry, final)
	}
	if _, retry, _ := (workers.RetryPolicy{}).Next(1, boom); retry {
		t.Error("the zero policy retried")
	}
}

// Permanent keeps its error reachable and marks nothing when given nil.
func TestPermanent(t *testing.T) {
	if workers.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	err := &codeError{Code: 3}
	pe := workers.Permanent(err)
	var ce *codeError
	if !errors.Is(pe, err) || !errors.As(pe, &ce) || ce != err || pe.Error() != err.Error() {
		t.Errorf("Permanent(%v) = %v: errors.Is/As do not reach the error", err, pe)
	}
}

// calls records the calls of a function: when each started, on the bubble's
// clock.
type calls struct {
	mu     sync.Mutex
	starts []time.Time
}

func (c *calls) start() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.starts = append(c.starts, time.Now())
	return len(c.starts)
}

func (c *calls) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.starts)
}

// gaps returns the waits between consecutive calls.
func (c *calls) gaps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var g []time.Duration
	for i := 1; i < len(c.starts); i++ {
		g = append(g, c.starts[i].Sub(c.starts[i-1]))
	}
	return g
}

// A failing call is retried after a wait that doubles from Backoff, with
// full jitter, until one succeeds: the future gets that value, each retry
// counts in Retried, and the task once in Submitted and Completed.
func TestRetryUntilSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 1)
		var c calls
		f := workers.Spawn(context.Background(), func(context.Context) (string, error) {
			if c.start() < 4 {
				return "", errors.New("flaky")
			}
			return "ok", nil
		}, workers.OnPool(p), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 5, Backoff: time.Second, MaxBackoff: 3 * time.Second}))
		if v, err := await(f); v != "ok" || err != nil {
			t.Fatalf("future = %q, %v; want ok, nil", v, err)
		}
		if c.n() != 4 {
			t.Fatalf("%d calls, want 4", c.n())
		}
		for i, g := range c.gaps() {
			bound := min(time.Second<<i, 3*time.Second)
			if g <= 0 || g > bound {
				t.Errorf("wait before call %d: %v, want within (0, %v]", i+2, g, bound)
			}
		}
		s := p.Stats()
		if s.Retried != 3 || s.Submitted != 1 || s.Completed != 1 || s.Failed != 0 {
			t.Errorf("Stats %+v: want Retried 3, Submitted 1, Completed 1, Failed 0", s)
		}
	})
}

// Once the attempts are spent, the future is rejected with the last call's
// own error (its identity kept), or a *PanicError if the last call
// panicked; a panic is retried like an error.
func TestRetryGivesUpWithTheLastError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 2)
		var errs []error
		var c calls
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			n := c.start()
			err := &codeError{Code: n}
			errs = append(errs, err)
			return 0, err
		}, workers.OnPool(p), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3}))
		_, err := await(f)
		if c.n() != 3 || err != errs[2] {
			t.Fatalf("%d calls, error %v; want 3 calls and the third call's error itself", c.n(), err)
		}
		var pc calls
		g := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			if pc.start() == 1 {
				return 0, errors.New("first")
			}
			panic("second")
		}, workers.OnPool(p), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 2}))
		_, err = await(g)
		var pe *workers.PanicError
		if !errors.As(err, &pe) || pe.Value != "second" || pc.n() != 2 {
			t.Fatalf("%d calls, error %v; want 2 calls and the second call's panic", pc.n(), err)
		}
		s := p.Stats()
		if s.Failed != 2 || s.Panicked != 1 || s.Retried != 3 {
			t.Errorf("Stats %+v: want Failed 2, Panicked 1, Retried 3", s)
		}
	})
}

// Permanent stops the retries, and the future gets the error it wrapped;
// so does a Retryable that refuses the error.
func TestRetryPermanentAndRetryable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 1)
		bad := &validationError{Field: "size"}
		var c calls
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			c.start()
			return 0, workers.Permanent(bad)
		}, workers.OnPool(p), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 5}))
		if _, err := await(f); err != bad || c.n() != 1 {
			t.Errorf("Permanent: %d calls, error %v (%T); want 1 call and the wrapped error itself", c.n(), err, err)
		}
		var rc calls
		notFound := &keyError{Key: "k"}
		g := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			if rc.start() == 1 {
				return 0, errors.New("transient")
			}
			return 0, notFound
		}, workers.OnPool(p), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 5,
			Retryable: func(err error) bool { return !errors.As(err, new(*keyError)) }}))
		if _, err := await(g); err != notFound || rc.n() != 2 {
			t.Errorf("Retryable: %d calls, error %v; want 2 calls and the refused error", rc.n(), err)
		}
		// Without WithRetry the mark is still removed: the caller gets err.
		h := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 0, workers.Permanent(bad) }, workers.OnPool(p))
		if _, err := await(h); err != bad {
			t.Errorf("Permanent without WithRetry: error %v (%T), want the wrapped error itself", err, err)
		}
	})
}

// Between calls the task holds no worker and shows in Tasks as retrying,
// with its attempt and the time of its next call; it counts in Queued.
// Cancel then settles it at once, and no further call is made.
func TestRetryWaitIsVisibleAndCancellable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 1)
		var c calls
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			c.start()
			return 0, errors.New("down")
		}, workers.OnPool(p), workers.WithName("fetch"), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3, Backoff: time.Minute, MaxBackoff: time.Minute}))
		synctest.Wait()
		ts := p.Tasks()
		if len(ts) != 1 {
			t.Fatalf("Tasks() = %+v, want one task", ts)
		}
		ti := ts[0]
		if ti.State != workers.TaskRetrying || ti.Attempt != 1 || ti.Name != "fetch" || ti.Worker != "" ||
			!ti.Due.After(time.Now()) || ti.Due.After(time.Now().Add(time.Minute)) {
			t.Errorf("Tasks()[0] = %+v, want retrying after attempt 1, due within a minute, on no worker", ti)
		}
		if ti.State.String() != "retrying" {
			t.Errorf("TaskRetrying.String() = %q", ti.State.String())
		}
		if s := p.Stats(); s.Queued != 1 || s.Active != 0 || s.Workers != 0 {
			t.Errorf("Stats while waiting to retry: %+v, want Queued 1, Active 0, Workers 0", s)
		}
		if !f.Cancel() {
			t.Fatal("Cancel() = false during the wait")
		}
		wantState(t, f, async.Cancelled)
		time.Sleep(time.Hour)
		if c.n() != 1 {
			t.Errorf("%d calls after a Cancel during the wait, want 1", c.n())
		}
		if s := p.Stats(); s.Cancelled != 1 || s.Retried != 0 || s.Queued != 0 {
			t.Errorf("Stats %+v: want Cancelled 1, Retried 0, Queued 0", s)
		}
	})
}

// WithTimeout bounds the task as a whole, across its calls and waits: it
// is never retried past it, and the future times out at the deadline, even
// during a wait.
func TestRetryWithinTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 1)
		var c calls
		start := time.Now()
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			c.start()
			time.Sleep(time.Second)
			return 0, errors.New("down")
		}, workers.OnPool(p), workers.WithTimeout(10*time.Second),
			workers.WithRetry(workers.RetryPolicy{MaxAttempts: 100, Backoff: 4 * time.Second, MaxBackoff: 4 * time.Second}))
		_, err := await(f)
		if te := wantTimeout(t, err, "", 10*time.Second); te.Run {
			t.Error("TimeoutError.Run = true, want WithTimeout's")
		}
		if d := time.Since(start); d != 10*time.Second {
			t.Errorf("timed out after %v, want 10s", d)
		}
		n := c.n()
		time.Sleep(time.Minute)
		if c.n() != n || n < 2 {
			t.Errorf("%d calls by the deadline, %d after: want at least 2, and none after", n, c.n())
		}
		if s := p.Stats(); s.TimedOut != 1 || s.Failed != 0 {
			t.Errorf("Stats %+v: want TimedOut 1", s)
		}
	})
}

type requestKey struct{}

// A call that runs past WithRunTimeout is retried like a failure: its
// context ends with the *TimeoutError, which Retryable sees; the next call
// waits for it to return, and runs with a live context of its own that
// keeps the parent's values. On the last attempt the future times out at
// the run deadline.
func TestRetryAfterRunTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 2)
		var c calls
		var seen []error
		returned := make(chan struct{})
		parent := context.WithValue(context.Background(), requestKey{}, "r1")
		f := workers.Spawn(parent, func(ctx context.Context) (string, error) {
			switch c.start() {
			case 1:
				<-ctx.Done()
				if !errors.Is(context.Cause(ctx), workers.ErrTimeout) || ctx.Err() != context.DeadlineExceeded {
					t.Errorf("overran call's context: Err %v, Cause %v; want DeadlineExceeded and the *TimeoutError", ctx.Err(), context.Cause(ctx))
				}
				time.Sleep(time.Second) // returns late: the retry waits for it
				close(returned)
				return "late", nil
			default:
				select {
				case <-returned:
				default:
					t.Error("the retry started before the overran call returned")
				}
				if ctx.Err() != nil {
					t.Errorf("retry's context: Err %v, want a live context", ctx.Err())
				}
				if v := ctx.Value(requestKey{}); v != "r1" {
					t.Errorf("retry's context lost the parent's values: %v", v)
				}
				return "second", nil
			}
		}, workers.OnPool(p), workers.WithRunTimeout(time.Second),
			workers.WithRetry(workers.RetryPolicy{MaxAttempts: 2, Retryable: func(err error) bool {
				seen = append(seen, err)
				return true
			}}))
		v, err := await(f)
		if v != "second" || err != nil || c.n() != 2 {
			t.Fatalf("future = %q, %v after %d calls; want second, nil after 2", v, err, c.n())
		}
		if len(seen) != 1 || !errors.Is(seen[0], workers.ErrTimeout) {
			t.Errorf("Retryable saw %v, want one *TimeoutError", seen)
		}

		// Every call overruns: the last one times the future out at its run
		// deadline, while it still runs.
		var lc calls
		release := make(chan struct{})
		g := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
			if lc.start() == 3 {
				<-release
				return 0, nil
			}
			<-ctx.Done()
			return 0, ctx.Err()
		}, workers.OnPool(p), workers.WithRunTimeout(time.Second), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3}))
		_, err = await(g)
		wantRunTimeout(t, err, "", time.Second)
		if lc.n() != 3 {
			t.Errorf("%d calls, want 3", lc.n())
		}
		if s := p.Stats(); s.Abandoned != 1 || s.TimedOut != 1 {
			t.Errorf("Stats %+v: want the last call Abandoned and the task TimedOut", s)
		}
		close(release)
	})
}

// A call that ends in runtime.Goexit is not retried: the future is
// rejected with async.ErrGoexit, and the worker is replaced.
func TestRetryGoexitIsFinal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 1)
		var c calls
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			if c.start() == 1 {
				return 0, errors.New("first")
			}
			runtime.Goexit()
			return 0, nil
		}, workers.OnPool(p), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 5}))
		if _, err := await(f); !errors.Is(err, async.ErrGoexit) || c.n() != 2 {
			t.Errorf("%d calls, error %v; want 2 calls and ErrGoexit", c.n(), err)
		}
		if v, err := await(workers.Spawn(context.Background(), returns(1), workers.OnPool(p))); v != 1 || err != nil {
			t.Errorf("the pool after a Goexit in a retried call: %v, %v", v, err)
		}
	})
}

// The end of the parent context, or CancelAll, during a wait settles the
// task at once; no retry follows.
func TestRetryParentEndsDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 1)
		parent, cancel := context.WithCancelCause(context.Background())
		var c calls
		fail := func(context.Context) (int, error) { c.start(); return 0, errors.New("down") }
		retry := workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3, Backoff: time.Minute, MaxBackoff: time.Minute})
		f := workers.Spawn(parent, fail, workers.OnPool(p), retry)
		g := workers.Spawn(context.Background(), fail, workers.OnPool(p), retry)
		synctest.Wait()
		cause := errors.New("gone")
		cancel(cause)
		synctest.Wait()
		_, err := await(f)
		wantCancelled(t, err, cause)
		if n := p.CancelAll(); n != 1 {
			t.Errorf("CancelAll() = %d, want 1 (the task waiting to retry)", n)
		}
		wantState(t, g, async.Cancelled)
		time.Sleep(time.Hour)
		if c.n() != 2 {
			t.Errorf("%d calls, want 2 (one each, no retry)", c.n())
		}
	})
}

// WithRetry calls a failing function again, after a wait that doubles from
// Backoff (with full jitter), until a call succeeds or MaxAttempts calls
// have failed; Stats.Retried counts the calls beyond the first.
func ExampleWithRetry() {
	p, _ := workers.NewPool(workers.Config{MaxWorkers: 1})
	ctx := context.Background()
	calls := 0
	f := workers.Spawn(ctx, func(context.Context) (string, error) {
		if calls++; calls < 3 {
			return "", errors.New("service unavailable")
		}
		return "fetched", nil
	}, workers.OnPool(p), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 5, Backoff: time.Millisecond}))
	v, err := f.Await(ctx)
	fmt.Println(v, err, calls, p.Stats().Retried)
	_ = p.Shutdown(ctx)
	// Output: fetched <nil> 3 2
}

// Permanent marks a failure that no retry can fix: the task fails at once
// with the error itself.
func ExamplePermanent() {
	ctx := context.Background()
	errNotFound := errors.New("not found")
	calls := 0
	f := workers.Spawn(ctx, func(context.Context) (int, error) {
		calls++
		return 0, workers.Permanent(errNotFound)
	}, workers.WithRetry(workers.RetryPolicy{MaxAttempts: 5}))
	_, err := f.Await(ctx)
	fmt.Println(err == errNotFound, calls)
	// Output: true 1
}

// Shutdown treats a task waiting to retry as queued: it waits for the
// retry to run; once its context ends it cancels the task instead.
func TestRetryShutdownDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		retry := workers.WithRetry(workers.RetryPolicy{MaxAttempts: 2, Backoff: time.Minute, MaxBackoff: time.Minute})
		p := newPool(t, workers.Config{MaxWorkers: 1})
		f := workers.Spawn(context.Background(), flaky(1, 7, &calls), workers.OnPool(p), retry)
		synctest.Wait()
		start := time.Now()
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if v, err := await(f); v != 7 || err != nil || calls.Load() != 2 || time.Since(start) > time.Minute {
			t.Errorf("after Shutdown: %v, %v after %d calls and %v; want 7 after the retry, within a minute", v, err, calls.Load(), time.Since(start))
		}
		wantAtRest(t, p)

		q := newPool(t, workers.Config{MaxWorkers: 1})
		g := workers.Spawn(context.Background(), flaky(1, 7, &calls), workers.OnPool(q), retry)
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := q.Shutdown(ctx); err != context.Canceled {
			t.Errorf("Shutdown with an ended context: %v, want context.Canceled", err)
		}
		if _, err := await(g); !errors.Is(err, workers.ErrPoolClosed) || !errors.Is(err, async.ErrCancelled) {
			t.Errorf("task waiting to retry at Shutdown: %v, want cancelled with ErrPoolClosed", err)
		}
		wantAtRest(t, q)
	})
}

// A Retryable that calls runtime.Goexit, or panics, means no retry: the
// task fails with its call's own error, and the pool loses no worker and
// no task.
func TestRetryableGoexitOrPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 1)
		for _, hostile := range []func(error) bool{
			func(error) bool { runtime.Goexit(); return true },
			func(error) bool { panic("hostile Retryable") },
		} {
			boom := &codeError{Code: 1}
			var calls atomic.Int32
			f := workers.Spawn(context.Background(), func(context.Context) (int, error) { calls.Add(1); return 0, boom },
				workers.OnPool(p), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3, Retryable: hostile}))
			if _, err := await(f); err != boom || calls.Load() != 1 {
				t.Errorf("%d calls, error %v; want 1 call and the call's own error", calls.Load(), err)
			}
			g := workers.SpawnAll(context.Background(), []func(context.Context) (int, error){returns(1), func(context.Context) (int, error) { return 0, boom }},
				workers.OnPool(p), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3, Retryable: hostile}))
			if _, err := await(g); !errors.Is(err, boom) {
				t.Errorf("batch: %v, want task 1's error", err)
			}
		}
		if v, err := await(workers.Spawn(context.Background(), returns(5), workers.OnPool(p))); v != 5 || err != nil {
			t.Errorf("pool after hostile Retryables: %v, %v", v, err)
		}
	})
}

package workers_test

// WithTimeout (counted from Spawn) and WithRunTimeout (counted from the
// moment a worker starts the function): the future settles at the deadline
// with a *TimeoutError, a queued task that times out never runs, the
// function's context ends, and a late result is dropped.
//
// Unlike a check of the clock before and after the function ran, a timeout
// here settles the future at the deadline, while the function may still be
// running.

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

func TestTimeoutNotReached(t *testing.T) {
	bothWaysInBubble(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		start := time.Now()
		f := workers.Spawn(context.Background(), sleeps(100*time.Millisecond, "ok"), workers.WithTimeout(time.Second), workers.OnPool(p))
		v, err := waitFor(w, f)
		if v != "ok" || err != nil {
			t.Fatalf("got (%q, %v), want (\"ok\", nil)", v, err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("settled after %v, want 100ms", d)
		}
		// Passing the deadline afterwards changes nothing.
		time.Sleep(2 * time.Second)
		if r, _ := f.Result(); r.Value != "ok" || r.Err != nil || f.State() != async.Fulfilled {
			t.Errorf("after the deadline: State()=%v Result()=%+v, want fulfilled with \"ok\"", f.State(), r)
		}
		if s := p.Stats(); s.Completed != 1 || s.TimedOut != 0 {
			t.Errorf("Completed=%d TimedOut=%d, want 1 and 0", s.Completed, s.TimedOut)
		}
	})
}

func TestTimeoutExceeded(t *testing.T) {
	t.Run("function ignores its context", func(t *testing.T) {
		bothWaysInBubble(t, func(t *testing.T, w waiter) {
			p := scopedPool(t, 1)
			var cause, ctxErr error
			returned := make(chan struct{}) // closed once the function has returned
			start := time.Now()
			f := workers.Spawn(context.Background(), func(ctx context.Context) (string, error) {
				time.Sleep(time.Second) // a blocking call that cannot be interrupted
				cause, ctxErr = context.Cause(ctx), ctx.Err()
				close(returned)
				return "too late", nil
			}, workers.WithTimeout(100*time.Millisecond), workers.OnPool(p))

			v, err := waitFor(w, f)
			// The future is rejected at the deadline, not when the
			// function gives up 900ms later.
			if d := time.Since(start); d != 100*time.Millisecond {
				t.Errorf("settled after %v, want exactly 100ms", d)
			}
			if v != "" {
				t.Errorf("value = %q, want the zero value", v)
			}
			wantTimeout(t, err, "", 100*time.Millisecond)
			if s := f.State(); s != async.Rejected {
				t.Errorf("State() = %v, want rejected", s)
			}
			synctest.Wait()
			select {
			case <-returned:
				t.Fatal("the function returned before its 1s sleep ended")
			default:
			}
			if s := p.Stats(); s.Active != 1 || s.Abandoned != 1 || s.TimedOut != 1 {
				t.Errorf("while the function still runs: Active=%d Abandoned=%d TimedOut=%d, want 1, 1, 1",
					s.Active, s.Abandoned, s.TimedOut)
			}

			// Once it returns, its value is dropped and counted as late,
			// and its context tells why it was abandoned.
			<-returned
			if d := time.Since(start); d != time.Second {
				t.Errorf("the function returned after %v, want 1s", d)
			}
			synctest.Wait()
			if !errors.Is(ctxErr, context.DeadlineExceeded) {
				t.Errorf("ctx.Err() in the function = %v, want context.DeadlineExceeded", ctxErr)
			}
			var te *workers.TimeoutError
			if !errors.As(cause, &te) || te.Timeout != 100*time.Millisecond {
				t.Errorf("context.Cause(ctx) in the function = %v, want the *TimeoutError", cause)
			}
			if _, err2 := waitFor(w, f); err2 != err {
				t.Errorf("second wait: err = %v, want the same %v (a late value must not replace it)", err2, err)
			}
			if s := p.Stats(); s.Late != 1 || s.Abandoned != 0 || s.Active != 0 || s.Completed != 0 {
				t.Errorf("after the function returned: Late=%d Abandoned=%d Active=%d Completed=%d, want 1, 0, 0, 0",
					s.Late, s.Abandoned, s.Active, s.Completed)
			}
		})
	})
	t.Run("function watches its context", func(t *testing.T) {
		bothWaysInBubble(t, func(t *testing.T, w waiter) {
			p := scopedPool(t, 1)
			stopped := make(chan time.Duration, 1)
			start := time.Now()
			f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
				if dl, ok := ctx.Deadline(); !ok || dl.Sub(start) != 250*time.Millisecond {
					t.Errorf("ctx.Deadline() = (%v, %v), want Spawn time + 250ms", dl, ok)
				}
				select {
				case <-ctx.Done():
					stopped <- time.Since(start)
					return 0, context.Cause(ctx)
				case <-time.After(time.Hour):
					return 1, nil
				}
			}, workers.WithTimeout(250*time.Millisecond), workers.OnPool(p))
			_, err := waitFor(w, f)
			wantTimeout(t, err, "", 250*time.Millisecond)
			if d := <-stopped; d != 250*time.Millisecond {
				t.Errorf("the function's context ended after %v, want 250ms", d)
			}
		})
	})
}

func TestTimeoutVeryShort(t *testing.T) {
	t.Run("running", func(t *testing.T) {
		bothWaysInBubble(t, func(t *testing.T, w waiter) {
			p := scopedPool(t, 1)
			start := time.Now()
			f := workers.Spawn(context.Background(), sleeps(time.Second, 1), workers.WithTimeout(time.Nanosecond), workers.OnPool(p))
			_, err := waitFor(w, f)
			wantTimeout(t, err, "", time.Nanosecond)
			if d := time.Since(start); d != time.Nanosecond {
				t.Errorf("settled after %v, want 1ns", d)
			}
		})
	})
	t.Run("queued", func(t *testing.T) {
		// A task whose deadline passes while it waits for a worker never
		// runs, and leaves the queue at the deadline.
		bothWaysInBubble(t, func(t *testing.T, w waiter) {
			p := scopedPool(t, 1)
			busy := workers.Spawn(context.Background(), sleeps(time.Second, 0), workers.OnPool(p))
			var ran atomic.Bool
			start := time.Now()
			f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
				ran.Store(true)
				return 1, nil
			}, workers.WithTimeout(time.Millisecond), workers.WithName("queued"), workers.OnPool(p))
			if q := p.QueuedCount(); q != 1 {
				t.Fatalf("QueuedCount() = %d, want 1", q)
			}
			_, err := waitFor(w, f)
			wantTimeout(t, err, "queued", time.Millisecond)
			if d := time.Since(start); d != time.Millisecond {
				t.Errorf("settled after %v, want 1ms", d)
			}
			if q := p.QueuedCount(); q != 0 {
				t.Errorf("QueuedCount() after the queued task timed out = %d, want 0", q)
			}
			if _, err := busy.Await(context.Background()); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			if ran.Load() {
				t.Error("a task that timed out in the queue ran")
			}
			if s := p.Stats(); s.TimedOut != 1 || s.Late != 0 {
				t.Errorf("TimedOut=%d Late=%d, want 1 and 0", s.TimedOut, s.Late)
			}
		})
	})
}

func TestTimeoutImmediateReturn(t *testing.T) {
	bothWaysInBubble(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		start := time.Now()
		f := workers.Spawn(context.Background(), returns(7), workers.WithTimeout(time.Second), workers.OnPool(p))
		v, err := waitFor(w, f)
		if v != 7 || err != nil {
			t.Fatalf("got (%v, %v), want (7, nil)", v, err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("settled after %v, want 0", d)
		}
		// The timer is stopped: nothing happens at the deadline.
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if r, _ := f.Result(); f.State() != async.Fulfilled || r.Value != 7 {
			t.Errorf("after the deadline: State()=%v Result()=%+v, want fulfilled with 7", f.State(), r)
		}
		if s := p.Stats(); s.Completed != 1 || s.TimedOut != 0 || s.Late != 0 {
			t.Errorf("Completed=%d TimedOut=%d Late=%d, want 1, 0, 0", s.Completed, s.TimedOut, s.Late)
		}
	})
}

func TestTimeoutsDifferPerTask(t *testing.T) {
	cases := []struct {
		timeout, work time.Duration
		timesOut      bool
		settle        time.Duration // when the future should settle, from Spawn
	}{
		{timeout: 50 * time.Millisecond, work: 100 * time.Millisecond, timesOut: true, settle: 50 * time.Millisecond},
		{timeout: 200 * time.Millisecond, work: 100 * time.Millisecond, settle: 100 * time.Millisecond},
		{timeout: 0, work: 300 * time.Millisecond, settle: 300 * time.Millisecond},
		{timeout: 150 * time.Millisecond, work: 10 * time.Millisecond, settle: 10 * time.Millisecond},
		{timeout: 100 * time.Millisecond, work: 500 * time.Millisecond, timesOut: true, settle: 100 * time.Millisecond},
	}
	bothWaysInBubble(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, len(cases))
		start := time.Now()
		fs := make([]*async.Future[int], len(cases))
		settled := make([]time.Duration, len(cases))
		var watchers sync.WaitGroup
		for i, c := range cases {
			fs[i] = workers.Spawn(context.Background(), sleeps(c.work, i), workers.WithTimeout(c.timeout), workers.OnPool(p))
			watchers.Go(func() {
				<-fs[i].Done()
				settled[i] = time.Since(start)
			})
		}
		rs, err := waitFor(w, async.AllSettled(fs...))
		if err != nil {
			t.Fatal(err)
		}
		watchers.Wait() // the Done watchers have recorded their times
		timedOut := 0
		for i, c := range cases {
			r := rs[i]
			if c.timesOut {
				timedOut++
				wantTimeout(t, r.Err, "", c.timeout)
			} else if r.Err != nil || r.Value != i {
				t.Errorf("task %d (timeout %v, work %v): got (%v, %v), want (%d, nil)", i, c.timeout, c.work, r.Value, r.Err, i)
			}
			if settled[i] != c.settle {
				t.Errorf("task %d (timeout %v, work %v): settled after %v, want %v", i, c.timeout, c.work, settled[i], c.settle)
			}
		}
		if s := p.Stats(); s.TimedOut != uint64(timedOut) {
			t.Errorf("Stats().TimedOut = %d, want %d", s.TimedOut, timedOut)
		}
	})
}

func TestTimeoutNone(t *testing.T) {
	for _, opt := range []struct {
		name string
		opts []workers.Option
	}{
		{"no option", nil},
		{"WithTimeout(0)", []workers.Option{workers.WithTimeout(0)}},
	} {
		t.Run(opt.name, func(t *testing.T) {
			bothWaysInBubble(t, func(t *testing.T, w waiter) {
				p := scopedPool(t, 1)
				start := time.Now()
				f := workers.Spawn(context.Background(), func(ctx context.Context) (string, error) {
					if dl, ok := ctx.Deadline(); ok {
						t.Errorf("ctx.Deadline() = %v, true; want no deadline", dl)
					}
					time.Sleep(time.Hour)
					return "slow but fine", ctx.Err()
				}, append(opt.opts, workers.OnPool(p))...)
				v, err := waitFor(w, f)
				if v != "slow but fine" || err != nil {
					t.Fatalf("got (%q, %v), want (\"slow but fine\", nil)", v, err)
				}
				if d := time.Since(start); d != time.Hour {
					t.Errorf("settled after %v, want 1h", d)
				}
			})
		})
	}
}

func TestTimeoutErrorMessage(t *testing.T) {
	cases := []struct {
		name    string
		timeout time.Duration
		want    string
	}{
		{"resize", 2 * time.Second, `task "resize" timed out after 2s`},
		{"", 1500 * time.Millisecond, `task timed out after 1.5s`},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			bothWaysInBubble(t, func(t *testing.T, w waiter) {
				p := scopedPool(t, 1)
				opts := []workers.Option{workers.WithTimeout(c.timeout), workers.OnPool(p)}
				if c.name != "" {
					opts = append(opts, workers.WithName(c.name))
				}
				f := workers.Spawn(context.Background(), blocks(nil, 0), opts...)
				_, err := waitFor(w, f)
				if err == nil {
					t.Fatal("err = nil, want a timeout")
				}
				if got := err.Error(); got != c.want {
					t.Errorf("err.Error() = %q, want %q", got, c.want)
				}
				wantTimeout(t, err, c.name, c.timeout)
			})
		})
	}
}

// A task still queued at its deadline never runs; its future is rejected at
// the deadline, counted from Spawn, and it leaves the queue at once.
func TestTimeoutQueuedTaskNeverRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		release := make(chan struct{})
		blocker := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			<-release
			return 1, nil
		}, workers.OnPool(p))
		var ran atomic.Bool
		start := time.Now()
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			ran.Store(true)
			return 2, nil
		}, workers.OnPool(p), workers.WithTimeout(time.Second))
		if q := p.QueuedCount(); q != 1 {
			t.Fatalf("QueuedCount() = %d, want 1", q)
		}

		_, err := await(f)
		if d := time.Since(start); d != time.Second {
			t.Errorf("future settled %v after Spawn, want exactly 1s", d)
		}
		wantTimeout(t, err, "", time.Second)
		wantState(t, f, async.Rejected)
		if q := p.QueuedCount(); q != 0 {
			t.Errorf("QueuedCount() after the timeout = %d, want 0", q)
		}

		close(release)
		if v, err := await(blocker); v != 1 || err != nil {
			t.Fatalf("blocker = %v, %v", v, err)
		}
		synctest.Wait()
		if ran.Load() {
			t.Error("the timed-out queued task ran")
		}
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 2, Completed: 1, TimedOut: 1})
		shutdown(t, p)
	})
}

// The deadline counts from Spawn, not from when the function starts: time
// spent queued uses it up.
func TestTimeoutCountsFromSpawnNotStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		first := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			time.Sleep(2 * time.Second)
			return 1, nil
		}, workers.OnPool(p))
		start := time.Now()
		startedAt := make(chan time.Duration, 1)
		endedAt := make(chan time.Duration, 1)
		second := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
			startedAt <- time.Since(start)
			<-ctx.Done()
			endedAt <- time.Since(start)
			return 2, nil
		}, workers.OnPool(p), workers.WithTimeout(3*time.Second))

		_, err := await(second)
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("second task's future settled %v after Spawn, want 3s (queued 2s + ran 1s)", d)
		}
		wantTimeout(t, err, "", 3*time.Second)
		if d := <-startedAt; d != 2*time.Second {
			t.Errorf("second task started at %v, want 2s", d)
		}
		if d := <-endedAt; d != 3*time.Second {
			t.Errorf("second task's context ended at %v, want 3s", d)
		}
		if v, err := await(first); v != 1 || err != nil {
			t.Errorf("first = %v, %v", v, err)
		}
		synctest.Wait()
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 2, Completed: 1, TimedOut: 1, Late: 1})
		shutdown(t, p)
	})
}

// A running task's future is rejected at the deadline while the function,
// which ignores its context, keeps running; what it returns later is
// dropped and counted as Late, and the pool counts it as Abandoned
// meanwhile.
func TestTimeoutRunningTaskRejectedAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		release := make(chan struct{})
		start := time.Now()
		f := workers.Spawn(context.Background(), func(context.Context) (string, error) {
			<-release // ignores its context
			return "late", nil
		}, workers.OnPool(p), workers.WithTimeout(2*time.Second), workers.WithName("resize"))

		_, err := await(f)
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("future settled %v after Spawn, want exactly 2s", d)
		}
		te := wantTimeout(t, err, "resize", 2*time.Second)
		if got, want := err.Error(), `task "resize" timed out after 2s`; got != want {
			t.Errorf("Error() = %q, want %q", got, want)
		}

		// The function is still running.
		synctest.Wait()
		s := p.Stats()
		if s.Active != 1 || s.Abandoned != 1 || s.Workers != 1 || p.ActiveCount() != 1 {
			t.Errorf("while the timed-out function runs: Active=%d Abandoned=%d Workers=%d, want 1, 1, 1",
				s.Active, s.Abandoned, s.Workers)
		}
		if s.TimedOut != 1 || s.Late != 0 {
			t.Errorf("TimedOut=%d Late=%d, want 1, 0", s.TimedOut, s.Late)
		}
		if ts := p.Tasks(); len(ts) != 1 || !ts[0].Abandoned || ts[0].State != workers.TaskRunning {
			t.Errorf("Tasks() = %+v, want one running abandoned task", ts)
		}

		close(release)
		synctest.Wait()
		r, ok := f.Result()
		if !ok || r.Err != error(te) || r.Value != "" {
			t.Errorf("after the late return, Result() = %+v, %v; want the same *TimeoutError", r, ok)
		}
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 1, TimedOut: 1, Late: 1})
		wantAtRest(t, p)
		shutdown(t, p)
	})
}

// A late error is dropped too: it counts as Late, not Failed.
func TestTimeoutLateErrorIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			time.Sleep(5 * time.Second)
			return 0, errBoom
		}, workers.OnPool(p), workers.WithTimeout(time.Second))
		_, err := await(f)
		wantTimeout(t, err, "", time.Second)
		if errors.Is(err, errBoom) {
			t.Error("the timeout error reaches the function's late error")
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 1, TimedOut: 1, Late: 1})
		shutdown(t, p)
	})
}

// The function's context ends exactly at the deadline with
// DeadlineExceeded, its cause is the very *TimeoutError of the future, and
// Deadline reports it from the start.
func TestTimeoutTaskContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		type seen struct {
			deadline time.Time
			hasDL    bool
			elapsed  time.Duration
			err      error
			cause    error
		}
		out := make(chan seen, 1)
		start := time.Now()
		f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
			var s seen
			s.deadline, s.hasDL = ctx.Deadline()
			<-ctx.Done()
			s.elapsed, s.err, s.cause = time.Since(start), ctx.Err(), context.Cause(ctx)
			out <- s
			return 0, nil
		}, workers.OnPool(p), workers.WithTimeout(3*time.Second), workers.WithName("ctx"))

		_, err := await(f)
		te := wantTimeout(t, err, "ctx", 3*time.Second)
		s := <-out
		if !s.hasDL || !s.deadline.Equal(start.Add(3*time.Second)) {
			t.Errorf("ctx.Deadline() = %v, %v; want %v, true", s.deadline, s.hasDL, start.Add(3*time.Second))
		}
		if s.elapsed != 3*time.Second {
			t.Errorf("ctx ended %v after Spawn, want 3s", s.elapsed)
		}
		if s.err != context.DeadlineExceeded {
			t.Errorf("ctx.Err() = %v, want context.DeadlineExceeded", s.err)
		}
		var cte *workers.TimeoutError
		if !errors.As(s.cause, &cte) || cte != te {
			t.Errorf("context.Cause(ctx) = %v (%T), want the future's *TimeoutError %p", s.cause, s.cause, te)
		}
		synctest.Wait()
		shutdown(t, p)
	})
}

// WithTimeout(0) means no timeout: the task may run for as long as it
// likes, and its context has no deadline.
func TestTimeoutZeroMeansNone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		f := workers.Spawn(context.Background(), func(ctx context.Context) (bool, error) {
			_, has := ctx.Deadline()
			time.Sleep(24 * time.Hour)
			return has, ctx.Err()
		}, workers.OnPool(p), workers.WithTimeout(0))
		has, err := await(f)
		if err != nil || has {
			t.Errorf("WithTimeout(0): err = %v, context had a deadline = %v; want nil, false", err, has)
		}
		synctest.Wait()
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 1, Completed: 1})
		shutdown(t, p)
	})
}

// The last WithTimeout wins.
func TestTimeoutLastOptionWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		start := time.Now()
		f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, nil
		}, workers.OnPool(p), workers.WithTimeout(time.Hour), workers.WithTimeout(time.Second))
		_, err := await(f)
		wantTimeout(t, err, "", time.Second)
		if d := time.Since(start); d != time.Second {
			t.Errorf("timed out after %v, want 1s", d)
		}
		synctest.Wait()
		shutdown(t, p)
	})
}

// WithRunTimeout counts from the start of the function, not from Spawn: a
// task that waits in the queue longer than its run timeout still runs, and
// times out once it has run that long.
func TestRunTimeoutCountsFromStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		release := make(chan struct{})
		busy := workers.Spawn(context.Background(), func(context.Context) (int, error) { <-release; return 0, nil },
			workers.OnPool(p))
		type seen struct {
			started  time.Time
			deadline time.Time
			err      error
			cause    error
		}
		out := make(chan seen, 1)
		t0 := time.Now()
		f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
			s := seen{started: time.Now()}
			s.deadline, _ = ctx.Deadline()
			<-ctx.Done()
			s.err, s.cause = ctx.Err(), context.Cause(ctx)
			out <- s
			return 1, nil
		}, workers.OnPool(p), workers.WithRunTimeout(time.Second), workers.WithName("slow"))
		time.Sleep(5 * time.Second) // queued five times longer than its run timeout
		wantState(t, f, async.Pending)
		close(release)
		_, err := await(f)
		if d := time.Since(t0); d != 6*time.Second {
			t.Errorf("settled %v after Spawn, want 6s (5s queued + 1s running)", d)
		}
		wantRunTimeout(t, err, "slow", time.Second)
		if want := `task "slow" timed out after running 1s`; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}
		s := <-out
		if !s.deadline.Equal(s.started.Add(time.Second)) {
			t.Errorf("ctx.Deadline() = %v, want the start plus 1s (%v)", s.deadline, s.started.Add(time.Second))
		}
		if s.err != context.DeadlineExceeded || !errors.Is(s.cause, workers.ErrTimeout) {
			t.Errorf("ctx ended with %v, cause %v; want DeadlineExceeded and the *TimeoutError", s.err, s.cause)
		}
		if _, err := await(busy); err != nil {
			t.Fatal(err)
		}
		shutdown(t, p)
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 2, Completed: 1, TimedOut: 1, Late: 1})
	})
}

// With both timeouts, the first to pass wins.
func TestRunTimeoutAndTimeoutFirstWins(t *testing.T) {
	for _, c := range []struct {
		name          string
		timeout, run  time.Duration
		queued, after time.Duration
		runWins       bool
	}{
		{"run first", 10 * time.Second, time.Second, 0, time.Second, true},
		{"schedule first", 3 * time.Second, 5 * time.Second, 2 * time.Second, 3 * time.Second, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPool(t, workers.Config{MaxWorkers: 1})
				release := make(chan struct{})
				go func() { time.Sleep(c.queued); close(release) }()
				busy := workers.Spawn(context.Background(), func(context.Context) (int, error) { <-release; return 0, nil },
					workers.OnPool(p))
				t0 := time.Now()
				f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
					<-ctx.Done()
					return 0, ctx.Err()
				}, workers.OnPool(p), workers.WithTimeout(c.timeout), workers.WithRunTimeout(c.run))
				_, err := await(f)
				if d := time.Since(t0); d != c.after {
					t.Errorf("settled after %v, want %v", d, c.after)
				}
				var te *workers.TimeoutError
				if !errors.As(err, &te) || te.Run != c.runWins {
					t.Errorf("err = %v, want a *TimeoutError with Run = %v", err, c.runWins)
				}
				if _, err := await(busy); err != nil {
					t.Fatal(err)
				}
				shutdown(t, p)
			})
		})
	}
}

// In a batch, WithRunTimeout applies to each task from its own start: tasks
// that wait behind others do not time out, and the first task to overrun
// fails the batch with a *TaskError around the run timeout.
func TestRunTimeoutSpawnAllPerTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		var ran atomic.Int64
		fns := make([]func(context.Context) (int, error), 5)
		for i := range fns {
			fns[i] = func(ctx context.Context) (int, error) {
				ran.Add(1)
				d := 900 * time.Millisecond // each under the run timeout, 4.5s in all
				if i == 3 {
					d = time.Hour
				}
				select {
				case <-time.After(d):
					return i, nil
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			}
		}
		t0 := time.Now()
		_, err := await(workers.SpawnAll(context.Background(), fns, workers.OnPool(p),
			workers.WithRunTimeout(time.Second), workers.WithName("batch")))
		if d := time.Since(t0); d != 3*900*time.Millisecond+time.Second {
			t.Errorf("failed after %v, want 3.7s (three tasks of 0.9s, then the fourth's 1s)", d)
		}
		var te *workers.TaskError
		if !errors.As(err, &te) || te.Index != 3 || te.Name != "batch" {
			t.Fatalf("err = %v, want a *TaskError for task 3", err)
		}
		wantRunTimeout(t, err, "batch", time.Second)
		shutdown(t, p)
		if n := ran.Load(); n != 4 {
			t.Errorf("%d functions ran, want 4 (task 4 never starts)", n)
		}
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 5, Completed: 3, TimedOut: 1, Cancelled: 1, Late: 1})
	})
}

// A negative run timeout is refused, for Spawn and SpawnAll alike.
func TestRunTimeoutBadInput(t *testing.T) {
	p := newPool(t, workers.Config{})
	defer shutdown(t, p)
	f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 0, nil },
		workers.OnPool(p), workers.WithRunTimeout(-time.Second))
	wantRejectedAtOnce(t, f, workers.ErrInvalidArgument)
	g := workers.SpawnAll(context.Background(), []func(context.Context) (int, error){
		func(context.Context) (int, error) { return 0, nil },
	}, workers.OnPool(p), workers.WithRunTimeout(-1))
	wantRejectedAtOnce(t, g, workers.ErrInvalidArgument)
}

// A batch's task that overran its WithRunTimeout and returned before the
// timer fired still times out, as a single Spawn does: the deadline wins.
func TestBatchRunTimeoutDeadlineWins(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2})
	ctx := context.Background()
	overrun := func(context.Context) (int, error) { spin(450 * time.Microsecond); return 1, nil }
	for i := range 40 {
		_, err := workers.SpawnAll(ctx, []func(context.Context) (int, error){overrun}, workers.OnPool(p),
			workers.WithRunTimeout(300*time.Microsecond)).Await(ctx)
		var te *workers.TimeoutError
		if !errors.As(err, &te) || !te.Run {
			t.Fatalf("batch %d: a task that ran 450µs past a 300µs run timeout gave %v, want a run *TimeoutError", i, err)
		}
		var task *workers.TaskError
		if !errors.As(err, &task) || task.Index != 0 {
			t.Fatalf("batch %d: %v is not the *TaskError of task 0", i, err)
		}
	}
	shutdown(t, p)
	wantSumsUp(t, p.Stats())
	if s := p.Stats(); s.TimedOut != 40 || s.Completed != 0 {
		t.Errorf("TimedOut %d, Completed %d; want 40 and 0", s.TimedOut, s.Completed)
	}
}

// The same for a batch's WithTimeout, which counts from SpawnAll.
func TestBatchTimeoutDeadlineWins(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2})
	ctx := context.Background()
	overrun := func(context.Context) (int, error) { spin(450 * time.Microsecond); return 1, nil }
	for i := range 40 {
		_, err := workers.SpawnAll(ctx, []func(context.Context) (int, error){overrun}, workers.OnPool(p),
			workers.WithTimeout(300*time.Microsecond)).Await(ctx)
		var te *workers.TimeoutError
		if !errors.As(err, &te) || te.Run || te.Timeout != 300*time.Microsecond {
			t.Fatalf("batch %d: a batch that ran 450µs past its 300µs timeout gave %v, want its *TimeoutError", i, err)
		}
	}
	shutdown(t, p)
	wantSumsUp(t, p.Stats())
	if s := p.Stats(); s.TimedOut != 40 || s.Completed != 0 {
		t.Errorf("TimedOut %d, Completed %d; want 40 and 0", s.TimedOut, s.Completed)
	}
}

// Deadlines that pass together fire together, on the pool's timer
// goroutine: a waker that calls runtime.Goexit when one of them settles its
// future ends that goroutine, but every other deadline still fires (a
// timeout, a delayed task's due time). Found by FuzzPoolModel.
func TestTimeoutFiringsSurviveGoexitWaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 1)
		release, _ := fillPool(t, p)
		a := workers.Spawn(context.Background(), returns(1), workers.OnPool(p), workers.WithTimeout(time.Second))
		a.Poll(async.WakerFunc(runtime.Goexit))
		b := workers.Spawn(context.Background(), returns(2), workers.OnPool(p), workers.WithTimeout(time.Second))
		c := workers.Spawn(context.Background(), returns(3), workers.OnPool(p), workers.WithDelay(time.Second))
		time.Sleep(2 * time.Second)
		wantState(t, a, async.Rejected)
		wantState(t, b, async.Rejected)
		if ts := p.Tasks(); len(ts) != 2 || ts[1].State != workers.TaskQueued {
			t.Errorf("Tasks() = %+v, want the delayed task queued behind the running one", ts)
		}
		release()
		if v, err := await(c); v != 3 || err != nil {
			t.Errorf("delayed task: %v, %v", v, err)
		}
	})
}

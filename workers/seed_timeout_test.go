package workers_test

// The seed's test_worker_timeout.py (7 tests), ported. Every test runs in a
// testing/synctest bubble: the clock is fake, so the deadlines are checked
// to the nanosecond and the tests take no real time.
//
// Unlike the seed, which looked at the clock only before and after the
// function ran, a timeout here settles the future at the deadline, while
// the function may still be running.

import (
	"github.com/velalang/runtime/workers"

	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
)

func TestWorkerCompletesWithinTimeout(t *testing.T) {
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

func TestWorkerExceedsTimeout(t *testing.T) {
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

func TestWorkerTimeoutVeryShort(t *testing.T) {
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

func TestWorkerTimeoutImmediateReturn(t *testing.T) {
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

func TestMultipleWorkersDifferentTimeouts(t *testing.T) {
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

func TestWorkerNoTimeout(t *testing.T) {
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

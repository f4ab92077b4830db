package workers_test

// The seed's test_worker_cancellation.py (6 tests), ported. In the seed,
// cancelling was best effort: the future was rejected but the thread ran
// on. Here the future settles as Cancelled at once, a queued task never
// runs, and a running function sees its context end.

import (
	"github.com/velalang/runtime/workers"

	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
)

func TestCancelWorkerBeforeCompletion(t *testing.T) {
	t.Run("running, watches its context", func(t *testing.T) {
		bothWaysInBubble(t, func(t *testing.T, w waiter) {
			p := scopedPool(t, 1)
			var ctxErr, cause error
			var stoppedAt time.Duration
			start := time.Now()
			f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
				select {
				case <-ctx.Done():
					ctxErr, cause, stoppedAt = ctx.Err(), context.Cause(ctx), time.Since(start)
					return 0, cause
				case <-time.After(time.Hour):
					return 1, nil
				}
			}, workers.OnPool(p))
			time.AfterFunc(10*time.Millisecond, func() {
				if !f.Cancel() {
					t.Error("Cancel() of a running task = false, want true")
				}
			})
			v, err := waitFor(w, f)
			if d := time.Since(start); d != 10*time.Millisecond {
				t.Errorf("wait returned %v after Spawn, want 10ms (the moment of Cancel)", d)
			}
			if v != 0 {
				t.Errorf("value = %d, want 0", v)
			}
			wantCancelled(t, err)
			if s := f.State(); s != async.Cancelled {
				t.Errorf("State() = %v, want cancelled", s)
			}
			shutdown(t, p) // the function has returned: what it recorded is safe to read
			if !errors.Is(ctxErr, context.Canceled) || !errors.Is(cause, async.ErrCancelled) {
				t.Errorf("in the function: ctx.Err() = %v, context.Cause(ctx) = %v; want context.Canceled and async.ErrCancelled", ctxErr, cause)
			}
			if stoppedAt != 10*time.Millisecond {
				t.Errorf("the function's context ended after %v, want 10ms", stoppedAt)
			}
			if s := p.Stats(); s.Cancelled != 1 || s.Late != 1 || s.Completed+s.Failed != 0 {
				t.Errorf("Cancelled=%d Late=%d Completed+Failed=%d, want 1, 1, 0", s.Cancelled, s.Late, s.Completed+s.Failed)
			}
		})
	})
	t.Run("running, ignores its context", func(t *testing.T) {
		// The seed's best-effort case: the function cannot be stopped, but
		// the caller no longer waits for it.
		bothWaysInBubble(t, func(t *testing.T, w waiter) {
			p := scopedPool(t, 1)
			start := time.Now()
			f := workers.Spawn(context.Background(), sleeps(time.Hour, "ignored"), workers.OnPool(p))
			time.AfterFunc(10*time.Millisecond, func() { f.Cancel() })
			v, err := waitFor(w, f)
			if d := time.Since(start); d != 10*time.Millisecond {
				t.Errorf("wait returned %v after Spawn, want 10ms", d)
			}
			if v != "" {
				t.Errorf("value = %q, want \"\"", v)
			}
			wantCancelled(t, err)
			if s := p.Stats(); s.Active != 1 || s.Abandoned != 1 {
				t.Errorf("Active=%d Abandoned=%d, want 1 and 1 while the function runs on", s.Active, s.Abandoned)
			}
		})
	})
	t.Run("queued", func(t *testing.T) {
		bothWaysInBubble(t, func(t *testing.T, w waiter) {
			p := scopedPool(t, 1)
			busy := workers.Spawn(context.Background(), sleeps(time.Second, 0), workers.OnPool(p))
			var ran atomic.Bool
			f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
				ran.Store(true)
				return 1, nil
			}, workers.OnPool(p))
			if q := p.QueuedCount(); q != 1 {
				t.Fatalf("QueuedCount() = %d, want 1", q)
			}
			time.AfterFunc(10*time.Millisecond, func() { f.Cancel() })
			_, err := waitFor(w, f)
			wantCancelled(t, err)
			if q := p.QueuedCount(); q != 0 {
				t.Errorf("QueuedCount() after Cancel = %d, want 0", q)
			}
			if _, err := busy.Await(context.Background()); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			if ran.Load() {
				t.Error("a task cancelled while queued ran")
			}
		})
	})
}

func TestCancelAlreadyCompletedWorker(t *testing.T) {
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		f := workers.Spawn(context.Background(), returns(7), workers.OnPool(p))
		if v, err := waitFor(w, f); v != 7 || err != nil {
			t.Fatalf("got (%v, %v), want (7, nil)", v, err)
		}
		if f.Cancel() {
			t.Error("Cancel() of a fulfilled future = true, want false")
		}
		if f.CancelWithCause(errors.New("too late")) {
			t.Error("CancelWithCause() of a fulfilled future = true, want false")
		}
		if s := f.State(); s != async.Fulfilled {
			t.Errorf("State() after Cancel = %v, want still fulfilled", s)
		}
		if v, err := waitFor(w, f); v != 7 || err != nil {
			t.Errorf("after Cancel: got (%v, %v), want still (7, nil)", v, err)
		}
		if s := p.Stats(); s.Completed != 1 || s.Cancelled != 0 {
			t.Errorf("Completed=%d Cancelled=%d, want 1 and 0", s.Completed, s.Cancelled)
		}
	})
}

func TestCancelMultipleWorkers(t *testing.T) {
	const n, nWorkers = 5, 2
	bothWaysInBubble(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, nWorkers)
		started := make(chan int, n)
		var fs []*async.Future[int]
		for i := range n {
			fs = append(fs, workers.Spawn(context.Background(), blocks(started, i), workers.OnPool(p)))
		}
		synctest.Wait()
		if a, q := p.ActiveCount(), p.QueuedCount(); a != nWorkers || q != n-nWorkers {
			t.Fatalf("ActiveCount()=%d QueuedCount()=%d, want %d and %d", a, q, nWorkers, n-nWorkers)
		}
		// Newest first: the queued tasks leave the queue before a running
		// one is cancelled and frees its worker, which would otherwise
		// start the next queued task before the test reached it.
		for i := n - 1; i >= 0; i-- {
			if !fs[i].Cancel() {
				t.Errorf("Cancel() of task %d = false, want true", i)
			}
		}
		for i, f := range fs {
			_, err := waitFor(w, f)
			if !errors.Is(err, async.ErrCancelled) {
				t.Errorf("task %d: err = %v, want async.ErrCancelled", i, err)
			}
		}
		// The running functions saw their context end and returned; the
		// queued ones never started.
		synctest.Wait()
		if len(started) != nWorkers {
			t.Errorf("%d functions started, want only the %d that were running", len(started), nWorkers)
		}
		if s := p.Stats(); s.Cancelled != n || s.Active != 0 || s.Queued != 0 {
			t.Errorf("Cancelled=%d Active=%d Queued=%d, want %d, 0, 0", s.Cancelled, s.Active, s.Queued, n)
		}
	})
}

func TestCancelSomeWorkersNotOthers(t *testing.T) {
	const n = 6
	bothWaysInBubble(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, n)
		release := make(chan struct{})
		ctxErrs := make([]error, n)
		var fs []*async.Future[int]
		for i := range n {
			fs = append(fs, workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
				select {
				case <-release:
				case <-ctx.Done():
				}
				ctxErrs[i] = ctx.Err()
				return i * 100, nil
			}, workers.OnPool(p)))
		}
		synctest.Wait()
		for i := 0; i < n; i += 2 { // cancel the even ones
			fs[i].Cancel()
		}
		synctest.Wait() // the cancelled functions have returned
		close(release)
		for i, f := range fs {
			v, err := waitFor(w, f)
			if i%2 == 0 {
				if !errors.Is(err, async.ErrCancelled) || v != 0 {
					t.Errorf("cancelled task %d: got (%v, %v), want (0, async.ErrCancelled)", i, v, err)
				}
			} else if v != i*100 || err != nil {
				t.Errorf("task %d, not cancelled: got (%v, %v), want (%d, nil)", i, v, err, i*100)
			}
		}
		shutdown(t, p) // every function has returned
		for i, err := range ctxErrs {
			if i%2 == 0 && !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled task %d: ctx.Err() = %v, want context.Canceled", i, err)
			}
			if i%2 == 1 && err != nil {
				t.Errorf("task %d, not cancelled: ctx.Err() = %v, want nil: cancelling a sibling must not touch it", i, err)
			}
		}
		if s := p.Stats(); s.Cancelled != n/2 || s.Completed != n/2 {
			t.Errorf("Cancelled=%d Completed=%d, want %d and %d", s.Cancelled, s.Completed, n/2, n/2)
		}
	})
}

func TestCancellationErrorMessage(t *testing.T) {
	t.Run("Cancel", func(t *testing.T) {
		bothWays(t, func(t *testing.T, w waiter) {
			p := scopedPool(t, 1)
			f := workers.Spawn(context.Background(), blocks(nil, 0), workers.OnPool(p))
			f.Cancel()
			_, err := waitFor(w, f)
			wantCancelled(t, err)
			if msg := err.Error(); !strings.Contains(msg, "cancelled") {
				t.Errorf("err.Error() = %q, want it to say \"cancelled\"", msg)
			}
		})
	})
	t.Run("CancelWithCause", func(t *testing.T) {
		bothWays(t, func(t *testing.T, w waiter) {
			p := scopedPool(t, 1)
			cause := errors.New("user pressed stop")
			var seen error
			started := make(chan struct{})
			f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
				close(started)
				<-ctx.Done()
				seen = context.Cause(ctx)
				return 0, nil
			}, workers.OnPool(p))
			<-started // a task cancelled before its function starts never runs it
			f.CancelWithCause(cause)
			_, err := waitFor(w, f)
			wantCancelled(t, err)
			if !errors.Is(err, cause) {
				t.Errorf("err = %v, want errors.Is(err, cause)", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "cancelled") || !strings.Contains(msg, "user pressed stop") {
				t.Errorf("err.Error() = %q, want it to say \"cancelled\" and the cause", msg)
			}
			shutdown(t, p) // the function has returned
			if !errors.Is(seen, cause) {
				t.Errorf("context.Cause(ctx) in the function = %v, want the cause", seen)
			}
		})
	})
	t.Run("parent context", func(t *testing.T) {
		bothWays(t, func(t *testing.T, w waiter) {
			p := scopedPool(t, 1)
			cause := errors.New("request aborted")
			ctx, cancel := context.WithCancelCause(context.Background())
			f := workers.Spawn(ctx, blocks(nil, 0), workers.OnPool(p))
			cancel(cause)
			_, err := waitFor(w, f)
			wantCancelled(t, err)
			if !errors.Is(err, cause) {
				t.Errorf("err = %v, want errors.Is(err, the parent's cause)", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "cancelled") || !strings.Contains(msg, "request aborted") {
				t.Errorf("err.Error() = %q, want it to say \"cancelled\" and the cause", msg)
			}
		})
	})
}

func TestPoolCancelAll(t *testing.T) {
	const nWorkers, queued = 2, 3
	bothWaysInBubble(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, nWorkers)
		started := make(chan int, nWorkers+queued)
		var fs []*async.Future[int]
		for i := range nWorkers + queued {
			fs = append(fs, workers.Spawn(context.Background(), blocks(started, i), workers.OnPool(p)))
		}
		synctest.Wait()
		if n := p.CancelAll(); n != nWorkers+queued {
			t.Errorf("CancelAll() = %d, want %d (every queued and running task)", n, nWorkers+queued)
		}
		for i, f := range fs {
			_, err := waitFor(w, f)
			if !errors.Is(err, async.ErrCancelled) {
				t.Errorf("task %d: err = %v, want async.ErrCancelled", i, err)
			}
		}
		synctest.Wait()
		if len(started) != nWorkers {
			t.Errorf("%d functions started, want %d: queued tasks must not run after CancelAll", len(started), nWorkers)
		}
		if s := p.Stats(); s.Cancelled != nWorkers+queued || s.Active != 0 || s.Queued != 0 {
			t.Errorf("Cancelled=%d Active=%d Queued=%d, want %d, 0, 0", s.Cancelled, s.Active, s.Queued, nWorkers+queued)
		}
		if n := p.CancelAll(); n != 0 {
			t.Errorf("second CancelAll() = %d, want 0", n)
		}
		// The pool stays open.
		if v, err := waitFor(w, workers.Spawn(context.Background(), returns(5), workers.OnPool(p))); v != 5 || err != nil {
			t.Errorf("Spawn after CancelAll: got (%v, %v), want (5, nil)", v, err)
		}
	})
}

package workers_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// wantRunTimeout fails the test unless err is a run timeout of d.
func wantRunTimeout(t *testing.T, err error, name string, d time.Duration) {
	t.Helper()
	if te := wantTimeout(t, err, name, d); !te.Run {
		t.Errorf("TimeoutError.Run = false, want true (the run timeout expired)")
	}
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

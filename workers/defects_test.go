package workers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// spin busy-waits for d of real time: a function that overruns its
// deadline without ever blocking, so the pool's timer goroutine may not
// have run by the time it returns.
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
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

// Many Spawns under one parent context share the pool's one watch on it:
// cancelling the parent costs the cancel() call O(1), not a callback per
// task, and every future still settles, cancelled with the parent's cause.
func TestParentCancelWithManyPendingSpawns(t *testing.T) {
	const n = 50_000
	p := newPool(t, workers.Config{MaxWorkers: 1})
	release, _ := fillPool(t, p)
	parent, cancel := context.WithCancelCause(context.Background())
	futs := make([]*async.Future[int], n)
	for i := range futs {
		futs[i] = workers.Spawn(parent, returns(i), workers.OnPool(p))
	}
	cause := errors.New("request over")
	start := time.Now()
	cancel(cause)
	took := time.Since(start)
	for i, f := range futs {
		if _, err := f.Await(context.Background()); !errors.Is(err, cause) || !errors.Is(err, async.ErrCancelled) {
			t.Fatalf("future %d: %v, want cancelled with the parent's cause", i, err)
		}
	}
	settled := time.Since(start)
	t.Logf("cancel() of %d pending Spawns took %v; all settled after %v", n, took, settled)
	// The budgets (1 ms and 100 ms) hold on a quiet machine without the race
	// detector; the bounds here leave room for a loaded one and still fail
	// with a callback per task (cancel() alone took over 500 ms).
	limit, settleLimit := 20*time.Millisecond, time.Second
	if raceEnabled {
		limit, settleLimit = 100*time.Millisecond, 10*time.Second
	}
	if took > limit || settled > settleLimit {
		t.Errorf("cancel() took %v (want under %v), settling %v (want under %v)", took, limit, settled, settleLimit)
	}
	release()
	shutdown(t, p)
	if s := p.Stats(); s.Cancelled != n {
		t.Errorf("Cancelled %d, want %d", s.Cancelled, n)
	}
	wantSumsUp(t, p.Stats())
}

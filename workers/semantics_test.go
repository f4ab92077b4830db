package workers_test

// Tests for the bullets of issue 2's "Semantics that the tests must pin
// down" about timeouts, cancellation, errors, panics, SpawnAll, the default
// pool and the event loop. Bad input is in badinput_test.go, the task's
// context and its pprof labels in context_test.go, the pool's lifecycle in
// pool_test.go and the stress test in stress_test.go.
//
// Everything that involves time runs in a testing/synctest bubble: the
// clock is fake, deadlines are checked to the nanosecond, and a hang is
// reported as a deadlock. Helpers in these files start with "sem" so they
// cannot clash with the seed port's.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// errSemBoom is a sentinel error that task functions fail with.
var errBoom = errors.New("boom")

// semCodeError is a typed error, to check that errors.As reaches it.
type codeError struct{ Code int }

func (e *codeError) Error() string { return fmt.Sprintf("code %d", e.Code) }

// semPool makes a pool or fails the test. It does not shut it down: each
// test does that itself, inside its bubble when it has one.
func newPool(t testing.TB, cfg workers.Config) *workers.Pool {
	t.Helper()
	p, err := workers.NewPool(cfg)
	if err != nil {
		t.Fatalf("NewPool(%+v): %v", cfg, err)
	}
	return p
}

// shutdown shuts p down, waiting for every function to return however long
// that takes, and checks that the pool is then at rest with statistics that
// add up. A function that never returns hangs it: go test -timeout reports
// that, or, inside a bubble, synctest's deadlock detection.
func shutdown(t testing.TB, p *workers.Pool) {
	t.Helper()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	wantAtRest(t, p)
}

// semAtRest checks that p holds no worker and no task, and that every task
// it accepted ended in exactly one way.
func wantAtRest(t testing.TB, p *workers.Pool) {
	t.Helper()
	s := p.Stats()
	if s.Workers != 0 || s.Active != 0 || s.Queued != 0 || s.Abandoned != 0 {
		t.Errorf("pool not at rest: Workers=%d Active=%d Queued=%d Abandoned=%d, want all 0",
			s.Workers, s.Active, s.Queued, s.Abandoned)
	}
	wantSumsUp(t, s)
}

// semSumsUp checks Submitted == Completed+Failed+Cancelled+TimedOut and
// Panicked <= Failed.
func wantSumsUp(t testing.TB, s workers.Stats) {
	t.Helper()
	if ended := s.Completed + s.Failed + s.Cancelled + s.TimedOut; ended != s.Submitted {
		t.Errorf("Completed+Failed+Cancelled+TimedOut = %d, Submitted = %d (%+v)", ended, s.Submitted, s)
	}
	if s.Panicked > s.Failed {
		t.Errorf("Panicked = %d > Failed = %d", s.Panicked, s.Failed)
	}
}

// semWantCounts compares the counters of s with want; gauges are ignored.
func wantCounts(t testing.TB, s workers.Stats, want workers.Stats) {
	t.Helper()
	got := workers.Stats{Submitted: s.Submitted, Completed: s.Completed, Failed: s.Failed,
		Cancelled: s.Cancelled, TimedOut: s.TimedOut, Panicked: s.Panicked, Rejected: s.Rejected, Late: s.Late}
	if got != want {
		t.Errorf("counters = %+v,\n          want %+v", got, want)
	}
}

// semAwait waits for f without a deadline: a hang is left to synctest's
// deadlock detection or to go test -timeout.
func await[T any](f *async.Future[T]) (T, error) {
	return f.Await(context.Background())
}

// semWantState fails the test unless f is in state want right now.
func wantState[T any](t testing.TB, f *async.Future[T], want async.State) {
	t.Helper()
	if got := f.State(); got != want {
		t.Fatalf("State() = %v, want %v", got, want)
	}
}

// semWantTimeout fails the test unless err is a *TimeoutError for name and
// d, reachable as ErrTimeout and context.DeadlineExceeded, and returns it.
func wantTimeout(t testing.TB, err error, name string, d time.Duration) *workers.TimeoutError {
	t.Helper()
	var te *workers.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v (%T), want a *TimeoutError", err, err)
	}
	if te.Name != name || te.Timeout != d {
		t.Errorf("TimeoutError{Name: %q, Timeout: %v}, want {%q, %v}", te.Name, te.Timeout, name, d)
	}
	if !errors.Is(err, workers.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(err, ErrTimeout) = %v, errors.Is(err, DeadlineExceeded) = %v, want both true",
			errors.Is(err, workers.ErrTimeout), errors.Is(err, context.DeadlineExceeded))
	}
	return te
}

// semWantCancelled fails the test unless err reports a cancellation and
// reaches every one of causes.
func wantCancelled(t testing.TB, err error, causes ...error) {
	t.Helper()
	if !errors.Is(err, async.ErrCancelled) {
		t.Errorf("errors.Is(%v, async.ErrCancelled) = false", err)
	}
	for _, c := range causes {
		if !errors.Is(err, c) {
			t.Errorf("errors.Is(%v, %v) = false", err, c)
		}
	}
}

// ---------------------------------------------------------------------------
// Timeouts

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

// ---------------------------------------------------------------------------
// Cancellation

// Cancel settles a running task's future at once, even though its function
// ignores its context; the function's context is cancelled with a cause
// that wraps async.ErrCancelled, and the function's late result is dropped.
func TestCancelRunningSettlesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		started := make(chan struct{})
		release := make(chan struct{})
		type seen struct{ err, cause error }
		out := make(chan seen, 1)
		f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
			close(started)
			<-release // ignores its context
			out <- seen{ctx.Err(), context.Cause(ctx)}
			return 7, nil
		}, workers.OnPool(p))
		<-started

		if !f.Cancel() {
			t.Fatal("Cancel() of a running task = false")
		}
		// No waiting: the future is settled when Cancel returns.
		wantState(t, f, async.Cancelled)
		r, ok := f.Result()
		if !ok {
			t.Fatal("Result() not ready right after Cancel")
		}
		wantCancelled(t, r.Err)
		if f.Cancel() {
			t.Error("second Cancel() = true")
		}
		s := p.Stats()
		if s.Active != 1 || s.Abandoned != 1 || s.Cancelled != 1 {
			t.Errorf("after Cancel: Active=%d Abandoned=%d Cancelled=%d, want 1, 1, 1", s.Active, s.Abandoned, s.Cancelled)
		}

		close(release)
		got := <-out
		if got.err != context.Canceled {
			t.Errorf("ctx.Err() = %v, want context.Canceled", got.err)
		}
		wantCancelled(t, got.cause)
		synctest.Wait()
		if r2, _ := f.Result(); r2 != r {
			t.Errorf("Result() changed after the late return: %+v, was %+v", r2, r)
		}
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 1, Cancelled: 1, Late: 1})
		shutdown(t, p)
	})
}

// A cooperative function sees its context end the moment its future is
// cancelled.
func TestCancelRunningCooperativeFunction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		ended := make(chan time.Duration, 1)
		var start time.Time
		started := make(chan struct{})
		f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			ended <- time.Since(start)
			return 0, ctx.Err()
		}, workers.OnPool(p))
		<-started
		time.Sleep(time.Minute)
		start = time.Now()
		f.Cancel()
		if d := <-ended; d != 0 {
			t.Errorf("function saw its context end %v after Cancel, want 0", d)
		}
		synctest.Wait()
		shutdown(t, p)
	})
}

// Cancelling a queued task removes it from the queue at once, and it never
// runs.
func TestCancelQueuedTaskNeverRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		release := make(chan struct{})
		blocker := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			<-release
			return 1, nil
		}, workers.OnPool(p))
		var ran atomic.Bool
		queued := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			ran.Store(true)
			return 2, nil
		}, workers.OnPool(p), workers.WithName("queued"))
		if q := p.QueuedCount(); q != 1 {
			t.Fatalf("QueuedCount() = %d, want 1", q)
		}
		if !queued.Cancel() {
			t.Fatal("Cancel() of a queued task = false")
		}
		wantState(t, queued, async.Cancelled)
		if q := p.QueuedCount(); q != 0 {
			t.Errorf("QueuedCount() right after Cancel = %d, want 0", q)
		}
		for _, ti := range p.Tasks() {
			if ti.Name == "queued" {
				t.Errorf("Tasks() still lists the cancelled task: %+v", ti)
			}
		}
		close(release)
		await(blocker)
		synctest.Wait()
		if ran.Load() {
			t.Error("the cancelled queued task ran")
		}
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 2, Completed: 1, Cancelled: 1})
		shutdown(t, p)
	})
}

// A task still queued when another task's future settles is still queued
// for whoever reacts to that settle: cancelling it from a waker of the
// other future (as SpawnAll, Then and On continuations do) means it never
// runs.
func TestCancelFromSettleCallbackQueuedNeverRuns(t *testing.T) {
	var bug string // set inside the bubble, reported outside it
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		first := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			time.Sleep(time.Second)
			return 1, nil
		}, workers.OnPool(p))
		var ran atomic.Bool
		second := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			ran.Store(true)
			return 2, nil
		}, workers.OnPool(p))
		if q := p.QueuedCount(); q != 1 {
			t.Fatalf("QueuedCount() = %d, want 1", q)
		}
		if first.Poll(async.WakerFunc(func() { second.Cancel() })).IsReady() {
			t.Fatal("first settled too early")
		}
		await(first)
		_, err := await(second)
		wantCancelled(t, err)
		synctest.Wait()
		shutdown(t, p)
		if ran.Load() {
			bug = "a task that was queued when another task's future settled ran although a waker of that " +
				"future cancelled it (task.run pops and marks the next task running before it settles the " +
				"finished task's future, then calls the next function even though its future is cancelled)"
		}
	})
	if bug != "" {
		libraryBug(t, "%s", bug)
	}
}

// Cancelling the parent context cancels a running task: the future is
// Cancelled with an error that wraps both async.ErrCancelled and
// context.Cause(parent), and the function's context ends with the same.
func TestCancelParentContextRunningTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		errStop := errors.New("stop requested")
		parent, cancel := context.WithCancelCause(context.Background())
		started := make(chan struct{})
		causes := make(chan error, 1)
		f := workers.Spawn(parent, func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return 0, nil
		}, workers.OnPool(p))
		<-started
		cancel(errStop)
		_, err := await(f)
		wantState(t, f, async.Cancelled)
		wantCancelled(t, err, errStop)
		// The function's context ends with a cause that reaches the
		// parent's; whether it also reaches async.ErrCancelled is checked
		// by TestContextParentCancelCause.
		if cause := <-causes; !errors.Is(cause, errStop) {
			t.Errorf("context.Cause(ctx) = %v, want it to reach %v", cause, errStop)
		}
		synctest.Wait()
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 1, Cancelled: 1, Late: 1})
		shutdown(t, p)
	})
}

// Cancelling the parent context of a queued task removes it; it never runs.
func TestCancelParentContextQueuedTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		release := make(chan struct{})
		blocker := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			<-release
			return 1, nil
		}, workers.OnPool(p))
		errStop := errors.New("stop requested")
		parent, cancel := context.WithCancelCause(context.Background())
		var ran atomic.Bool
		f := workers.Spawn(parent, func(context.Context) (int, error) {
			ran.Store(true)
			return 2, nil
		}, workers.OnPool(p))
		cancel(errStop)
		_, err := await(f)
		wantCancelled(t, err, errStop)
		if q := p.QueuedCount(); q != 0 {
			t.Errorf("QueuedCount() = %d after the parent was cancelled, want 0", q)
		}
		close(release)
		await(blocker)
		synctest.Wait()
		if ran.Load() {
			t.Error("a queued task whose parent was cancelled ran")
		}
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 2, Completed: 1, Cancelled: 1})
		shutdown(t, p)
	})
}

// A queued task whose parent context is cancelled never runs, even when
// the cancel comes from the function running just before it on the same
// worker, which then returns at once and frees the worker.
func TestCancelParentWhileQueuedRacesWithWorker(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1})
	defer shutdown(t, p)
	const rounds = 1000
	ranAfterCancel, fulfilled := 0, 0
	for range rounds {
		parent, cancel := context.WithCancelCause(context.Background())
		started, gate := make(chan struct{}), make(chan struct{})
		first := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			close(started)
			<-gate
			cancel(errBoom) // the second task is queued now
			return 1, nil
		}, workers.OnPool(p))
		<-started
		var ran atomic.Bool
		second := workers.Spawn(parent, func(context.Context) (int, error) {
			ran.Store(true)
			return 2, nil
		}, workers.OnPool(p))
		queued := p.QueuedCount()
		close(gate)
		if queued != 1 {
			t.Fatalf("QueuedCount() = %d, want 1", queued)
		}
		await(first)
		_, err := await(second)
		if ran.Load() {
			ranAfterCancel++
		}
		if err == nil {
			fulfilled++
		} else {
			wantCancelled(t, err, errBoom)
		}
	}
	if ranAfterCancel > 0 {
		libraryBug(t, "in %d of %d rounds a queued task ran after its parent context was cancelled (and %d "+
			"were fulfilled instead of cancelled): the parent's end reaches the task through "+
			"context.AfterFunc, whose function runs in a new goroutine, so the worker can pop the task "+
			"and call its function first; run does not check the parent before calling the function",
			ranAfterCancel, rounds, fulfilled)
	}
}

// Spawn with a context that has already ended never runs the function and
// returns a future already cancelled with the context's cause.
func TestCancelParentAlreadyCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		errStop := errors.New("stopped before")
		parent, cancel := context.WithCancelCause(context.Background())
		cancel(errStop)
		var ran atomic.Bool
		f := workers.Spawn(parent, func(context.Context) (int, error) {
			ran.Store(true)
			return 1, nil
		}, workers.OnPool(p))
		wantState(t, f, async.Cancelled)
		r, _ := f.Result()
		wantCancelled(t, r.Err, errStop)
		synctest.Wait()
		if ran.Load() {
			t.Error("the function ran although its context had ended before Spawn")
		}
		s := p.Stats()
		if s.Workers != 0 {
			t.Errorf("Workers = %d, want 0: no goroutine should start for a dead task", s.Workers)
		}
		wantSumsUp(t, s)
		shutdown(t, p)
	})
}

// Cancelling a settled future returns false and changes nothing: not its
// state, its value or error, nor the pool's statistics.
func TestCancelSettledFutureReturnsFalse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		ok := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 5, nil }, workers.OnPool(p))
		bad := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 0, errBoom }, workers.OnPool(p))
		await(ok)
		await(bad)
		synctest.Wait()
		before := p.Stats()
		for _, f := range []*async.Future[int]{ok, bad} {
			state := f.State()
			r, _ := f.Result()
			if f.Cancel() {
				t.Errorf("Cancel() of a %v future = true", state)
			}
			if f.CancelWithCause(errBoom) {
				t.Errorf("CancelWithCause() of a %v future = true", state)
			}
			if f.State() != state {
				t.Errorf("State() = %v after Cancel, was %v", f.State(), state)
			}
			if r2, _ := f.Result(); r2 != r {
				t.Errorf("Result() = %+v after Cancel, was %+v", r2, r)
			}
		}
		if after := p.Stats(); after != before {
			t.Errorf("Stats changed by cancelling settled futures:\n%+v\n%+v", before, after)
		}
		shutdown(t, p)
	})
}

// ---------------------------------------------------------------------------
// Errors, panics and runtime.Goexit

// The function's own error keeps its identity through the future.
func TestErrorsKeepIdentity(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2})
	defer shutdown(t, p)
	other := errors.New("other")
	code := &codeError{Code: 7}
	cases := []struct {
		name string
		err  error
		is   []error
	}{
		{"sentinel", errBoom, []error{errBoom}},
		{"wrapped", fmt.Errorf("reading config: %w", errBoom), []error{errBoom}},
		{"typed", code, []error{code}},
		{"wrapped typed", fmt.Errorf("layer 1: %w", fmt.Errorf("layer 2: %w", code)), []error{code}},
		{"joined", errors.Join(errBoom, other), []error{errBoom, other}},
		{"two %w", fmt.Errorf("%w and %w", other, code), []error{other, code}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 0, c.err }, workers.OnPool(p))
			_, err := await(f)
			wantState(t, f, async.Rejected)
			for _, target := range c.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
			var ce *codeError
			if errors.As(c.err, &ce) {
				var got *codeError
				if !errors.As(err, &got) || got != ce {
					t.Errorf("errors.As(%v, *semCodeError) = %v, want %p", err, got, ce)
				}
			}
			if errors.Is(err, async.ErrCancelled) || errors.Is(err, workers.ErrTimeout) {
				t.Errorf("a plain failure reads as a cancellation or a timeout: %v", err)
			}
		})
	}
	wantCounts(t, p.Stats(), workers.Stats{Submitted: uint64(len(cases)), Failed: uint64(len(cases))})
}

//go:noinline
func divide(a, b int) int { return a / b }

//go:noinline
func index(s []int, i int) int { return s[i] }

//go:noinline
func panicWith(v any) { panic(v) }

//go:noinline
func store(m map[string]int, k string, v int) { m[k] = v }

// Panics, runtime errors included, become *PanicError with the value and
// the stack of the panicking goroutine, which names the function that
// panicked; errors.As reaches a runtime.Error, errors.Is an error value.
func TestPanicBecomesPanicError(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2})
	defer shutdown(t, p)
	zero, five := 0, 5
	cases := []struct {
		name      string
		fn        func(context.Context) (int, error)
		inStack   string // a function the stack must name
		inMessage string
		runtime   bool  // Value is a runtime.Error
		is        error // errors.Is must reach it
	}{
		{"string", func(context.Context) (int, error) { panicWith("kaboom"); return 0, nil },
			"workers_test.panicWith(", "kaboom", false, nil},
		{"error value", func(context.Context) (int, error) { panicWith(errBoom); return 0, nil },
			"workers_test.panicWith(", errBoom.Error(), false, errBoom},
		{"integer divide by zero", func(context.Context) (int, error) { return divide(five, zero), nil },
			"workers_test.divide(", "integer divide by zero", true, nil},
		{"index out of range", func(context.Context) (int, error) { return index([]int{1, 2, 3}, five), nil },
			"workers_test.index(", "index out of range", true, nil},
		{"nil map write", func(context.Context) (int, error) { store(nil, "key", five); return 0, nil },
			"workers_test.store(", "nil map", true, nil},
		{"panic(nil)", func(context.Context) (int, error) { panicWith(nil); return 0, nil },
			"workers_test.panicWith(", "nil", true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := workers.Spawn(context.Background(), c.fn, workers.OnPool(p))
			_, err := await(f)
			wantState(t, f, async.Rejected)
			var pe *workers.PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (%T), want a *PanicError", err, err)
			}
			if !strings.Contains(pe.Error(), c.inMessage) {
				t.Errorf("Error() = %q, want it to contain %q", pe.Error(), c.inMessage)
			}
			if !strings.Contains(string(pe.Stack), c.inStack) {
				t.Errorf("Stack does not name %s:\n%s", c.inStack, pe.Stack)
			}
			var re runtime.Error
			if got := errors.As(err, &re); got != c.runtime {
				t.Errorf("errors.As(err, runtime.Error) = %v, want %v", got, c.runtime)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, c.is)
			}
		})
	}
	n := uint64(len(cases))
	wantCounts(t, p.Stats(), workers.Stats{Submitted: n, Failed: n, Panicked: n})
}

// runtime.Goexit in a task rejects its future with async.ErrGoexit after
// running the function's deferred calls; the worker is replaced, so a
// one-worker pool still runs the next task and ends at rest.
func TestGoexitRejectsAndPoolKeepsWorking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		var deferred atomic.Bool
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			defer deferred.Store(true)
			runtime.Goexit()
			return 1, nil
		}, workers.OnPool(p))
		_, err := await(f)
		wantState(t, f, async.Rejected)
		if !errors.Is(err, async.ErrGoexit) {
			t.Errorf("err = %v, want async.ErrGoexit", err)
		}
		var pe *workers.PanicError
		if errors.As(err, &pe) {
			t.Errorf("a Goexit reads as a panic: %v", err)
		}
		if !deferred.Load() {
			t.Error("the function's deferred call did not run")
		}
		next := workers.Spawn(context.Background(), func(ctx context.Context) (string, error) {
			w, _ := pprof.Label(ctx, "worker")
			return w, nil
		}, workers.OnPool(p))
		if w, err := await(next); err != nil || w != "vela-worker-1" {
			t.Errorf("task after a Goexit = %q, %v; want vela-worker-1, nil", w, err)
		}
		synctest.Wait()
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 2, Completed: 1, Failed: 1})
		wantAtRest(t, p)
		shutdown(t, p)
	})
}

// Tasks queued behind a task that calls runtime.Goexit still run, on the
// same worker slot.
func TestGoexitQueuedTasksStillRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		gate := make(chan struct{})
		first := workers.Spawn(context.Background(), func(context.Context) (string, error) {
			<-gate
			runtime.Goexit()
			return "", nil
		}, workers.OnPool(p))
		var fs []*async.Future[string]
		for i := range 5 {
			fs = append(fs, workers.Spawn(context.Background(), func(ctx context.Context) (string, error) {
				w, _ := pprof.Label(ctx, "worker")
				return fmt.Sprint(i, w), nil
			}, workers.OnPool(p)))
		}
		if q := p.QueuedCount(); q != 5 {
			t.Fatalf("QueuedCount() = %d, want 5", q)
		}
		close(gate)
		if _, err := await(first); !errors.Is(err, async.ErrGoexit) {
			t.Errorf("first: err = %v, want ErrGoexit", err)
		}
		for i, f := range fs {
			if v, err := await(f); err != nil || v != fmt.Sprint(i, "vela-worker-1") {
				t.Errorf("task %d = %q, %v", i, v, err)
			}
		}
		synctest.Wait()
		wantAtRest(t, p)
		shutdown(t, p)
	})
}

// Many panics and Goexits, more than there are workers, never lose a worker
// nor hang the pool; the pool ends at rest.
func TestPanicsAndGoexitsNeverLoseWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 2})
		zero := 0
		var bad []*async.Future[int]
		for i := range 30 {
			var fn func(context.Context) (int, error)
			switch i % 3 {
			case 0:
				fn = func(context.Context) (int, error) { panic("panic") }
			case 1:
				fn = func(context.Context) (int, error) { return 1 / zero, nil }
			default:
				fn = func(context.Context) (int, error) { runtime.Goexit(); return 0, nil }
			}
			bad = append(bad, workers.Spawn(context.Background(), fn, workers.OnPool(p)))
		}
		var good []*async.Future[int]
		for i := range 10 {
			good = append(good, workers.Spawn(context.Background(), func(context.Context) (int, error) {
				time.Sleep(time.Millisecond)
				return i, nil
			}, workers.OnPool(p)))
		}
		for _, f := range bad {
			if _, err := await(f); err == nil {
				t.Error("a panicking task succeeded")
			}
		}
		for i, f := range good {
			if v, err := await(f); v != i || err != nil {
				t.Errorf("good task %d = %v, %v", i, v, err)
			}
		}
		synctest.Wait()
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 40, Completed: 10, Failed: 30, Panicked: 20})
		wantAtRest(t, p)
		shutdown(t, p)
	})
}

// ---------------------------------------------------------------------------
// SpawnAll

// Values come back in input order, whatever order the tasks finish in.
func TestSpawnAllKeepsInputOrder(t *testing.T) {
	for _, max := range []int{1, 3, 10} {
		t.Run(fmt.Sprint("MaxWorkers=", max), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPool(t, workers.Config{MaxWorkers: max})
				const n = 10
				var fns []func(context.Context) (int, error)
				for i := range n {
					fns = append(fns, func(context.Context) (int, error) {
						time.Sleep(time.Duration(n-i) * time.Millisecond) // later inputs finish first
						return i * i, nil
					})
				}
				vs, err := await(workers.SpawnAll(context.Background(), fns, workers.OnPool(p)))
				if err != nil {
					t.Fatal(err)
				}
				want := []int{0, 1, 4, 9, 16, 25, 36, 49, 64, 81}
				if !slices.Equal(vs, want) {
					t.Errorf("SpawnAll = %v, want %v", vs, want)
				}
				synctest.Wait()
				wantCounts(t, p.Stats(), workers.Stats{Submitted: n, Completed: n})
				shutdown(t, p)
			})
		})
	}
}

// An empty list resolves at once to an empty, non-nil slice and submits
// nothing.
func TestSpawnAllEmptyResolvesAtOnce(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1})
	defer shutdown(t, p)
	for _, fns := range [][]func(context.Context) (int, error){nil, {}} {
		f := workers.SpawnAll(context.Background(), fns, workers.OnPool(p))
		wantState(t, f, async.Fulfilled)
		r, _ := f.Result()
		if r.Err != nil || r.Value == nil || len(r.Value) != 0 {
			t.Errorf("SpawnAll(%#v) = %#v, %v; want an empty non-nil slice", fns, r.Value, r.Err)
		}
	}
	wantCounts(t, p.Stats(), workers.Stats{})
}

// The first failure rejects the combined future at once with that error and
// cancels every sibling: a running one sees its context end (with a cause
// that reaches the failure), queued ones never run.
func TestSpawnAllFirstFailureCancelsSiblings(t *testing.T) {
	var bug string // set inside the bubble, reported outside it
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 2})
		release := make(chan struct{})
		type seen struct{ err, cause error }
		sibling := make(chan seen, 1)
		var queuedRan atomic.Int32
		fns := []func(context.Context) (int, error){
			func(ctx context.Context) (int, error) {
				<-release // ignores its context until released
				sibling <- seen{ctx.Err(), context.Cause(ctx)}
				return 0, nil
			},
			func(context.Context) (int, error) {
				time.Sleep(time.Second)
				return 0, fmt.Errorf("task 1: %w", errBoom)
			},
			func(context.Context) (int, error) { queuedRan.Add(1); return 2, nil },
			func(context.Context) (int, error) { queuedRan.Add(1); return 3, nil },
			func(context.Context) (int, error) { queuedRan.Add(1); return 4, nil },
		}
		start := time.Now()
		f := workers.SpawnAll(context.Background(), fns, workers.OnPool(p))
		_, err := await(f)
		if d := time.Since(start); d != time.Second {
			t.Errorf("SpawnAll settled after %v, want 1s (at the first failure)", d)
		}
		wantState(t, f, async.Rejected)
		if !errors.Is(err, errBoom) {
			t.Errorf("err = %v, want it to reach errSemBoom", err)
		}
		if q := p.QueuedCount(); q != 0 {
			t.Errorf("QueuedCount() = %d after the failure, want 0", q)
		}

		close(release)
		got := <-sibling
		if got.err != context.Canceled {
			t.Errorf("running sibling's ctx.Err() = %v, want context.Canceled", got.err)
		}
		wantCancelled(t, got.cause, errBoom)
		synctest.Wait()
		ranAfter := queuedRan.Load()
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 5, Failed: 1, Cancelled: 4, Late: 1 + uint64(ranAfter)})
		shutdown(t, p)
		if ranAfter != 0 {
			bug = fmt.Sprintf("%d sibling(s) that were queued when the first failure settled the combined "+
				"future ran anyway, with an already-cancelled context (task.run pops the next queued task "+
				"and marks it running before it settles the finished task's future; the settle cancels the "+
				"siblings, which now count as running, and the worker then calls the function regardless)", ranAfter)
		}
	})
	if bug != "" {
		libraryBug(t, "%s", bug)
	}
}

// Cancelling the combined future cancels every task: running ones see
// their context end, queued ones never run.
func TestSpawnAllCancelCancelsAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 2})
		var started sync.WaitGroup
		started.Add(2)
		causes := make(chan error, 2)
		var queuedRan atomic.Int32
		var fns []func(context.Context) (int, error)
		for range 2 {
			fns = append(fns, func(ctx context.Context) (int, error) {
				started.Done()
				<-ctx.Done()
				causes <- context.Cause(ctx)
				return 0, nil
			})
		}
		for range 3 {
			fns = append(fns, func(context.Context) (int, error) { queuedRan.Add(1); return 0, nil })
		}
		f := workers.SpawnAll(context.Background(), fns, workers.OnPool(p))
		started.Wait()
		if !f.Cancel() {
			t.Fatal("Cancel() of the combined future = false")
		}
		wantState(t, f, async.Cancelled)
		if q := p.QueuedCount(); q != 0 {
			t.Errorf("QueuedCount() right after Cancel = %d, want 0", q)
		}
		for range 2 {
			wantCancelled(t, <-causes)
		}
		synctest.Wait()
		if n := queuedRan.Load(); n != 0 {
			t.Errorf("%d queued tasks ran after the combined future was cancelled", n)
		}
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 5, Cancelled: 5, Late: 2})
		shutdown(t, p)
	})
}

// Options apply to every task: the pool, the name (pprof label and error)
// and the timeout, counted from SpawnAll.
func TestSpawnAllOptionsApplyToEach(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 3, Name: "batch-worker"})
		type seen struct {
			task, worker string
			deadline     time.Time
		}
		out := make(chan seen, 3)
		var fns []func(context.Context) (int, error)
		for range 3 {
			fns = append(fns, func(ctx context.Context) (int, error) {
				var s seen
				s.task, _ = pprof.Label(ctx, "task")
				s.worker, _ = pprof.Label(ctx, "worker")
				s.deadline, _ = ctx.Deadline()
				out <- s
				<-ctx.Done()
				return 0, nil
			})
		}
		start := time.Now()
		f := workers.SpawnAll(context.Background(), fns, workers.OnPool(p),
			workers.WithName("batch"), workers.WithTimeout(time.Second))
		_, err := await(f)
		if d := time.Since(start); d != time.Second {
			t.Errorf("settled after %v, want 1s", d)
		}
		wantTimeout(t, err, "batch", time.Second)
		var workersSeen []string
		for range 3 {
			s := <-out
			if s.task != "batch" {
				t.Errorf("task label = %q, want batch", s.task)
			}
			if !s.deadline.Equal(start.Add(time.Second)) {
				t.Errorf("Deadline() = %v, want %v", s.deadline, start.Add(time.Second))
			}
			workersSeen = append(workersSeen, s.worker)
		}
		slices.Sort(workersSeen)
		if want := []string{"batch-worker-1", "batch-worker-2", "batch-worker-3"}; !slices.Equal(workersSeen, want) {
			t.Errorf("workers = %v, want %v", workersSeen, want)
		}
		synctest.Wait()
		s := p.Stats()
		if s.Submitted != 3 || s.TimedOut < 1 || s.TimedOut+s.Cancelled != 3 {
			t.Errorf("Stats = %+v, want 3 submitted, at least one timed out, the rest cancelled", s)
		}
		shutdown(t, p)
	})
}

// A task that succeeds after a sibling failed does not resurrect the
// combined future, and a failure after the first one does not replace its
// error.
func TestSpawnAllFirstFailureWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 3})
		errLate := errors.New("second failure")
		fns := []func(context.Context) (int, error){
			func(context.Context) (int, error) { time.Sleep(2 * time.Second); return 0, errLate },
			func(context.Context) (int, error) { time.Sleep(time.Second); return 0, errBoom },
			func(context.Context) (int, error) { time.Sleep(3 * time.Second); return 1, nil },
		}
		f := workers.SpawnAll(context.Background(), fns, workers.OnPool(p))
		_, err := await(f)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		r, _ := f.Result()
		if r.Err != err || !errors.Is(err, errBoom) || errors.Is(err, errLate) {
			t.Errorf("combined error = %v then %v, want the first failure only", err, r.Err)
		}
		shutdown(t, p)
	})
}

// ---------------------------------------------------------------------------
// The default pool

// The default pool is made on first use by a Spawn without OnPool, with the
// size ConfigurePool set; ConfigurePool then reports ErrPoolInUse, and
// Default returns the pool that ran the task.
func TestDefaultPoolMadeByFirstSpawn(t *testing.T) {
	workers.ResetDefaultForTest()
	t.Cleanup(workers.ResetDefaultForTest)
	if err := workers.ConfigurePool(3); err != nil {
		t.Fatalf("ConfigurePool(3) before first use: %v", err)
	}
	f := workers.Spawn(context.Background(), func(ctx context.Context) (string, error) {
		w, _ := pprof.Label(ctx, "worker")
		return w, nil
	})
	if w, err := await(f); err != nil || w != "vela-worker-1" {
		t.Errorf("task on the default pool = %q, %v", w, err)
	}
	if err := workers.ConfigurePool(2); !errors.Is(err, workers.ErrPoolInUse) {
		t.Errorf("ConfigurePool after a Spawn = %v, want ErrPoolInUse", err)
	}
	d := workers.Default()
	if n := d.MaxWorkers(); n != 3 {
		t.Errorf("Default().MaxWorkers() = %d, want 3", n)
	}
	if s := d.Stats(); s.Submitted != 1 || s.Completed != 1 {
		t.Errorf("Default().Stats() = %+v, want the one task Spawn ran", s)
	}
}

// Without ConfigurePool the default pool has GOMAXPROCS workers, and every
// Default call, from any goroutine, returns the same pool.
func TestDefaultPoolSameFromManyGoroutines(t *testing.T) {
	workers.ResetDefaultForTest()
	t.Cleanup(workers.ResetDefaultForTest)
	const n = 16
	pools := make([]*workers.Pool, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			pools[i] = workers.Default()
		})
	}
	close(start)
	wg.Wait()
	for i, p := range pools {
		if p == nil || p != pools[0] {
			t.Fatalf("Default() from goroutine %d = %p, from goroutine 0 = %p", i, p, pools[0])
		}
	}
	if got, want := pools[0].MaxWorkers(), runtime.GOMAXPROCS(0); got != want {
		t.Errorf("default MaxWorkers = %d, want GOMAXPROCS = %d", got, want)
	}
	if workers.Default() != pools[0] {
		t.Error("a later Default() returned another pool")
	}
	// ConfigurePool(0) before first use also means GOMAXPROCS.
	workers.ResetDefaultForTest()
	if err := workers.ConfigurePool(0); err != nil {
		t.Fatal(err)
	}
	if got, want := workers.Default().MaxWorkers(), runtime.GOMAXPROCS(0); got != want {
		t.Errorf("ConfigurePool(0): MaxWorkers = %d, want %d", got, want)
	}
}

// Closing the default pool makes later Spawns without OnPool fail with
// ErrPoolClosed; pools of their own are unaffected.
func TestDefaultPoolClosed(t *testing.T) {
	workers.ResetDefaultForTest()
	t.Cleanup(workers.ResetDefaultForTest)
	workers.Default().Close()
	f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 1, nil })
	wantState(t, f, async.Rejected)
	if _, err := await(f); !errors.Is(err, workers.ErrPoolClosed) {
		t.Errorf("Spawn on the closed default pool: %v, want ErrPoolClosed", err)
	}
	p := newPool(t, workers.Config{MaxWorkers: 1})
	defer shutdown(t, p)
	if v, err := await(workers.Spawn(context.Background(), func(context.Context) (int, error) { return 2, nil }, workers.OnPool(p))); v != 2 || err != nil {
		t.Errorf("Spawn on another pool = %v, %v", v, err)
	}
}

// ---------------------------------------------------------------------------
// The event loop

// A worker's result reaches an async.On continuation on the loop, and Run
// does not return while that continuation still waits on a worker, even
// with nothing else to do; continuations may Spawn more work, and Spawn
// never blocks the loop.
func TestLoopOnReceivesWorkerResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		l := async.NewLoop()
		defer l.Close()
		var got []string // touched only on the loop goroutine
		start := time.Now()
		l.Post(func() {
			f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
				time.Sleep(time.Second)
				return 42, nil
			}, workers.OnPool(p))
			// The pool's only worker is busy: this one queues, and Spawn
			// still returns at once.
			g := workers.Spawn(context.Background(), func(context.Context) (int, error) {
				time.Sleep(time.Second)
				return 0, errBoom
			}, workers.OnPool(p))
			async.On(l, f, func(v int, err error) {
				got = append(got, fmt.Sprintf("f=%d,%v@%v", v, err, time.Since(start)))
			})
			async.On(l, g, func(_ int, err error) {
				got = append(got, fmt.Sprintf("g=%v@%v", errors.Is(err, errBoom), time.Since(start)))
				h := workers.Spawn(context.Background(), func(context.Context) (string, error) {
					time.Sleep(time.Second)
					return "h", nil
				}, workers.OnPool(p))
				async.On(l, h, func(v string, err error) {
					got = append(got, fmt.Sprintf("%s=%v@%v", v, err, time.Since(start)))
				})
			})
		})
		if err := l.Run(context.Background()); err != nil {
			t.Fatalf("Run = %v", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("Run returned after %v, want 3s (when the last continuation ran)", d)
		}
		want := []string{"f=42,<nil>@1s", "g=true@2s", "h=<nil>@3s"}
		if !slices.Equal(got, want) {
			t.Errorf("continuations ran as %q, want %q", got, want)
		}
		synctest.Wait()
		shutdown(t, p)
	})
}

// Run waits for an On continuation whose worker is blocked, however long,
// and returns only once the continuation ran.
func TestLoopRunWaitsForBlockedWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		l := async.NewLoop()
		defer l.Close()
		release := make(chan struct{})
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			<-release
			return 9, nil
		}, workers.OnPool(p))
		ran := false
		async.On(l, f, func(v int, err error) { ran = v == 9 && err == nil })
		start := time.Now()
		go func() {
			time.Sleep(time.Hour)
			close(release)
		}()
		if err := l.Run(context.Background()); err != nil {
			t.Fatalf("Run = %v", err)
		}
		if !ran {
			t.Error("Run returned before the On continuation ran")
		}
		if d := time.Since(start); d != time.Hour {
			t.Errorf("Run returned after %v, want 1h", d)
		}
		synctest.Wait()
		shutdown(t, p)
	})
}

// RunUntilComplete returns a worker's timeout error exactly at the
// deadline.
func TestLoopRunUntilCompleteTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		l := async.NewLoop()
		defer l.Close()
		release := make(chan struct{})
		start := time.Now()
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			<-release
			return 0, nil
		}, workers.OnPool(p), workers.WithTimeout(time.Second))
		_, err := async.RunUntilComplete(l, f)
		wantTimeout(t, err, "", time.Second)
		if d := time.Since(start); d != time.Second {
			t.Errorf("RunUntilComplete returned after %v, want 1s", d)
		}
		close(release)
		synctest.Wait()
		shutdown(t, p)
	})
}

package workers_test

// SpawnAll: results in input order, the empty batch, parallel execution,
// the first failure (a *TaskError naming the task) cancelling the rest,
// cancelling the batch, options and names per task, and a batch's memory.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

func TestSpawnAllEmptyList(t *testing.T) {
	for name, fns := range map[string][]func(context.Context) (int, error){
		"nil":   nil,
		"empty": {},
	} {
		t.Run(name, func(t *testing.T) {
			bothWays(t, func(t *testing.T, w waiter) {
				p := scopedPool(t, 1)
				f := workers.SpawnAll(context.Background(), fns, workers.OnPool(p))
				// Resolved at once: nothing to wait for.
				if s := f.State(); s != async.Fulfilled {
					t.Fatalf("State() right after SpawnAll = %v, want fulfilled", s)
				}
				got, err := waitFor(w, f)
				if err != nil || got == nil || len(got) != 0 {
					t.Errorf("got (%#v, %v), want ([]int{}, nil)", got, err)
				}
				if s := p.Stats(); s.Submitted != 0 || s.Workers != 0 {
					t.Errorf("Submitted=%d Workers=%d, want 0 and 0: nothing to run", s.Submitted, s.Workers)
				}
			})
		})
	}
}

func TestSpawnAllOnOneWorker(t *testing.T) {
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		f := workers.SpawnAll(context.Background(), []func(context.Context) (string, error){returns("only")}, workers.OnPool(p))
		got, err := waitFor(w, f)
		if err != nil || !slices.Equal(got, []string{"only"}) {
			t.Errorf("got (%q, %v), want ([only], nil)", got, err)
		}
	})
}

func TestSpawnAllOnSeveralWorkers(t *testing.T) {
	bothWaysInBubble(t, func(t *testing.T, w waiter) {
		// Later functions finish first, and two of the five wait in the
		// queue: the values still come back in input order.
		p := scopedPool(t, 3)
		var fns []func(context.Context) (int, error)
		for i := range 5 {
			fns = append(fns, sleeps(time.Duration(5-i)*10*time.Millisecond, i*10))
		}
		got, err := waitFor(w, workers.SpawnAll(context.Background(), fns, workers.OnPool(p)))
		if want := []int{0, 10, 20, 30, 40}; err != nil || !slices.Equal(got, want) {
			t.Errorf("got (%v, %v), want (%v, nil)", got, err, want)
		}
		if s := p.Stats(); s.Submitted != 5 || s.Completed != 5 {
			t.Errorf("Submitted=%d Completed=%d, want 5 and 5", s.Submitted, s.Completed)
		}
	})
}

func TestSpawnAllParallelExecution(t *testing.T) {
	const n = 4
	bothWaysInBubble(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, n)

		// A barrier: each task waits until all n have started. It can only
		// be passed if the n functions run at the same time; if they did
		// not, the fallback timer fails the test instead of hanging it.
		var mu sync.Mutex
		started := 0
		all := make(chan struct{})
		var fns []func(context.Context) (int, error)
		for i := range n {
			fns = append(fns, func(ctx context.Context) (int, error) {
				mu.Lock()
				started++
				if started == n {
					close(all)
				}
				mu.Unlock()
				select {
				case <-all:
				case <-time.After(time.Hour):
					return 0, context.DeadlineExceeded // not parallel
				}
				time.Sleep(100 * time.Millisecond) // the work itself
				return i, nil
			})
		}
		start := time.Now()
		got, err := waitFor(w, workers.SpawnAll(context.Background(), fns, workers.OnPool(p)))
		if err != nil {
			t.Fatalf("SpawnAll: %v (the %d functions did not all run at once)", err, n)
		}
		if want := []int{0, 1, 2, 3}; !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
		// n sleeps of 100ms in parallel take 100ms, not n*100ms.
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("SpawnAll of %d parallel 100ms tasks took %v, want exactly 100ms", n, d)
		}
	})
}

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
			t.Errorf("err = %v, want it to reach errBoom", err)
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

func TestSpawnAllFirstErrorFailsFast(t *testing.T) {
	errFirst := errors.New("first failure")
	bothWaysInBubble(t, func(t *testing.T, w waiter) {
		// Two workers: the failing task and a slow one run, two more wait.
		p := scopedPool(t, 2)
		var slowCause error
		var slowStoppedAt time.Duration
		var queuedRan atomic.Int32
		start := time.Now()
		fns := []func(context.Context) (int, error){
			func(context.Context) (int, error) {
				time.Sleep(10 * time.Millisecond)
				return 0, errFirst
			},
			func(ctx context.Context) (int, error) {
				select {
				case <-ctx.Done():
					slowCause, slowStoppedAt = context.Cause(ctx), time.Since(start)
					return 0, ctx.Err()
				case <-time.After(time.Hour):
					return 1, nil
				}
			},
			func(context.Context) (int, error) { queuedRan.Add(1); return 2, nil },
			func(context.Context) (int, error) { queuedRan.Add(1); return 3, nil },
		}
		v, err := waitFor(w, workers.SpawnAll(context.Background(), fns, workers.OnPool(p)))
		if d := time.Since(start); d != 10*time.Millisecond {
			t.Errorf("SpawnAll failed after %v, want 10ms: it must not wait for the slow sibling", d)
		}
		if v != nil || !errors.Is(err, errFirst) {
			t.Fatalf("got (%v, %v), want (nil, the first failure)", v, err)
		}
		shutdown(t, p) // every function has returned
		if !errors.Is(slowCause, async.ErrCancelled) || !errors.Is(slowCause, errFirst) {
			t.Errorf("the running sibling's context.Cause = %v, want a cancellation that wraps the first failure", slowCause)
		}
		if slowStoppedAt != 10*time.Millisecond {
			t.Errorf("the running sibling's context ended after %v, want 10ms", slowStoppedAt)
		}
		if n := queuedRan.Load(); n != 0 {
			t.Errorf("%d queued siblings ran after the first failure, want 0: they must be cancelled before a worker takes them", n)
		}
		if s := p.Stats(); s.Failed != 1 || s.Cancelled != 3 || s.Completed != 0 {
			t.Errorf("Failed=%d Cancelled=%d Completed=%d, want 1, 3, 0", s.Failed, s.Cancelled, s.Completed)
		}
	})
}

// The rejection of a batch names the task that failed, with its index and
// its WithNames name, and still reaches the function's own error.
func TestSpawnAllTaskError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 2})
		boom := errors.New("boom")
		fns := make([]func(context.Context) (int, error), 5)
		for i := range fns {
			fns[i] = func(ctx context.Context) (int, error) {
				if i == 3 {
					return 0, boom
				}
				return i, nil
			}
		}
		_, err := await(workers.SpawnAll(context.Background(), fns, workers.OnPool(p),
			workers.WithNames(func(i int) string { return fmt.Sprintf("file-%d", i) })))
		var te *workers.TaskError
		if !errors.As(err, &te) || te.Index != 3 || te.Name != "file-3" || te.Err != boom {
			t.Fatalf("err = %#v, want a *TaskError{Index: 3, Name: file-3, Err: boom}", err)
		}
		if !errors.Is(err, boom) {
			t.Errorf("errors.Is(err, boom) = false")
		}
		if want := `workers: SpawnAll task 3 ("file-3"): boom`; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}
		shutdown(t, p)
	})
}

// A panicking task of a batch is a *TaskError around a *PanicError.
func TestSpawnAllTaskErrorPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		fns := []func(context.Context) (int, error){
			func(context.Context) (int, error) { return 1, nil },
			func(context.Context) (int, error) { panic("kaboom") },
		}
		_, err := await(workers.SpawnAll(context.Background(), fns, workers.OnPool(p), workers.WithName("job")))
		var te *workers.TaskError
		var pe *workers.PanicError
		if !errors.As(err, &te) || te.Index != 1 || te.Name != "job" || !errors.As(err, &pe) || pe.Value != "kaboom" {
			t.Fatalf("err = %v, want a *TaskError for task 1 named job around a *PanicError", err)
		}
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 2, Completed: 1, Failed: 1, Panicked: 1})
		shutdown(t, p)
	})
}

// Each function of a WithNames batch carries its own name as its "task"
// pprof label; a WithName batch carries the one name.
func TestSpawnAllWithNamesLabels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 2, Name: "n"})
		const n = 6
		fns := make([]func(context.Context) (string, error), n)
		for i := range fns {
			fns[i] = func(ctx context.Context) (string, error) {
				task, _ := pprof.Label(ctx, "task")
				return task, nil
			}
		}
		got, err := await(workers.SpawnAll(context.Background(), fns, workers.OnPool(p),
			workers.WithNames(func(i int) string { return fmt.Sprint("t", i) })))
		if err != nil {
			t.Fatal(err)
		}
		for i, task := range got {
			if want := fmt.Sprint("t", i); task != want {
				t.Errorf("function %d saw task label %q, want %q", i, task, want)
			}
		}
		got, err = await(workers.SpawnAll(context.Background(), fns, workers.OnPool(p), workers.WithName("same")))
		if err != nil {
			t.Fatal(err)
		}
		for i, task := range got {
			if task != "same" {
				t.Errorf("function %d saw task label %q, want same", i, task)
			}
		}
		shutdown(t, p)
	})
}

// A batch waiting in the queue is one Tasks entry that counts its tasks;
// running ones appear one by one, with their own IDs and names.
func TestSpawnAllTasksSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 2, Name: "snap"})
		var started atomic.Int64
		f := workers.SpawnAll(context.Background(), blockers(10, &started), workers.OnPool(p),
			workers.WithNames(func(i int) string { return fmt.Sprint("t", i) }))
		synctest.Wait()
		ts := p.Tasks()
		if len(ts) != 3 {
			t.Fatalf("Tasks() = %+v, want 2 running and 1 queued entry", ts)
		}
		for i, ti := range ts[:2] {
			if ti.State != workers.TaskRunning || ti.Waiting != 1 || ti.Worker == "" {
				t.Errorf("Tasks()[%d] = %+v, want a running task", i, ti)
			}
		}
		if ts[0].ID == ts[1].ID || ts[0].Name == ts[1].Name {
			t.Errorf("the running tasks share an ID or a name: %+v", ts[:2])
		}
		q := ts[2]
		if q.State != workers.TaskQueued || q.Waiting != 8 || q.Name != "t2" || q.ID != min(ts[0].ID, ts[1].ID)+2 {
			t.Errorf("queued entry = %+v, want task t2, the third ID, with 8 waiting", q)
		}
		if a, n := p.ActiveCount(), p.QueuedCount(); a != 2 || n != 8 {
			t.Errorf("ActiveCount, QueuedCount = %d, %d; want 2, 8", a, n)
		}
		f.Cancel()
		shutdown(t, p)
	})
}

// When the caller's context of a large batch ends, the batch is cancelled
// without waiting for anything: no queued function runs, the running ones
// see their context end, and every task is counted once.
func TestSpawnAllLargeBatchParentCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 100_000
		p := newPool(t, workers.Config{MaxWorkers: 2})
		var started atomic.Int64
		parent, cancel := context.WithCancelCause(context.Background())
		f := workers.SpawnAll(parent, blockers(n, &started), workers.OnPool(p))
		synctest.Wait()
		cause := errors.New("user left")
		cancel(cause)
		synctest.Wait() // the watch on the parent runs; no time passes
		wantState(t, f, async.Cancelled)
		_, err := await(f)
		wantCancelled(t, err, cause)
		shutdown(t, p)
		if s := started.Load(); s != 2 {
			t.Errorf("%d functions started, want the 2 that were running", s)
		}
		wantCounts(t, p.Stats(), workers.Stats{Submitted: n, Cancelled: n, Late: 2})
	})
}

// Cancelling a batch's future settles it before Cancel returns, takes the
// whole batch off the queue and ends the running functions' context.
func TestSpawnAllCancelIsImmediate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 2})
		var started atomic.Int64
		var ctxs [2]context.Context
		var k atomic.Int32
		fns := make([]func(context.Context) (int, error), 1000)
		for i := range fns {
			fns[i] = func(ctx context.Context) (int, error) {
				started.Add(1)
				ctxs[k.Add(1)-1] = ctx
				<-ctx.Done()
				return 0, nil
			}
		}
		f := workers.SpawnAll(context.Background(), fns, workers.OnPool(p))
		synctest.Wait()
		if !f.Cancel() {
			t.Fatal("Cancel() = false on a pending batch")
		}
		wantState(t, f, async.Cancelled)
		if q := p.QueuedCount(); q != 0 {
			t.Errorf("QueuedCount() = %d right after Cancel, want 0", q)
		}
		for i, ctx := range ctxs {
			if !errors.Is(ctx.Err(), context.Canceled) || !errors.Is(context.Cause(ctx), async.ErrCancelled) {
				t.Errorf("running function %d: Err %v, Cause %v right after Cancel; want Canceled, ErrCancelled",
					i, ctx.Err(), context.Cause(ctx))
			}
		}
		shutdown(t, p)
		if s := started.Load(); s != 2 {
			t.Errorf("%d functions started, want 2", s)
		}
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 1000, Cancelled: 1000, Late: 2})
	})
}

// A batch holds no state per task beyond its result slice: the live heap
// of 100,000 queued tasks is the caller's input and the 8 bytes per task of
// the results, plus a fixed amount.
func TestSpawnAllHoldsNoPerTaskState(t *testing.T) {
	const n = 100_000
	p := newPool(t, workers.Config{MaxWorkers: 1})
	defer shutdown(t, p)
	release := make(chan struct{})
	busy := workers.Spawn(context.Background(), func(context.Context) (int, error) { <-release; return 0, nil },
		workers.OnPool(p))
	fns := make([]func(context.Context) (int, error), n)
	for i := range fns {
		fns[i] = func(context.Context) (int, error) { return 1, nil }
	}
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := liveHeap()
	f := workers.SpawnAll(parent, fns, workers.OnPool(p), workers.WithTimeout(1<<40), workers.WithName("x"))
	after := liveHeap()
	if q := p.QueuedCount(); q != n {
		t.Fatalf("QueuedCount() = %d, want %d", q, n)
	}
	perTask := (float64(after) - float64(before)) / n
	if perTask > 8+16 {
		t.Errorf("a queued batch holds %.1f B per task, want at most 8 (the result) + 16", perTask)
	}
	close(release)
	if _, err := await(busy); err != nil {
		t.Fatal(err)
	}
	vals, err := await(f)
	if err != nil || len(vals) != n || vals[n-1] != 1 {
		t.Fatalf("batch: %d values, %v", len(vals), err)
	}
	runtime.KeepAlive(fns)
}

// A SpawnAll of 10,000 tasks is one queue entry. When its first task fails
// at once, every task not yet claimed must still be counted once, and the
// batch must not race with its own cancellation (the race detector checks
// the latter).
func TestSpawnAllBigBatchFailingEarlyAddsUp(t *testing.T) {
	// Whether the failure lands while the other worker is still claiming
	// tasks is up to the scheduler, so the scenario runs a few times.
	for range 10 {
		p := newPool(t, workers.Config{MaxWorkers: 2})
		fns := make([]func(context.Context) (int, error), 10_000)
		for i := range fns {
			fns[i] = func(context.Context) (int, error) { return i, nil }
		}
		fns[0] = func(context.Context) (int, error) { return 0, errBoom }
		f := workers.SpawnAll(context.Background(), fns, workers.OnPool(p))
		relSettles(t, f, "SpawnAll")
		if _, err := f.Await(context.Background()); !errors.Is(err, errBoom) {
			t.Errorf("SpawnAll err = %v, want errBoom", err)
		}
		shutdown(t, p)
		s := p.Stats()
		if s.Submitted != uint64(len(fns)) || s.Failed != 1 {
			t.Fatalf("Submitted = %d, Failed = %d; want %d (every function of a batch is counted once) and 1", s.Submitted, s.Failed, len(fns))
		}
	}
}

// A SpawnAll whose parent ends while it runs settles as cancelled, as one
// whose parent had already ended does, with an error that matches
// async.ErrCancelled and the parent's cause.
func TestSpawnAllParentEndIsCancelled(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2})
	defer shutdown(t, p)
	cause := errors.New("rel: parent gone")
	fns := make([]func(context.Context) (int, error), 5)
	started := make(chan struct{}, len(fns))
	for i := range fns {
		fns[i] = func(ctx context.Context) (int, error) { started <- struct{}{}; <-ctx.Done(); return 0, ctx.Err() }
	}
	for _, already := range []bool{true, false} {
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		if already {
			cancel(cause)
		}
		f := workers.SpawnAll(ctx, fns, workers.OnPool(p))
		if !already {
			<-started
			cancel(cause)
		}
		relSettles(t, f, "SpawnAll")
		_, err := f.Await(context.Background())
		if f.State() != async.Cancelled || !errors.Is(err, async.ErrCancelled) || !errors.Is(err, cause) {
			t.Errorf("parent ended already=%v: state %v, err %v; want cancelled, matching ErrCancelled and the cause", already, f.State(), err)
		}
		for len(started) > 0 {
			<-started
		}
	}
}

// SpawnAll with bad input rejects the combined future at once and submits
// nothing: no function runs, even those before the bad one.
func TestSpawnAllBadInputSubmitsNothing(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2})
	defer shutdown(t, p)
	var ran atomic.Int32
	ok := func(context.Context) (int, error) { ran.Add(1); return 1, nil }
	cases := []struct {
		name     string
		call     func() *async.Future[[]int]
		sentinel error
	}{
		{"nil function last", func() *async.Future[[]int] {
			return workers.SpawnAll(context.Background(), []func(context.Context) (int, error){ok, ok, nil}, workers.OnPool(p))
		}, workers.ErrInvalidArgument},
		{"nil function first", func() *async.Future[[]int] {
			return workers.SpawnAll(context.Background(), []func(context.Context) (int, error){nil, ok}, workers.OnPool(p))
		}, workers.ErrInvalidArgument},
		{"nil context", func() *async.Future[[]int] {
			return workers.SpawnAll(nilCtx, []func(context.Context) (int, error){ok}, workers.OnPool(p))
		}, workers.ErrInvalidArgument},
		{"negative timeout", func() *async.Future[[]int] {
			return workers.SpawnAll(context.Background(), []func(context.Context) (int, error){ok}, workers.OnPool(p), workers.WithTimeout(-1))
		}, workers.ErrInvalidArgument},
	}
	for _, c := range cases {
		before := p.Stats()
		wantRejectedAtOnce(t, c.call(), c.sentinel)
		after := p.Stats()
		if after.Rejected != before.Rejected+1 {
			t.Errorf("%s: Rejected went from %d to %d, want +1", c.name, before.Rejected, after.Rejected)
		}
		after.Rejected = before.Rejected
		if after != before {
			t.Errorf("%s: Stats changed:\n before %+v\n after  %+v", c.name, before, after)
		}
	}
	if n := ran.Load(); n != 0 {
		t.Errorf("%d functions ran although SpawnAll rejected its input", n)
	}
	f := workers.SpawnAll(context.Background(), []func(context.Context) (int, error){ok}, workers.OnPool(nil))
	wantRejectedAtOnce(t, f, workers.ErrInvalidArgument)
	if n := ran.Load(); n != 0 {
		t.Errorf("%d functions ran although SpawnAll rejected OnPool(nil)", n)
	}
}

// SpawnAll of more functions than the queue has room for is refused as a
// whole with ErrQueueFull: nothing is submitted, nothing runs.
func TestSpawnAllQueueTooSmall(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1, QueueSize: 2})
	release, running := fillPool(t, p)
	var ran atomic.Int32
	var fns []func(context.Context) (int, error)
	for range 3 {
		fns = append(fns, func(context.Context) (int, error) { ran.Add(1); return 1, nil })
	}
	before := p.Stats()
	wantRejectedAtOnce(t, workers.SpawnAll(context.Background(), fns, workers.OnPool(p)), workers.ErrQueueFull)
	after := p.Stats()
	after.Rejected--
	if after != before {
		t.Errorf("Stats changed by a refused SpawnAll:\n before %+v\n after  %+v", before, after)
	}
	// Two fit.
	fits := workers.SpawnAll(context.Background(), fns[:2], workers.OnPool(p))
	release()
	await(running[0])
	if vs, err := await(fits); err != nil || len(vs) != 2 {
		t.Errorf("SpawnAll of two = %v, %v", vs, err)
	}
	if n := ran.Load(); n != 2 {
		t.Errorf("%d functions ran, want the 2 of the accepted SpawnAll", n)
	}
	shutdown(t, p)
}

package workers_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// blockers returns n functions that wait for their context to end, counting
// those that start in started.
func blockers(n int, started *atomic.Int64) []func(context.Context) (int, error) {
	fns := make([]func(context.Context) (int, error), n)
	for i := range fns {
		fns[i] = func(ctx context.Context) (int, error) {
			started.Add(1)
			<-ctx.Done()
			return i, ctx.Err()
		}
	}
	return fns
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

// liveHeap is the live heap after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

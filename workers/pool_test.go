package workers_test

// A pool at work and at rest: no goroutine at rest, the MaxWorkers bound,
// a task that spawns into its own full pool, LockOSThread pools, the zero
// Pool, Tasks snapshots, ActiveCount and QueuedCount.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
	"go.uber.org/goleak"
)

// A pool at rest holds no goroutine: once the work is done, without
// Shutdown, no worker, timer or context watcher of the pool is left, and
// the goroutine count is back to where it was.
func TestPoolAtRestHoldsNoGoroutine(t *testing.T) {
	base := runtime.NumGoroutine()
	ignore := goleak.IgnoreCurrent()
	p := newPool(t, workers.Config{MaxWorkers: 4})
	runMix(t, p, 600)
	goleak.VerifyNone(t, ignore)
	waitGoroutines(t, base)
	wantAtRest(t, p)
	// And again, on the same pool: workers come back on demand.
	runMix(t, p, 60)
	goleak.VerifyNone(t, ignore)
	wantAtRest(t, p)
}

// The same in a bubble: Stats().Workers drops to 0 as soon as the last task
// has been delivered and every goroutine of the bubble is idle.
func TestPoolAtRestWorkersZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 3})
		var fs []*async.Future[int]
		for i := range 30 {
			fs = append(fs, workers.Spawn(context.Background(), func(context.Context) (int, error) {
				time.Sleep(time.Duration(i) * time.Millisecond)
				return i, nil
			}, workers.OnPool(p)))
		}
		if w := p.Stats().Workers; w != 3 {
			t.Errorf("Workers = %d while busy, want 3", w)
		}
		for _, f := range fs {
			await(f)
		}
		synctest.Wait()
		wantAtRest(t, p)
		shutdown(t, p)
	})
}

// A zero Pool is valid, like a zero errgroup.Group: it runs tasks on
// GOMAXPROCS workers named vela-worker-N, and Shutdown waits for them.
func TestPoolZeroValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var p workers.Pool
		if n := p.MaxWorkers(); n != runtime.GOMAXPROCS(0) {
			t.Errorf("MaxWorkers() = %d, want GOMAXPROCS = %d", n, runtime.GOMAXPROCS(0))
		}
		release := make(chan struct{})
		f := workers.Spawn(context.Background(), func(ctx context.Context) (string, error) {
			<-release
			w, _ := pprof.Label(ctx, "worker")
			return w, nil
		}, workers.OnPool(&p))
		done := make(chan error, 1)
		go func() { done <- p.Shutdown(context.Background()) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v with a task still running", err)
		default:
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if w, err := await(f); err != nil || w != "vela-worker-1" {
			t.Errorf("task: worker %q, %v; want vela-worker-1", w, err)
		}
		wantAtRest(t, &p)
		vals, err := await(workers.SpawnAll(context.Background(),
			[]func(context.Context) (int, error){func(context.Context) (int, error) { return 1, nil }}, workers.OnPool(new(workers.Pool))))
		if err != nil || len(vals) != 1 {
			t.Errorf("SpawnAll on a zero Pool: %v, %v", vals, err)
		}
	})
}

// MaxWorkers bounds how many functions run at once, and the pool uses all
// of them.
func TestPoolMaxWorkersBoundsConcurrency(t *testing.T) {
	t.Run("fake clock", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPool(t, workers.Config{MaxWorkers: 3})
			var cur, peak atomic.Int32
			var fs []*async.Future[int]
			start := time.Now()
			for range 30 {
				fs = append(fs, workers.Spawn(context.Background(), func(context.Context) (int, error) {
					trackPeak(&cur, &peak, func() { time.Sleep(10 * time.Millisecond) })
					return 0, nil
				}, workers.OnPool(p)))
			}
			for _, f := range fs {
				await(f)
			}
			if n := peak.Load(); n != 3 {
				t.Errorf("peak concurrency = %d, want exactly 3", n)
			}
			if d := time.Since(start); d != 100*time.Millisecond {
				t.Errorf("30 tasks of 10ms on 3 workers took %v, want 100ms", d)
			}
			synctest.Wait()
			shutdown(t, p)
		})
	})
	t.Run("real scheduler", func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 3})
		defer shutdown(t, p)
		var cur, peak atomic.Int32
		var fs []*async.Future[int]
		for range 500 {
			fs = append(fs, workers.Spawn(context.Background(), func(context.Context) (int, error) {
				trackPeak(&cur, &peak, runtime.Gosched)
				return 0, nil
			}, workers.OnPool(p)))
		}
		for _, f := range fs {
			await(f)
		}
		if n := peak.Load(); n > 3 || n < 1 {
			t.Errorf("peak concurrency = %d, want 1..3", n)
		}
	})
}

func TestPoolActiveCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 2)
		if n := p.ActiveCount(); n != 0 {
			t.Fatalf("ActiveCount() of a new pool = %d, want 0", n)
		}
		release := make(chan struct{})
		gate := func(v int) func(context.Context) (int, error) {
			return func(context.Context) (int, error) { <-release; return v, nil }
		}
		a := workers.Spawn(context.Background(), gate(1), workers.OnPool(p))
		b := workers.Spawn(context.Background(), gate(2), workers.OnPool(p))
		c := workers.Spawn(context.Background(), gate(3), workers.OnPool(p))
		synctest.Wait()
		if n, q := p.ActiveCount(), p.QueuedCount(); n != 2 || q != 1 {
			t.Errorf("with 3 blocked tasks on 2 workers: ActiveCount()=%d QueuedCount()=%d, want 2 and 1", n, q)
		}

		// A cancelled function that is still running still counts.
		a.Cancel()
		synctest.Wait()
		if n := p.ActiveCount(); n != 2 {
			t.Errorf("after cancelling a running task that ignores its context: ActiveCount() = %d, want 2", n)
		}

		close(release)
		for _, f := range []*async.Future[int]{b, c} {
			if _, err := f.Await(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if n := p.ActiveCount(); n != 0 {
			t.Errorf("after every function returned: ActiveCount() = %d, want 0", n)
		}
	})
}

// A task that spawns into its own full pool and awaits the result is a
// head-of-line deadlock: the inner task waits for the worker the outer one
// holds. What happens then depends on how the outer task waits:
//
//   - awaiting with its own context, a timeout on the outer task breaks the
//     cycle: at the deadline the outer future is rejected, the outer
//     function's Await returns, the worker is free and the pool goes on;
//   - if the inner task was spawned with the outer task's context, it is
//     cancelled with the outer one and never runs;
//   - awaiting with context.Background(), nothing breaks the cycle from
//     inside: the outer future still times out, but the worker stays
//     blocked until the pool grows (Resize) or the inner task is cancelled;
//   - with a bounded queue that is full, the inner Spawn is refused at once
//     with ErrQueueFull and nothing waits.
func TestPoolSelfSpawnIntoFullPool(t *testing.T) {
	t.Run("await with task ctx", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPool(t, workers.Config{MaxWorkers: 1})
			innerCh := make(chan *async.Future[int], 1)
			start := time.Now()
			outer := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
				inner := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 7, nil }, workers.OnPool(p))
				innerCh <- inner
				return inner.Await(ctx)
			}, workers.OnPool(p), workers.WithTimeout(time.Second))
			_, err := await(outer)
			wantTimeout(t, err, "", time.Second)
			if d := time.Since(start); d != time.Second {
				t.Errorf("outer timed out after %v, want 1s", d)
			}
			inner := <-innerCh
			if v, err := await(inner); v != 7 || err != nil {
				t.Errorf("inner task = %v, %v; want it to run once the outer one let go", v, err)
			}
			if v, err := await(workers.Spawn(context.Background(), func(context.Context) (int, error) { return 8, nil }, workers.OnPool(p))); v != 8 || err != nil {
				t.Errorf("pool after the deadlock broke: %v, %v", v, err)
			}
			synctest.Wait()
			shutdown(t, p)
		})
	})
	t.Run("inner tied to outer ctx", func(t *testing.T) {
		var bug string // set inside the bubble, reported outside it
		synctest.Test(t, func(t *testing.T) {
			p := newPool(t, workers.Config{MaxWorkers: 1})
			innerCh := make(chan *async.Future[int], 1)
			var innerRan atomic.Bool
			outer := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
				inner := workers.Spawn(ctx, func(context.Context) (int, error) { innerRan.Store(true); return 7, nil }, workers.OnPool(p))
				innerCh <- inner
				return inner.Await(ctx)
			}, workers.OnPool(p), workers.WithTimeout(time.Second))
			_, err := await(outer)
			wantTimeout(t, err, "", time.Second)
			inner := <-innerCh
			_, err = await(inner)
			synctest.Wait()
			shutdown(t, p)
			if innerRan.Load() || inner.State() != async.Cancelled {
				bug = fmt.Sprintf("the inner task, queued with the outer task's context as its parent, ran after "+
					"that context had ended (inner state %v, err %v): the parent's end reaches the queued task "+
					"through context.AfterFunc, whose function runs in a new goroutine, so the worker freed by "+
					"the outer function can pop the inner task and call it first; run does not check the "+
					"parent (or the task's own context) before calling the function", inner.State(), err)
				return
			}
			wantCancelled(t, err, workers.ErrTimeout)
		})
		if bug != "" {
			libraryBug(t, "%s", bug)
		}
	})
	t.Run("await with Background", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPool(t, workers.Config{MaxWorkers: 1})
			outer := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
				inner := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 7, nil }, workers.OnPool(p))
				return inner.Await(context.Background())
			}, workers.OnPool(p), workers.WithTimeout(time.Second))
			_, err := await(outer)
			wantTimeout(t, err, "", time.Second)
			time.Sleep(time.Hour)
			synctest.Wait()
			if s := p.Stats(); s.Active != 1 || s.Queued != 1 || s.Abandoned != 1 {
				t.Errorf("stuck pool: Active=%d Queued=%d Abandoned=%d, want 1, 1, 1", s.Active, s.Queued, s.Abandoned)
			}
			if err := p.Resize(2); err != nil { // the way out
				t.Fatal(err)
			}
			synctest.Wait()
			wantCounts(t, p.Stats(), workers.Stats{Submitted: 2, Completed: 1, TimedOut: 1, Late: 1})
			shutdown(t, p)
		})
	})
	t.Run("bounded queue full", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPool(t, workers.Config{MaxWorkers: 1, QueueSize: 1})
			gate := make(chan struct{})
			outer := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
				<-gate
				return workers.Spawn(ctx, func(context.Context) (int, error) { return 7, nil }, workers.OnPool(p)).Await(ctx)
			}, workers.OnPool(p))
			synctest.Wait()
			blocker := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 1, nil }, workers.OnPool(p))
			close(gate)
			if _, err := await(outer); !errors.Is(err, workers.ErrQueueFull) {
				t.Errorf("inner Spawn into a full queue: %v, want ErrQueueFull at once", err)
			}
			await(blocker)
			synctest.Wait()
			shutdown(t, p)
		})
	})
}

// A LockOSThread pool runs tasks, panics and Goexits like any pool, and
// each function runs on a goroutine wired to its OS thread.
func TestPoolLockOSThread(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	p := newPool(t, workers.Config{MaxWorkers: 2, LockOSThread: true})
	var fs []*async.Future[int]
	for i := range 60 {
		fs = append(fs, workers.Spawn(context.Background(), func(context.Context) (int, error) {
			switch i % 10 {
			case 8:
				panic("locked panic")
			case 9:
				runtime.Goexit()
			}
			return i, nil
		}, workers.OnPool(p)))
	}
	for i, f := range fs {
		v, err := await(f)
		switch i % 10 {
		case 8:
			var pe *workers.PanicError
			if !errors.As(err, &pe) {
				t.Errorf("task %d: %v, want a *PanicError", i, err)
			}
		case 9:
			if !errors.Is(err, async.ErrGoexit) {
				t.Errorf("task %d: %v, want ErrGoexit", i, err)
			}
		default:
			if v != i || err != nil {
				t.Errorf("task %d = %v, %v", i, v, err)
			}
		}
	}
	wantCounts(t, p.Stats(), workers.Stats{Submitted: 60, Completed: 48, Failed: 12, Panicked: 6})
	shutdown(t, p)
	goleak.VerifyNone(t, ignore)
}

// Tasks lists queued and running tasks, running first, with their ID, name,
// worker, state, abandonment and times; ActiveCount and QueuedCount agree.
func TestPoolTasksSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1, Name: "snap"})
		if ts := p.Tasks(); len(ts) != 0 {
			t.Errorf("Tasks() of an idle pool = %+v", ts)
		}
		t0 := time.Now()
		release := make(chan struct{})
		a := workers.Spawn(context.Background(), func(context.Context) (int, error) { <-release; return 0, nil },
			workers.OnPool(p), workers.WithName("a"))
		time.Sleep(time.Second)
		t1 := time.Now()
		b := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 0, nil },
			workers.OnPool(p), workers.WithName("b"))
		c := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 0, nil }, workers.OnPool(p))
		ts := p.Tasks()
		if len(ts) != 3 {
			t.Fatalf("Tasks() = %+v, want 3 tasks", ts)
		}
		want := []workers.TaskInfo{
			{ID: ts[0].ID, Name: "a", Worker: "snap-1", State: workers.TaskRunning, Enqueued: t0, Started: t0},
			{ID: ts[1].ID, Name: "b", State: workers.TaskQueued, Enqueued: t1},
			{ID: ts[2].ID, Name: "", State: workers.TaskQueued, Enqueued: t1},
		}
		for i := range want {
			g, w := ts[i], want[i]
			if g.Name != w.Name || g.Worker != w.Worker || g.State != w.State || g.Abandoned ||
				!g.Enqueued.Equal(w.Enqueued) || !g.Started.Equal(w.Started) || g.Started.IsZero() != w.Started.IsZero() {
				t.Errorf("Tasks()[%d] = %+v,\n            want %+v", i, g, w)
			}
		}
		if !(ts[0].ID < ts[1].ID && ts[1].ID < ts[2].ID) || ts[0].ID == 0 {
			t.Errorf("IDs %d, %d, %d: want nonzero and in submission order", ts[0].ID, ts[1].ID, ts[2].ID)
		}
		if ts[0].State.String() != "running" || ts[1].State.String() != "queued" {
			t.Errorf("TaskState strings = %q, %q", ts[0].State, ts[1].State)
		}
		if a, q := p.ActiveCount(), p.QueuedCount(); a != 1 || q != 2 {
			t.Errorf("ActiveCount, QueuedCount = %d, %d; want 1, 2", a, q)
		}

		// Abandoned: the running task's future is cancelled, its function
		// still runs.
		a.Cancel()
		ts = p.Tasks()
		if len(ts) != 3 || !ts[0].Abandoned || ts[0].State != workers.TaskRunning {
			t.Errorf("after cancelling the running task: Tasks() = %+v, want it running and abandoned", ts)
		}
		b.Cancel()
		if ts = p.Tasks(); len(ts) != 2 || ts[1].Name != "" {
			t.Errorf("after cancelling queued b: Tasks() = %+v", ts)
		}

		close(release)
		await(c)
		synctest.Wait()
		if ts := p.Tasks(); len(ts) != 0 {
			t.Errorf("Tasks() at rest = %+v", ts)
		}
		shutdown(t, p)
	})
}

// A queued task's Started time is the moment a worker took it.
func TestPoolTasksStartedWhenTaken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		t0 := time.Now()
		workers.Spawn(context.Background(), func(context.Context) (int, error) {
			time.Sleep(2 * time.Second)
			return 0, nil
		}, workers.OnPool(p))
		release := make(chan struct{})
		second := workers.Spawn(context.Background(), func(context.Context) (int, error) { <-release; return 0, nil }, workers.OnPool(p))
		time.Sleep(3 * time.Second)
		ts := p.Tasks()
		if len(ts) != 1 || ts[0].State != workers.TaskRunning || !ts[0].Enqueued.Equal(t0) || !ts[0].Started.Equal(t0.Add(2*time.Second)) {
			t.Errorf("Tasks() = %+v, want the second task enqueued at %v and started 2s later", ts, t0)
		}
		close(release)
		await(second)
		synctest.Wait()
		shutdown(t, p)
	})
}

// A worker settles the task it finished before it takes another from the
// queue: the continuations of the finished task see the next task still
// queued, where a free worker can start it, so a continuation may wait for
// it.
func TestPoolWorkerSettlesBeforeClaimingNext(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2})
	releaseA, releaseC := make(chan struct{}), make(chan struct{})
	a := workers.Spawn(context.Background(), func(context.Context) (int, error) { <-releaseA; return 1, nil }, workers.OnPool(p))
	c := workers.Spawn(context.Background(), func(context.Context) (int, error) { <-releaseC; return 3, nil }, workers.OnPool(p))
	b := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 2, nil }, workers.OnPool(p))
	inCont := make(chan struct{})
	sum := async.Then(a, func(v int) (int, error) {
		close(inCont)
		ctx, cancel := context.WithTimeout(context.Background(), relBound)
		defer cancel()
		w, err := b.Await(ctx)
		return v + w, err
	})
	close(releaseA)
	<-inCont
	var bState workers.TaskState = 99
	for _, ti := range p.Tasks() {
		if ti.ID == 3 {
			bState = ti.State
		}
	}
	if bState != workers.TaskQueued {
		t.Errorf("while a's continuation runs, b is %v, want queued", bState)
	}
	if n := p.ActiveCount(); n != 1 {
		t.Errorf("ActiveCount() while a's continuation runs = %d, want 1 (c)", n)
	}
	close(releaseC)
	relSettles(t, sum, "a continuation awaiting a queued task")
	if v, err := sum.Await(context.Background()); v != 3 || err != nil {
		t.Errorf("sum = %v, %v; want 3, nil", v, err)
	}
	relSettles(t, c, "c")
	shutdown(t, p)
}

// With every worker busy and QueueSize tasks waiting, Spawn does not block:
// it returns a future already rejected with ErrQueueFull. Below the bound
// it queues and returns a pending future at once, and room made by a
// cancelled task is usable again.
func TestPoolQueueFull(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2, QueueSize: 3})
	release, running := fillPool(t, p)
	var queued []*async.Future[int]
	for i := range 3 {
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return i, nil }, workers.OnPool(p))
		if f.State() != async.Pending {
			t.Fatalf("queued task %d: State() = %v, want pending", i, f.State())
		}
		queued = append(queued, f)
	}
	before := p.Stats()
	if before.Queued != 3 || before.Active != 2 {
		t.Fatalf("Active=%d Queued=%d, want 2, 3", before.Active, before.Queued)
	}
	var ran atomic.Bool
	for range 100 {
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) { ran.Store(true); return -1, nil }, workers.OnPool(p))
		wantRejectedAtOnce(t, f, workers.ErrQueueFull)
	}
	after := p.Stats()
	if after.Rejected != before.Rejected+100 {
		t.Errorf("Rejected went from %d to %d, want +100", before.Rejected, after.Rejected)
	}
	after.Rejected = before.Rejected
	if after != before {
		t.Errorf("Stats changed:\n before %+v\n after  %+v", before, after)
	}

	// Cancelling a queued task makes room for one more.
	queued[0].Cancel()
	again := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 99, nil }, workers.OnPool(p))
	if again.State() != async.Pending {
		t.Errorf("Spawn after a queued task was cancelled: State() = %v, want pending", again.State())
	}

	release()
	for _, f := range append(running, queued[1:]...) {
		if _, err := await(f); err != nil {
			t.Errorf("accepted task: %v", err)
		}
	}
	if v, err := await(again); v != 99 || err != nil {
		t.Errorf("task accepted after room was made = %v, %v", v, err)
	}
	if ran.Load() {
		t.Error("a task refused with ErrQueueFull ran")
	}
	shutdown(t, p)
}

// With QueueSize 0 the queue has no bound: Spawn on a busy pool queues and
// returns a pending future at once, however many are waiting.
func TestPoolUnboundedQueueNeverBlocks(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1})
	release, running := fillPool(t, p)
	const n = 5000
	futs := make([]*async.Future[int], n)
	for i := range n {
		futs[i] = workers.Spawn(context.Background(), func(context.Context) (int, error) { return i, nil }, workers.OnPool(p))
		if futs[i].State() != async.Pending {
			t.Fatalf("task %d: State() = %v, want pending", i, futs[i].State())
		}
	}
	if q := p.QueuedCount(); q != n {
		t.Errorf("QueuedCount() = %d, want %d", q, n)
	}
	release()
	await(running[0])
	for i, f := range futs {
		if v, err := await(f); v != i || err != nil {
			t.Fatalf("task %d = %v, %v", i, v, err)
		}
	}
	shutdown(t, p)
}

// Negative sizes are invalid arguments everywhere, and change nothing.
func TestPoolNegativeSizes(t *testing.T) {
	for _, cfg := range []workers.Config{{MaxWorkers: -1}, {QueueSize: -1}, {MaxWorkers: -5, QueueSize: -5}} {
		p, err := workers.NewPool(cfg)
		if !errors.Is(err, workers.ErrInvalidArgument) || p != nil {
			t.Errorf("NewPool(%+v) = %p, %v; want nil, ErrInvalidArgument", cfg, p, err)
		}
	}
	p := newPool(t, workers.Config{MaxWorkers: 3})
	if err := p.Resize(-1); !errors.Is(err, workers.ErrInvalidArgument) {
		t.Errorf("Resize(-1) = %v, want ErrInvalidArgument", err)
	}
	if n := p.MaxWorkers(); n != 3 {
		t.Errorf("MaxWorkers() = %d after Resize(-1), want 3", n)
	}
	// ConfigurePool checks its argument before it looks at the default
	// pool, so this holds whether or not the default pool exists.
	if err := workers.ConfigurePool(-1); !errors.Is(err, workers.ErrInvalidArgument) {
		t.Errorf("ConfigurePool(-1) = %v, want ErrInvalidArgument", err)
	}
	if err := p.Shutdown(nilCtx); !errors.Is(err, workers.ErrInvalidArgument) {
		t.Errorf("Shutdown(nil) = %v, want ErrInvalidArgument", err)
	}
	shutdown(t, p)
}

package workers_test

// The pool's lifecycle and bookkeeping: no goroutine at rest or after
// Shutdown, Shutdown and Close, Shutdown racing with Spawn, a task that
// spawns into its own full pool, Resize, the MaxWorkers bound, LockOSThread
// pools, Tasks snapshots, ActiveCount, QueuedCount and CancelAll.

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// semWaitGoroutines waits, as long as it takes within a generous bound,
// until runtime.NumGoroutine() is at most n. A "did happen" check: it
// returns as soon as the condition holds.
func waitGoroutines(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			t.Fatalf("NumGoroutine() = %d, want at most %d", runtime.NumGoroutine(), n)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// semMix spawns n tasks of every kind a pool handles (plain, named, with a
// timeout, with a cancellable parent, failing, panicking) and awaits them.
func runMix(t testing.TB, p *workers.Pool, n int) {
	t.Helper()
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	var fs []*async.Future[int]
	for i := range n {
		var fn func(context.Context) (int, error)
		opts := []workers.Option{workers.OnPool(p)}
		switch i % 6 {
		case 0:
			fn = func(context.Context) (int, error) { return i, nil }
		case 1:
			fn = func(context.Context) (int, error) { return i, nil }
			opts = append(opts, workers.WithName("named"))
		case 2:
			fn = func(context.Context) (int, error) { return i, nil }
			opts = append(opts, workers.WithTimeout(time.Hour))
		case 3:
			fn = func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() }
			opts = append(opts, workers.WithTimeout(time.Millisecond))
		case 4:
			fn = func(context.Context) (int, error) { return 0, errBoom }
		default:
			fn = func(context.Context) (int, error) { panic("mix") }
		}
		ctx := context.Background()
		if i%2 == 0 {
			ctx = parent
		}
		fs = append(fs, workers.Spawn(ctx, fn, opts...))
	}
	for _, f := range fs {
		await(f)
	}
}

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

// Shutdown refuses new work at once, lets queued and running tasks finish,
// and returns when the last one has; after it returns no goroutine of the
// pool is left.
func TestPoolShutdownFinishesQueuedWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		var fs []*async.Future[int]
		for i := range 3 {
			fs = append(fs, workers.Spawn(context.Background(), func(context.Context) (int, error) {
				time.Sleep(time.Second)
				return i, nil
			}, workers.OnPool(p)))
		}
		refused := make(chan error, 1)
		go func() {
			time.Sleep(500 * time.Millisecond) // while Shutdown waits
			_, err := await(workers.Spawn(context.Background(), func(context.Context) (int, error) { return 0, nil }, workers.OnPool(p)))
			refused <- err
		}()
		start := time.Now()
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("Shutdown returned after %v, want 3s", d)
		}
		for i, f := range fs {
			r, ok := f.Result() // no waiting: settled before Shutdown returned
			if !ok || r.Value != i || r.Err != nil {
				t.Errorf("task %d after Shutdown: %+v, settled=%v", i, r, ok)
			}
		}
		if err := <-refused; !errors.Is(err, workers.ErrPoolClosed) {
			t.Errorf("Spawn during Shutdown = %v, want ErrPoolClosed", err)
		}
		wantAtRest(t, p)
		if err := p.Shutdown(context.Background()); err != nil {
			t.Errorf("second Shutdown = %v", err)
		}
	})
}

// After Shutdown returns, no goroutine of the pool is left: checked with
// goleak at once, without waiting, on ordinary and LockOSThread pools.
func TestPoolShutdownLeavesNoGoroutine(t *testing.T) {
	for _, lock := range []bool{false, true} {
		t.Run(fmt.Sprint("LockOSThread=", lock), func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			p := newPool(t, workers.Config{MaxWorkers: 3, LockOSThread: lock})
			release := make(chan struct{})
			var fs []*async.Future[int]
			for i := range 20 {
				fs = append(fs, workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
					<-release
					if i%5 == 4 {
						runtime.Goexit()
					}
					return i, nil
				}, workers.OnPool(p), workers.WithTimeout(time.Hour)))
			}
			done := make(chan error, 1)
			go func() { done <- p.Shutdown(context.Background()) }()
			close(release)
			if err := <-done; err != nil {
				t.Fatalf("Shutdown = %v", err)
			}
			for i, f := range fs {
				if f.State() == async.Pending {
					t.Errorf("task %d still pending after Shutdown returned", i)
				}
			}
			goleak.VerifyNone(t, ignore)
			wantAtRest(t, p)
		})
	}
}

// Several goroutines may call Shutdown at once; each waits and returns nil.
func TestPoolShutdownConcurrentCallers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 2})
		for range 4 {
			workers.Spawn(context.Background(), func(context.Context) (int, error) {
				time.Sleep(time.Second)
				return 0, nil
			}, workers.OnPool(p))
		}
		start := time.Now()
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				if err := p.Shutdown(context.Background()); err != nil {
					t.Errorf("Shutdown = %v", err)
				}
				if d := time.Since(start); d != 2*time.Second {
					t.Errorf("Shutdown returned after %v, want 2s", d)
				}
			})
		}
		wg.Wait()
		wantAtRest(t, p)
	})
}

// If Shutdown's context ends first, it cancels what is left (queued tasks
// never run, running ones see their context end with a cause that reaches
// ErrPoolClosed and the context's error) and returns ctx.Err() at once,
// without waiting for a function that ignores its context.
func TestPoolShutdownContextExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 2})
		causes := make(chan error, 1)
		coop := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return 0, nil
		}, workers.OnPool(p))
		release := make(chan struct{})
		stubborn := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			<-release
			return 0, nil
		}, workers.OnPool(p))
		var ran atomic.Bool
		queued := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			ran.Store(true)
			return 0, nil
		}, workers.OnPool(p))

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err := p.Shutdown(ctx)
		if err != context.DeadlineExceeded {
			t.Errorf("Shutdown = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("Shutdown returned after %v, want 1s", d)
		}
		for name, f := range map[string]*async.Future[int]{"cooperative": coop, "stubborn": stubborn, "queued": queued} {
			r, ok := f.Result()
			if !ok || f.State() != async.Cancelled {
				t.Errorf("%s task: State() = %v, want cancelled", name, f.State())
				continue
			}
			wantCancelled(t, r.Err, workers.ErrPoolClosed, context.DeadlineExceeded)
		}
		wantCancelled(t, <-causes, workers.ErrPoolClosed, context.DeadlineExceeded)
		synctest.Wait()
		if s := p.Stats(); s.Active != 1 || s.Abandoned != 1 || s.Queued != 0 {
			t.Errorf("with the stubborn function still running: Active=%d Abandoned=%d Queued=%d, want 1, 1, 0", s.Active, s.Abandoned, s.Queued)
		}
		close(release)
		synctest.Wait()
		if ran.Load() {
			t.Error("a queued task ran after Shutdown's context ended")
		}
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 3, Cancelled: 3, Late: 2})
		wantAtRest(t, p)
		if err := p.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown once idle = %v", err)
		}
	})
}

// Close refuses new work and cancels everything with ErrPoolClosed as the
// cause, at once, without waiting for running functions.
func TestPoolCloseCancelsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		release := make(chan struct{})
		causes := make(chan error, 1)
		running := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
			<-release // ignores its context
			causes <- context.Cause(ctx)
			return 0, nil
		}, workers.OnPool(p))
		var ran atomic.Bool
		queued := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			ran.Store(true)
			return 0, nil
		}, workers.OnPool(p))
		synctest.Wait()

		p.Close()
		for name, f := range map[string]*async.Future[int]{"running": running, "queued": queued} {
			r, ok := f.Result()
			if !ok || f.State() != async.Cancelled {
				t.Errorf("%s task right after Close: State() = %v, want cancelled", name, f.State())
				continue
			}
			wantCancelled(t, r.Err, workers.ErrPoolClosed)
		}
		if s := p.Stats(); s.Active != 1 || s.Queued != 0 {
			t.Errorf("right after Close: Active=%d Queued=%d, want 1 (still running), 0", s.Active, s.Queued)
		}
		wantRejectedAtOnce(t, workers.Spawn(context.Background(), func(context.Context) (int, error) { return 0, nil }, workers.OnPool(p)), workers.ErrPoolClosed)
		p.Close() // harmless
		if err := p.Resize(3); !errors.Is(err, workers.ErrPoolClosed) {
			t.Errorf("Resize after Close = %v, want ErrPoolClosed", err)
		}

		close(release)
		if cause := <-causes; !errors.Is(cause, workers.ErrPoolClosed) {
			t.Errorf("running function's context.Cause = %v, want ErrPoolClosed", cause)
		}
		if err := p.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown after Close = %v", err)
		}
		if ran.Load() {
			t.Error("a queued task ran after Close")
		}
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 2, Cancelled: 2, Rejected: 1, Late: 1})
		wantAtRest(t, p)
	})
}

// Shutdown racing with many concurrent Spawn calls never deadlocks and never
// loses a task: every Spawn is either refused with ErrPoolClosed or
// accepted and run, and every accepted task has settled by the time
// Shutdown returns.
func TestPoolShutdownRacesWithSpawn(t *testing.T) {
	rounds, perG := 10, 1000
	if testing.Short() {
		rounds, perG = 5, 300
	}
	const G = 8
	for round := range rounds {
		ignore := goleak.IgnoreCurrent()
		p := newPool(t, workers.Config{MaxWorkers: 2 + round%3})
		var spawned atomic.Int64
		futs := make([][]*async.Future[int], G)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range G {
			wg.Go(func() {
				<-start
				for i := range perG {
					opts := []workers.Option{workers.OnPool(p)}
					if i%4 == 0 {
						opts = append(opts, workers.WithTimeout(time.Hour))
					}
					f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return g*perG + i, nil }, opts...)
					futs[g] = append(futs[g], f)
					spawned.Add(1)
				}
			})
		}
		close(start)
		// Let some work in first, so Shutdown meets a busy pool.
		for spawned.Load() < int64(G*perG/4) {
			runtime.Gosched()
		}
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatalf("round %d: Shutdown = %v", round, err)
		}
		wg.Wait()
		var ok, refused uint64
		for g := range G {
			for i, f := range futs[g] {
				r, settled := f.Result()
				switch {
				case !settled:
					t.Fatalf("round %d: task %d/%d pending after Shutdown returned and spawning stopped", round, g, i)
				case r.Err == nil && r.Value == g*perG+i:
					ok++
				case errors.Is(r.Err, workers.ErrPoolClosed):
					refused++
				default:
					t.Fatalf("round %d: task %d/%d = %+v", round, g, i, r)
				}
			}
		}
		s := p.Stats()
		if s.Submitted != ok || s.Completed != ok || s.Rejected != refused || ok+refused != G*uint64(perG) {
			t.Fatalf("round %d: %d ran, %d refused; Stats %+v", round, ok, refused, s)
		}
		wantAtRest(t, p)
		goleak.VerifyNone(t, ignore)
	}
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

// Growing the pool starts queued tasks at once; shrinking it lets running
// functions finish and then holds concurrency to the new bound.
func TestPoolResize(t *testing.T) {
	t.Run("grow", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPool(t, workers.Config{MaxWorkers: 1})
			release := make(chan struct{})
			var fs []*async.Future[int]
			for i := range 4 {
				fs = append(fs, workers.Spawn(context.Background(), func(context.Context) (int, error) {
					<-release
					return i, nil
				}, workers.OnPool(p)))
			}
			if a, q := p.ActiveCount(), p.QueuedCount(); a != 1 || q != 3 {
				t.Fatalf("before Resize: Active=%d Queued=%d, want 1, 3", a, q)
			}
			if err := p.Resize(4); err != nil {
				t.Fatal(err)
			}
			// At once, with no waiting.
			if s := p.Stats(); s.Active != 4 || s.Queued != 0 || s.Workers != 4 || s.MaxWorkers != 4 {
				t.Errorf("right after Resize(4): %+v, want 4 active, 0 queued, 4 workers", s)
			}
			close(release)
			for i, f := range fs {
				if v, err := await(f); v != i || err != nil {
					t.Errorf("task %d = %v, %v", i, v, err)
				}
			}
			synctest.Wait()
			shutdown(t, p)
		})
	})
	t.Run("shrink", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPool(t, workers.Config{MaxWorkers: 4})
			release := make(chan struct{})
			for range 4 {
				workers.Spawn(context.Background(), func(context.Context) (int, error) { <-release; return 0, nil }, workers.OnPool(p))
			}
			var cur, peak atomic.Int32
			var fs []*async.Future[int]
			for i := range 4 {
				fs = append(fs, workers.Spawn(context.Background(), func(context.Context) (int, error) {
					n := cur.Add(1)
					for {
						m := peak.Load()
						if n <= m || peak.CompareAndSwap(m, n) {
							break
						}
					}
					time.Sleep(time.Second)
					cur.Add(-1)
					return i, nil
				}, workers.OnPool(p)))
			}
			if err := p.Resize(1); err != nil {
				t.Fatal(err)
			}
			if n := p.MaxWorkers(); n != 1 {
				t.Errorf("MaxWorkers() = %d, want 1", n)
			}
			if a := p.ActiveCount(); a != 4 {
				t.Errorf("ActiveCount() = %d right after shrinking, want 4: running functions go on", a)
			}
			start := time.Now()
			close(release)
			for _, f := range fs {
				await(f)
			}
			if d := time.Since(start); d != 4*time.Second {
				t.Errorf("4 one-second tasks took %v after shrinking to 1 worker, want 4s", d)
			}
			if n := peak.Load(); n != 1 {
				t.Errorf("%d tasks ran at once after shrinking to 1 worker", n)
			}
			synctest.Wait()
			shutdown(t, p)
		})
	})
	t.Run("zero means GOMAXPROCS", func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		if err := p.Resize(0); err != nil {
			t.Fatal(err)
		}
		if got, want := p.MaxWorkers(), runtime.GOMAXPROCS(0); got != want {
			t.Errorf("after Resize(0): MaxWorkers() = %d, want %d", got, want)
		}
		p2 := newPool(t, workers.Config{})
		if got, want := p2.MaxWorkers(), runtime.GOMAXPROCS(0); got != want {
			t.Errorf("NewPool(Config{}).MaxWorkers() = %d, want %d", got, want)
		}
	})
}

// After shrinking below the number of running workers, the bounded queue
// still has its full room: a Spawn with nothing queued is accepted.
func TestPoolResizeShrinkKeepsQueueRoom(t *testing.T) {
	var bug string // set inside the bubble, reported outside it
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 4, QueueSize: 1})
		release := make(chan struct{})
		for range 4 {
			workers.Spawn(context.Background(), func(context.Context) (int, error) { <-release; return 0, nil }, workers.OnPool(p))
		}
		if err := p.Resize(1); err != nil {
			t.Fatal(err)
		}
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 1, nil }, workers.OnPool(p))
		r, settled := f.Result()
		close(release)
		synctest.Wait()
		shutdown(t, p)
		if settled && errors.Is(r.Err, workers.ErrQueueFull) {
			bug = "after Resize(1) with 4 workers running and an empty queue of size 1, Spawn is refused with " +
				"ErrQueueFull (submit tests queued+n-(max-workers) > QueueSize, so workers in excess of " +
				"the new max count as queued tasks)"
		} else if settled {
			t.Errorf("Spawn with room in the queue settled at once: %+v", r)
		}
	})
	if bug != "" {
		libraryBug(t, "%s", bug)
	}
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

// semTrackPeak runs work while counting it in cur, and records the highest
// count seen in peak.
func trackPeak(cur, peak *atomic.Int32, work func()) {
	n := cur.Add(1)
	for {
		m := peak.Load()
		if n <= m || peak.CompareAndSwap(m, n) {
			break
		}
	}
	work()
	cur.Add(-1)
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

// CancelAll cancels every queued and running task and returns how many:
// queued ones never run, running ones see their context end, functions
// already abandoned are not counted again, and the pool stays open.
func TestPoolCancelAllCountsAndStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 3})
		release := make(chan struct{})
		timedOut := workers.Spawn(context.Background(), func(context.Context) (int, error) { <-release; return 0, nil },
			workers.OnPool(p), workers.WithTimeout(time.Millisecond))
		causes := make(chan error, 2)
		var running []*async.Future[int]
		for range 2 {
			running = append(running, workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
				<-ctx.Done()
				causes <- context.Cause(ctx)
				return 0, nil
			}, workers.OnPool(p)))
		}
		var ran atomic.Int32
		var queued []*async.Future[int]
		for range 3 {
			queued = append(queued, workers.Spawn(context.Background(), func(context.Context) (int, error) {
				ran.Add(1)
				return 0, nil
			}, workers.OnPool(p)))
		}
		time.Sleep(time.Second) // timedOut is abandoned now
		_, err := await(timedOut)
		wantTimeout(t, err, "", time.Millisecond)

		if n := p.CancelAll(); n != 5 {
			t.Errorf("CancelAll() = %d, want 5 (2 running + 3 queued; the timed-out one is not counted again)", n)
		}
		for _, f := range append(running, queued...) {
			wantState(t, f, async.Cancelled)
		}
		if q := p.QueuedCount(); q != 0 {
			t.Errorf("QueuedCount() after CancelAll = %d", q)
		}
		for range 2 {
			wantCancelled(t, <-causes)
		}
		if n := p.CancelAll(); n != 0 {
			t.Errorf("second CancelAll() = %d, want 0", n)
		}
		close(release)
		synctest.Wait()
		if n := ran.Load(); n != 0 {
			t.Errorf("%d queued tasks ran after CancelAll", n)
		}
		// The pool is still open.
		if v, err := await(workers.Spawn(context.Background(), func(context.Context) (int, error) { return 5, nil }, workers.OnPool(p))); v != 5 || err != nil {
			t.Errorf("Spawn after CancelAll = %v, %v", v, err)
		}
		synctest.Wait()
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 7, Completed: 1, Cancelled: 5, TimedOut: 1, Late: 3})
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

// Shutdown called from inside one of the pool's own tasks would wait for
// itself: it returns ErrInvalidArgument at once and leaves the pool open.
func TestPoolShutdownFromOwnTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 2})
		shutdownTwice := func(ctx context.Context) (error, error) {
			derived, cancel := context.WithCancel(ctx)
			defer cancel()
			return p.Shutdown(ctx), p.Shutdown(derived)
		}
		type errs struct{ direct, derived error }
		f := workers.Spawn(context.Background(), func(ctx context.Context) (errs, error) {
			a, b := shutdownTwice(ctx)
			return errs{a, b}, nil
		}, workers.OnPool(p))
		g := workers.SpawnAll(context.Background(), []func(context.Context) (errs, error){
			func(ctx context.Context) (errs, error) { a, b := shutdownTwice(ctx); return errs{a, b}, nil },
		}, workers.OnPool(p))
		e, err := await(f)
		if err != nil {
			t.Fatal(err)
		}
		es, err := await(g)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []errs{e, es[0]} {
			if !errors.Is(e.direct, workers.ErrInvalidArgument) || !errors.Is(e.derived, workers.ErrInvalidArgument) {
				t.Errorf("Shutdown from a task: %v, %v; want ErrInvalidArgument at once", e.direct, e.derived)
			}
		}
		// The pool stayed open.
		if _, err := await(workers.Spawn(context.Background(), func(context.Context) (int, error) { return 1, nil },
			workers.OnPool(p))); err != nil {
			t.Errorf("Spawn after the refused Shutdown: %v", err)
		}
		shutdown(t, p)
	})
}

// The context a function receives offers nothing beyond context.Context
// (and AfterFunc, which package context looks for, and String): no type
// assertion reaches the pool's machinery through it.
func TestTaskContextHasNoExtraMethods(t *testing.T) {
	allowed := map[string]bool{"Deadline": true, "Done": true, "Err": true, "Value": true, "AfterFunc": true, "String": true}
	check := func(ctx context.Context) (int, error) {
		ty := reflect.TypeOf(ctx)
		for i := range ty.NumMethod() {
			if m := ty.Method(i).Name; !allowed[m] {
				t.Errorf("the task context (%v) has method %s", ty, m)
			}
		}
		return 0, nil
	}
	p := newPool(t, workers.Config{})
	defer shutdown(t, p)
	opts := [][]workers.Option{{workers.OnPool(p)}, {workers.OnPool(p), workers.WithTimeout(time.Hour), workers.WithName("n")}}
	for _, o := range opts {
		if _, err := await(workers.Spawn(context.Background(), check, o...)); err != nil {
			t.Fatal(err)
		}
		if _, err := await(workers.SpawnAll(context.Background(), []func(context.Context) (int, error){check}, o...)); err != nil {
			t.Fatal(err)
		}
	}
}

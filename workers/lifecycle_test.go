package workers_test

// The end of a pool and of its work: Shutdown (finishing queued work, with
// several callers, with a context that expires, racing with Spawn, called
// from one of the pool's own tasks), Close, CancelAll and Resize.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
	"go.uber.org/goleak"
)

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

// A closed pool, whether by Close or by Shutdown, rejects at once with
// ErrPoolClosed, and Resize reports ErrPoolClosed too.
func TestClosedPoolRejects(t *testing.T) {
	for _, how := range []string{"Close", "Shutdown"} {
		t.Run(how, func(t *testing.T) {
			p := newPool(t, workers.Config{MaxWorkers: 2})
			if v, err := await(workers.Spawn(context.Background(), func(context.Context) (int, error) { return 1, nil }, workers.OnPool(p))); v != 1 || err != nil {
				t.Fatalf("before closing: %v, %v", v, err)
			}
			if how == "Close" {
				p.Close()
			} else if err := p.Shutdown(context.Background()); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			before := p.Stats()
			var ran atomic.Bool
			f := workers.Spawn(context.Background(), func(context.Context) (int, error) { ran.Store(true); return 2, nil }, workers.OnPool(p))
			wantRejectedAtOnce(t, f, workers.ErrPoolClosed)
			g := workers.SpawnAll(context.Background(), []func(context.Context) (int, error){
				func(context.Context) (int, error) { ran.Store(true); return 3, nil },
			}, workers.OnPool(p))
			wantRejectedAtOnce(t, g, workers.ErrPoolClosed)
			after := p.Stats()
			if after.Rejected != before.Rejected+2 {
				t.Errorf("Rejected went from %d to %d, want +2", before.Rejected, after.Rejected)
			}
			after.Rejected = before.Rejected
			if after != before {
				t.Errorf("Stats changed:\n before %+v\n after  %+v", before, after)
			}
			if err := p.Resize(4); !errors.Is(err, workers.ErrPoolClosed) {
				t.Errorf("Resize on a closed pool = %v, want ErrPoolClosed", err)
			}
			if ran.Load() {
				t.Error("a function submitted to a closed pool ran")
			}
			shutdown(t, p)
		})
	}
}

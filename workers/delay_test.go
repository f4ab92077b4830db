package workers_test

// WithDelay: a task, or a batch, due later waits without a worker.

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// WithDelay makes a task due later: until then it holds no worker, counts
// in Queued and shows in Tasks as due; it runs at its due time, and
// WithTimeout counts from then.
func TestDelayRunsAtItsDueTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 1)
		var c calls
		start := time.Now()
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			c.start()
			time.Sleep(2 * time.Second)
			return 1, nil
		}, workers.OnPool(p), workers.WithName("later"), workers.WithDelay(10*time.Second), workers.WithTimeout(time.Second))
		synctest.Wait()
		ts := p.Tasks()
		if len(ts) != 1 || ts[0].State != workers.TaskDue || ts[0].Due != start.Add(10*time.Second) || ts[0].Attempt != 0 || ts[0].Name != "later" {
			t.Fatalf("Tasks() = %+v, want one task due at +10s", ts)
		}
		if s := p.Stats(); s.Queued != 1 || s.Workers != 0 {
			t.Errorf("Stats before the due time: %+v, want Queued 1, Workers 0", s)
		}
		_, err := await(f)
		wantTimeout(t, err, "later", time.Second)
		if c.n() != 1 || c.starts[0] != start.Add(10*time.Second) {
			t.Errorf("calls at %v, want one at +10s", c.starts)
		}
		if d := time.Since(start); d != 11*time.Second {
			t.Errorf("timed out %v after Spawn, want 11s (the timeout counts from the due time)", d)
		}
	})
}

// A delayed task that is cancelled never runs; Shutdown waits for a
// delayed task to run, and once its context ends cancels it.
func TestDelayCancelAndShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		var c calls
		fn := func(context.Context) (int, error) { c.start(); return 1, nil }
		f := workers.Spawn(context.Background(), fn, workers.OnPool(p), workers.WithDelay(time.Minute))
		if !f.Cancel() {
			t.Fatal("Cancel() of a delayed task = false")
		}
		g := workers.Spawn(context.Background(), fn, workers.OnPool(p), workers.WithDelay(time.Minute))
		start := time.Now()
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if d := time.Since(start); d != time.Minute || g.State() != async.Fulfilled || c.n() != 1 {
			t.Errorf("Shutdown returned after %v with the delayed task %v and %d calls; want 1m, fulfilled, 1", d, g.State(), c.n())
		}
		wantAtRest(t, p)

		q := newPool(t, workers.Config{MaxWorkers: 1})
		h := workers.Spawn(context.Background(), fn, workers.OnPool(q), workers.WithDelay(time.Hour))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := q.Shutdown(ctx); err != context.DeadlineExceeded {
			t.Errorf("Shutdown with a delayed task and a 1s context: %v, want DeadlineExceeded", err)
		}
		wantState(t, h, async.Cancelled)
		if _, err := await(h); !errors.Is(err, workers.ErrPoolClosed) {
			t.Errorf("delayed task cancelled by Shutdown: %v, want ErrPoolClosed as its cause", err)
		}
		wantAtRest(t, q)
		if c.n() != 1 {
			t.Errorf("%d calls, want 1", c.n())
		}
	})
}

// Tasks due later count against QueueSize, and Resize while they wait
// takes effect when they become due.
func TestDelayQueueSizeAndResize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1, QueueSize: 1})
		defer shutdown(t, p)
		release, _ := fillPool(t, p)
		f := workers.Spawn(context.Background(), returns(1), workers.OnPool(p), workers.WithDelay(time.Second))
		wantRejectedAtOnce(t, workers.Spawn(context.Background(), returns(2), workers.OnPool(p)), workers.ErrQueueFull)
		if err := p.Resize(2); err != nil {
			t.Fatal(err)
		}
		if v, err := await(f); v != 1 || err != nil {
			t.Errorf("delayed task after Resize: %v, %v", v, err)
		}
		release()
	})
}

// WithDelay makes a task due later: until then it waits without a worker
// and Tasks shows it as due.
func ExampleWithDelay() {
	p, _ := workers.NewPool(workers.Config{MaxWorkers: 1})
	ctx := context.Background()
	start := time.Now()
	f := workers.Spawn(ctx, func(context.Context) (time.Duration, error) {
		return time.Since(start), nil
	}, workers.OnPool(p), workers.WithDelay(50*time.Millisecond))
	fmt.Println(p.Tasks()[0].State)
	waited, _ := f.Await(ctx)
	fmt.Println(waited >= 50*time.Millisecond)
	_ = p.Shutdown(ctx)
	// Output:
	// due
	// true
}

// A delayed batch waits as one entry, without a worker, counting all its
// tasks in Queued; its WithTimeout counts from its due time; cancelled
// while due, none of its functions runs.
func TestDelayedBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 2)
		start := time.Now()
		var ran atomic.Int32
		fns := make([]func(context.Context) (time.Duration, error), 5)
		for i := range fns {
			fns[i] = func(context.Context) (time.Duration, error) { ran.Add(1); return time.Since(start), nil }
		}
		f := workers.SpawnAll(context.Background(), fns, workers.OnPool(p), workers.WithDelay(time.Minute), workers.WithTimeout(time.Second))
		synctest.Wait()
		ts := p.Tasks()
		if s := p.Stats(); s.Queued != 5 || s.Workers != 0 || len(ts) != 1 || ts[0].State != workers.TaskDue || ts[0].Waiting != 5 {
			t.Fatalf("before the due time: Stats %+v, Tasks %+v; want 5 queued as one due entry, no worker", s, ts)
		}
		vs, err := await(f)
		if err != nil {
			t.Fatalf("delayed batch: %v (its timeout counts from the due time)", err)
		}
		for i, v := range vs {
			if v != time.Minute {
				t.Errorf("task %d ran at +%v, want +1m", i, v)
			}
		}
		g := workers.SpawnAllSettled(context.Background(), fns, workers.OnPool(p), workers.WithDelay(time.Minute))
		synctest.Wait()
		if !g.Cancel() {
			t.Fatal("Cancel() of a due batch = false")
		}
		time.Sleep(time.Hour)
		if ran.Load() != 5 {
			t.Errorf("%d functions ran, want 5 (none of the cancelled batch's)", ran.Load())
		}
		if s := p.Stats(); s.Cancelled != 5 || s.Completed != 5 || s.Queued != 0 {
			t.Errorf("Stats %+v: want Completed 5, Cancelled 5, Queued 0", s)
		}
	})
}

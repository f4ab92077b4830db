package workers_test

import (
	"context"
	"testing"
	"time"

	"github.com/velalang/runtime/workers"
)

// The allocation budgets of the hot paths, as documented on Spawn and
// SpawnAll: a Spawn is one object for the task and its future plus the
// worker goroutine's closure (Await of a no-op gets its result while it
// yields, before it would make a Done channel); a SpawnAll makes a fixed
// handful whatever the number of tasks.
func TestAllocationBudgets(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	p, err := workers.NewPool(workers.Config{MaxWorkers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, p)
	ctx := context.Background()
	on := workers.OnPool(p)
	noop := func(context.Context) (int, error) { return 1, nil }

	if n := testing.AllocsPerRun(1000, func() {
		if _, err := workers.Spawn(ctx, noop, on).Await(ctx); err != nil {
			t.Fatal(err)
		}
	}); n > 3 {
		// 2 when Await's yields catch the result, which BenchmarkRoundTrip
		// shows; 4 when it parks, which a loaded machine makes more likely.
		t.Errorf("Spawn+Await: %.1f allocations on average, want at most 3", n)
	}

	// An armed timeout (either clock) and a name each add one allocation,
	// the task's record of its options: the pool's one timer is not per
	// task, and a worker reuses the pprof labels of a run of tasks with one
	// name.
	// An armed WithRetry that never fires is the same one record.
	for _, opt := range []workers.Option{workers.WithTimeout(time.Hour), workers.WithRunTimeout(time.Hour), workers.WithName("resize"),
		workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3})} {
		if n := testing.AllocsPerRun(1000, func() {
			if _, err := workers.Spawn(ctx, noop, on, opt).Await(ctx); err != nil {
				t.Fatal(err)
			}
		}); n > 4 {
			t.Errorf("Spawn+Await with %v: %.1f allocations on average, want at most 4 (3 when Await's yields catch the result)", opt, n)
		}
	}

	// A cancellable parent costs the task's record of its options and a
	// link in the pool's one watch on that parent, not a registration of
	// its own on the parent: at most 2 allocations more than Background.
	parent, cancel := context.WithCancel(ctx)
	defer cancel()
	plain := testing.AllocsPerRun(1000, func() {
		if _, err := workers.Spawn(ctx, noop, on).Await(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := workers.Spawn(parent, noop, on).Await(ctx); err != nil {
			t.Fatal(err)
		}
	}); n > plain+2 {
		t.Errorf("Spawn+Await under a cancellable context: %.1f allocations on average, want at most %.1f (2 more than under Background)", n, plain+2)
	}

	spawnAll := func(size int) float64 {
		fns := make([]func(context.Context) (int, error), size)
		for i := range fns {
			fns[i] = noop
		}
		return testing.AllocsPerRun(20, func() {
			if _, err := workers.SpawnAll(ctx, fns, on).Await(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := spawnAll(10), spawnAll(1000)
	if small > 10 || large != small {
		t.Errorf("SpawnAll: %.1f allocations for 10 tasks and %.1f for 1000, want the same, at most 10", small, large)
	}
}

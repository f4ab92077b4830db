package workers_test

// The default pool: made by the first Spawn that needs it, the same one
// from every goroutine, sized by ConfigurePool or ConfigureDefault only
// before its first use, and closed like any other pool.

import (
	"context"
	"errors"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

func TestDefaultIsOnePool(t *testing.T) {
	freshDefault(t)
	first := workers.Default()
	if first == nil {
		t.Fatal("Default() = nil")
	}

	// Every call, from any goroutine, returns the same pool.
	const g = 8
	got := make([]*workers.Pool, g)
	var wg sync.WaitGroup
	for i := range g {
		wg.Go(func() { got[i] = workers.Default() })
	}
	wg.Wait()
	for i, p := range got {
		if p != first {
			t.Errorf("goroutine %d: Default() = %p, want %p", i, p, first)
		}
	}

	// Spawn without OnPool runs on that very pool.
	if v, err := workers.Spawn(context.Background(), returns("x")).Await(context.Background()); v != "x" || err != nil {
		t.Fatalf("Spawn: got (%q, %v), want (\"x\", nil)", v, err)
	}
	if s := first.Stats(); s.Submitted != 1 || s.Completed != 1 {
		t.Errorf("Default().Stats(): Submitted=%d Completed=%d, want 1 and 1", s.Submitted, s.Completed)
	}
	if workers.Default() != first {
		t.Error("Default() changed after a Spawn")
	}
}

func TestConfigurePoolMaxWorkers(t *testing.T) {
	freshDefault(t)
	synctest.Test(t, func(t *testing.T) {
		t.Cleanup(workers.ResetDefaultForTest) // shut the default pool down inside the bubble
		if err := workers.ConfigurePool(3); err != nil {
			t.Fatalf("ConfigurePool(3) before first use: %v", err)
		}
		p := workers.Default()
		if n := p.MaxWorkers(); n != 3 {
			t.Fatalf("Default().MaxWorkers() = %d after ConfigurePool(3), want 3", n)
		}

		// The bound holds: of five blocked tasks, three run and two wait.
		started := make(chan int, 5)
		var fs []*async.Future[int]
		for i := range 5 {
			fs = append(fs, workers.Spawn(context.Background(), blocks(started, i)))
		}
		synctest.Wait()
		if a, q := p.ActiveCount(), p.QueuedCount(); a != 3 || q != 2 {
			t.Errorf("ActiveCount()=%d QueuedCount()=%d, want 3 and 2", a, q)
		}
		if s := p.Stats(); s.Workers != 3 {
			t.Errorf("Stats().Workers = %d, want 3", s.Workers)
		}
		if len(started) != 3 {
			t.Errorf("%d functions started, want 3", len(started))
		}
		for _, f := range fs {
			f.Cancel()
		}
	})
}

func TestConfigurePoolAfterUseFails(t *testing.T) {
	for _, use := range []struct {
		name string
		use  func()
	}{
		{"Default", func() { workers.Default() }},
		{"Spawn", func() { _, _ = workers.Spawn(context.Background(), returns(1)).Await(context.Background()) }},
	} {
		t.Run(use.name, func(t *testing.T) {
			freshDefault(t)
			use.use()
			before := workers.Default().MaxWorkers()
			err := workers.ConfigurePool(before + 5)
			if !errors.Is(err, workers.ErrPoolInUse) {
				t.Fatalf("ConfigurePool after first use: err = %v, want ErrPoolInUse", err)
			}
			if n := workers.Default().MaxWorkers(); n != before {
				t.Errorf("MaxWorkers() = %d after a refused ConfigurePool, want it unchanged at %d", n, before)
			}
		})
	}
}

func TestPoolDefaultMaxWorkers(t *testing.T) {
	t.Run("Default", func(t *testing.T) {
		freshDefault(t)
		if got, want := workers.Default().MaxWorkers(), runtime.GOMAXPROCS(0); got != want {
			t.Errorf("Default().MaxWorkers() = %d, want runtime.GOMAXPROCS(0) = %d", got, want)
		}
	})
	t.Run("ConfigurePool(0)", func(t *testing.T) {
		freshDefault(t)
		if err := workers.ConfigurePool(0); err != nil {
			t.Fatal(err)
		}
		if got, want := workers.Default().MaxWorkers(), runtime.GOMAXPROCS(0); got != want {
			t.Errorf("Default().MaxWorkers() = %d after ConfigurePool(0), want %d", got, want)
		}
	})
	t.Run("follows GOMAXPROCS", func(t *testing.T) {
		// A GOMAXPROCS unlike the machine's CPU count shows that the size
		// comes from GOMAXPROCS, read when the pool is made.
		want := runtime.GOMAXPROCS(0) + 3
		prev := runtime.GOMAXPROCS(want)
		t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
		freshDefault(t)
		if got := workers.Default().MaxWorkers(); got != want {
			t.Errorf("Default().MaxWorkers() = %d with GOMAXPROCS %d, want %d", got, want, want)
		}
		p, err := workers.NewPool(workers.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.MaxWorkers(); got != want {
			t.Errorf("NewPool(Config{}).MaxWorkers() = %d with GOMAXPROCS %d, want %d", got, want, want)
		}
	})
}

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

func TestConfigureDefault(t *testing.T) {
	workers.ResetDefaultForTest()
	t.Cleanup(workers.ResetDefaultForTest)
	if err := workers.ConfigureDefault(workers.Config{IdleTimeout: -1}); !errors.Is(err, workers.ErrInvalidArgument) {
		t.Errorf("ConfigureDefault with a negative IdleTimeout: %v, want ErrInvalidArgument", err)
	}
	if err := workers.ConfigureDefault(workers.Config{MaxWorkers: 3, Name: "loop", IdleTimeout: time.Hour}); err != nil {
		t.Fatal(err)
	}
	name, err := workers.Spawn(context.Background(), func(ctx context.Context) (string, error) {
		w, _ := pprofLabels(ctx)
		return w, nil
	}).Await(context.Background())
	if err != nil || name != "loop-1" {
		t.Errorf("a task on the configured default pool ran on %q (%v), want loop-1", name, err)
	}
	if s := workers.Default().Stats(); s.MaxWorkers != 3 || s.Workers != 1 {
		t.Errorf("default pool: MaxWorkers=%d Workers=%d, want 3 and 1 (its worker waits for work)", s.MaxWorkers, s.Workers)
	}
	if err := workers.ConfigureDefault(workers.Config{}); !errors.Is(err, workers.ErrPoolInUse) {
		t.Errorf("ConfigureDefault after first use: %v, want ErrPoolInUse", err)
	}
}

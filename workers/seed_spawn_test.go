package workers_test

// The seed's test_worker_spawn.py, ported. Its header says 19 tests but it
// lists 17 names; each of the 17 is here under its CamelCase name.
//
// This file also holds the helpers shared by the seed_*_test.go files; their
// names start with "seed" so they cannot clash with other test files of the
// package.

import (
	"github.com/velalang/runtime/workers"

	"context"
	"errors"
	"maps"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
)

// seedWaiter is one way of waiting for a worker's future: from a goroutine
// with Future.Await, or on a single-threaded event loop with
// async.RunUntilComplete (the seed's executor.run_until_complete).
type waiter int

const (
	byAwait waiter = iota
	byLoop
)

func (w waiter) String() string {
	if w == byLoop {
		return "RunUntilComplete"
	}
	return "Await"
}

// seedWaiters lists the ways every seed check is run.
var waiters = []waiter{byAwait, byLoop}

// seedWait waits for f the way w says. With seedLoop it runs a fresh loop on
// the calling goroutine until f settles, and closes it afterwards.
func waitFor[T any](w waiter, f *async.Future[T]) (T, error) {
	if w == byLoop {
		l := async.NewLoop()
		defer l.Close()
		return async.RunUntilComplete(l, f)
	}
	return f.Await(context.Background())
}

// seedBothWays runs check once per way of waiting, each as a subtest.
func bothWays(t *testing.T, check func(t *testing.T, w waiter)) {
	t.Helper()
	for _, w := range waiters {
		t.Run(w.String(), func(t *testing.T) { check(t, w) })
	}
}

// seedBothWaysInBubble is seedBothWays with each run in its own
// testing/synctest bubble, so sleeps, timeouts and deadlines use the
// bubble's fake clock and are exact. Pools made by check (with seedPool)
// are shut down inside the bubble, before it ends.
func bothWaysInBubble(t *testing.T, check func(t *testing.T, w waiter)) {
	t.Helper()
	for _, w := range waiters {
		t.Run(w.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { check(t, w) })
		})
	}
}

// scopedPool returns a new pool of maxWorkers workers that is shut down
// with shutdown when the test ends (inside the bubble if t is a bubble's),
// which checks that the pool is then at rest and that every submitted task
// ended exactly once.
func scopedPool(t *testing.T, maxWorkers int) *workers.Pool {
	t.Helper()
	p := newPool(t, workers.Config{MaxWorkers: maxWorkers})
	t.Cleanup(func() { shutdown(t, p) })
	return p
}

// seedFreshDefault forgets the default pool and its configured size now and
// again when the test ends, so a test about the default pool sees it made
// afresh whatever ran before.
func freshDefault(t *testing.T) {
	t.Helper()
	workers.ResetDefaultForTest()
	t.Cleanup(workers.ResetDefaultForTest)
}

// seedValue returns a task function that returns v at once.
func returns[T any](v T) func(context.Context) (T, error) {
	return func(context.Context) (T, error) { return v, nil }
}

// seedSleep returns a task function that sleeps d, ignoring its context
// (like a blocking call that cannot be interrupted), then returns v.
func sleeps[T any](d time.Duration, v T) func(context.Context) (T, error) {
	return func(context.Context) (T, error) {
		time.Sleep(d)
		return v, nil
	}
}

// seedBlock returns a task function that sends id on started, if started
// is not nil, then waits for its context to end and returns
// context.Cause(ctx).
func blocks(started chan<- int, id int) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		if started != nil {
			started <- id
		}
		<-ctx.Done()
		return 0, context.Cause(ctx)
	}
}

func TestSpawnSimpleWorker(t *testing.T) {
	bothWays(t, func(t *testing.T, w waiter) {
		freshDefault(t)
		f := workers.Spawn(context.Background(), returns(42)) // on the default pool
		v, err := waitFor(w, f)
		if v != 42 || err != nil {
			t.Fatalf("got (%v, %v), want (42, nil)", v, err)
		}
		if s := f.State(); s != async.Fulfilled {
			t.Errorf("State() = %v, want fulfilled", s)
		}
		if s := workers.Default().Stats(); s.Submitted != 1 || s.Completed != 1 {
			t.Errorf("default pool: Submitted=%d Completed=%d, want 1 and 1", s.Submitted, s.Completed)
		}
	})
}

func TestSpawnWorkerWithComputation(t *testing.T) {
	fib := func(n int) int {
		a, b := 0, 1
		for range n {
			a, b = b, a+b
		}
		return a
	}
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 2)
		sumSquares := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			sum := 0
			for i := 1; i <= 1000; i++ {
				sum += i * i
			}
			return sum, nil
		}, workers.OnPool(p))
		if v, err := waitFor(w, sumSquares); v != 333833500 || err != nil {
			t.Errorf("sum of squares 1..1000: got (%v, %v), want (333833500, nil)", v, err)
		}
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return fib(90), nil }, workers.OnPool(p))
		if v, err := waitFor(w, f); v != 2880067194370816120 || err != nil {
			t.Errorf("fib(90): got (%v, %v), want (2880067194370816120, nil)", v, err)
		}
	})
}

func TestSpawnWorkerWithSleep(t *testing.T) {
	bothWaysInBubble(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		start := time.Now()
		f := workers.Spawn(context.Background(), sleeps(100*time.Millisecond, "done"), workers.OnPool(p))
		if d := time.Since(start); d != 0 {
			t.Errorf("Spawn took %v of fake time, want 0: it must not wait for the function", d)
		}
		if s := f.State(); s != async.Pending {
			t.Errorf("State() right after Spawn = %v, want pending", s)
		}
		v, err := waitFor(w, f)
		if v != "done" || err != nil {
			t.Fatalf("got (%q, %v), want (\"done\", nil)", v, err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("future settled after %v, want exactly 100ms", d)
		}
	})
}

func TestSpawnWorkerWithClosureCapture(t *testing.T) {
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 4)
		x, y := 10, 20
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return x + y, nil }, workers.OnPool(p))
		if v, err := waitFor(w, f); v != 30 || err != nil {
			t.Errorf("x + y: got (%v, %v), want (30, nil)", v, err)
		}

		// Each iteration's variable is captured on its own (Go 1.22
		// semantics), even though the functions run later on other
		// goroutines.
		var fs []*async.Future[int]
		for i := range 8 {
			fs = append(fs, workers.Spawn(context.Background(), func(context.Context) (int, error) { return i * i, nil }, workers.OnPool(p)))
		}
		for i, f := range fs {
			if v, err := waitFor(w, f); v != i*i || err != nil {
				t.Errorf("task %d: got (%v, %v), want (%d, nil)", i, v, err, i*i)
			}
		}
	})
}

func TestSpawnWorkerWithComplexClosure(t *testing.T) {
	type summary struct {
		Doubled []int
		ByName  map[string]int
		Total   int
	}
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 2)
		data := []int{1, 2, 3, 4, 5}
		names := map[string]int{"a": 1, "b": 2}
		multiplier := 2
		transform := func(x int) int { return x * multiplier }
		calls := 0 // written by the worker, read after the future settles

		f := workers.Spawn(context.Background(), func(context.Context) (summary, error) {
			var s summary
			for _, d := range data {
				s.Doubled = append(s.Doubled, transform(d))
				calls++
			}
			s.ByName = make(map[string]int, len(names))
			for k, v := range names {
				s.ByName[k] = transform(v)
				calls++
			}
			for _, d := range s.Doubled {
				s.Total += d
			}
			return s, nil
		}, workers.OnPool(p))
		got, err := waitFor(w, f)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{2, 4, 6, 8, 10}; !slices.Equal(got.Doubled, want) {
			t.Errorf("Doubled = %v, want %v", got.Doubled, want)
		}
		if want := map[string]int{"a": 2, "b": 4}; !maps.Equal(got.ByName, want) {
			t.Errorf("ByName = %v, want %v", got.ByName, want)
		}
		if got.Total != 30 {
			t.Errorf("Total = %d, want 30", got.Total)
		}
		// The function's writes to captured variables happen before the
		// wait returns: the race detector checks this read.
		if calls != 7 {
			t.Errorf("captured counter = %d after the future settled, want 7", calls)
		}
	})
}

func TestSpawnWorkerReturnsNone(t *testing.T) {
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		// Python's None: a nil pointer and an empty struct are values like
		// any other, so the future is fulfilled, not rejected.
		fp := workers.Spawn(context.Background(), returns[*int](nil), workers.OnPool(p))
		if v, err := waitFor(w, fp); v != nil || err != nil {
			t.Errorf("nil pointer: got (%v, %v), want (nil, nil)", v, err)
		}
		if s := fp.State(); s != async.Fulfilled {
			t.Errorf("nil pointer: State() = %v, want fulfilled", s)
		}
		fe := workers.Spawn(context.Background(), returns[error](nil), workers.OnPool(p))
		if v, err := waitFor(w, fe); v != nil || err != nil {
			t.Errorf("nil error value: got (%v, %v), want (nil, nil)", v, err)
		}
		fs := workers.Spawn(context.Background(), returns(struct{}{}), workers.OnPool(p))
		if _, err := waitFor(w, fs); err != nil {
			t.Errorf("struct{}: err = %v, want nil", err)
		}
		if r, ok := fs.Result(); !ok || r.Err != nil {
			t.Errorf("struct{}: Result() = (%+v, %v), want settled without error", r, ok)
		}
	})
}

func TestSpawnWorkerReturnsTuple(t *testing.T) {
	type tuple struct {
		N    int
		S    string
		F    float64
		Bits [3]bool
	}
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		want := tuple{N: 1, S: "two", F: 3.5, Bits: [3]bool{true, false, true}}
		f := workers.Spawn(context.Background(), returns(want), workers.OnPool(p))
		got, err := waitFor(w, f)
		if got != want || err != nil {
			t.Errorf("got (%+v, %v), want (%+v, nil)", got, err, want)
		}
	})
}

func TestSpawnWorkerReturnsDict(t *testing.T) {
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		f := workers.Spawn(context.Background(), func(context.Context) (map[string]int, error) {
			m := make(map[string]int)
			for i, k := range []string{"one", "two", "three"} {
				m[k] = i + 1
			}
			return m, nil
		}, workers.OnPool(p))
		got, err := waitFor(w, f)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]int{"one": 1, "two": 2, "three": 3}; !maps.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

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

func TestSpawnAllSingleWorker(t *testing.T) {
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		f := workers.SpawnAll(context.Background(), []func(context.Context) (string, error){returns("only")}, workers.OnPool(p))
		got, err := waitFor(w, f)
		if err != nil || !slices.Equal(got, []string{"only"}) {
			t.Errorf("got (%q, %v), want ([only], nil)", got, err)
		}
	})
}

func TestSpawnAllMultipleWorkers(t *testing.T) {
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

func TestGetPoolSingleton(t *testing.T) {
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

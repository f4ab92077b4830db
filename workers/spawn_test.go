package workers_test

// Spawn of a single function on the default pool or a pool of one's own,
// waited for with Await or on an event loop: values of any type, closures,
// functions that sleep.

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

func TestSpawnReturnsValue(t *testing.T) {
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

func TestSpawnComputes(t *testing.T) {
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

func TestSpawnFunctionThatSleeps(t *testing.T) {
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

func TestSpawnClosureCapture(t *testing.T) {
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 4)
		x, y := 10, 20
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return x + y, nil }, workers.OnPool(p))
		if v, err := waitFor(w, f); v != 30 || err != nil {
			t.Errorf("x + y: got (%v, %v), want (30, nil)", v, err)
		}

		// Each iteration's variable is captured on its own (as since Go
		// 1.22), even though the functions run later on other
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

func TestSpawnClosureOverState(t *testing.T) {
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

func TestSpawnReturnsNilAndEmptyValues(t *testing.T) {
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

func TestSpawnReturnsStruct(t *testing.T) {
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

func TestSpawnReturnsMap(t *testing.T) {
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

// Every kind of bad input to Spawn gives a future rejected at once, on a
// pool that is idle, busy with a full queue, or closed; the pool's gauges
// and counters stay as they were, but for Rejected.
func TestSpawnBadInputRejectsAtOnce(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1})
	defer shutdown(t, p)
	fn := func(context.Context) (int, error) { return 1, nil }
	var nilFn func(context.Context) (int, error)
	cases := []struct {
		name     string
		spawn    func() *async.Future[int]
		sentinel error
	}{
		{"nil context", func() *async.Future[int] { return workers.Spawn(nilCtx, fn, workers.OnPool(p)) }, workers.ErrInvalidArgument},
		{"nil function", func() *async.Future[int] { return workers.Spawn(context.Background(), nilFn, workers.OnPool(p)) }, workers.ErrInvalidArgument},
		{"negative timeout", func() *async.Future[int] {
			return workers.Spawn(context.Background(), fn, workers.OnPool(p), workers.WithTimeout(-time.Nanosecond))
		}, workers.ErrInvalidArgument},
		{"negative timeout after OnPool", func() *async.Future[int] {
			return workers.Spawn(context.Background(), fn, workers.WithTimeout(-time.Second), workers.OnPool(p))
		}, workers.ErrInvalidArgument},
		{"zero Option", func() *async.Future[int] {
			return workers.Spawn(context.Background(), fn, workers.OnPool(p), workers.Option{})
		}, workers.ErrInvalidArgument},
	}
	for _, busy := range []bool{false, true} {
		var release func()
		if busy {
			release, _ = fillPool(t, p)
		}
		for _, c := range cases {
			before := p.Stats()
			f := c.spawn()
			wantRejectedAtOnce(t, f, c.sentinel)
			after := p.Stats()
			if after.Rejected != before.Rejected+1 {
				t.Errorf("%s (busy=%v): Rejected went from %d to %d, want +1", c.name, busy, before.Rejected, after.Rejected)
			}
			after.Rejected = before.Rejected
			if after != before {
				t.Errorf("%s (busy=%v): Stats changed:\n before %+v\n after  %+v", c.name, busy, before, after)
			}
		}
		if release != nil {
			release()
		}
	}
	// OnPool(nil) has no pool to count on, and must not fall back to the
	// default pool either.
	f := workers.Spawn(context.Background(), fn, workers.OnPool(nil))
	wantRejectedAtOnce(t, f, workers.ErrInvalidArgument)
	f = workers.Spawn(nilCtx, nilFn, workers.OnPool(nil), workers.WithTimeout(-1))
	wantRejectedAtOnce(t, f, workers.ErrInvalidArgument)
}

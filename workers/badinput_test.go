package workers_test

// Bad input never panics and never blocks: Spawn and SpawnAll return a
// future that is already rejected with an error for which errors.Is finds
// the sentinel, and the pool is unchanged but for Stats.Rejected. NewPool,
// Resize and ConfigurePool reject negative sizes.

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// Every kind of bad input to Spawn gives a future rejected at once, on a
// pool that is idle, busy with a full queue, or closed; the pool's gauges
// and counters stay as they were, but for Rejected.
func TestBadInputSpawnRejectsAtOnce(t *testing.T) {
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

// A closed pool, whether by Close or by Shutdown, rejects at once with
// ErrPoolClosed, and Resize reports ErrPoolClosed too.
func TestBadInputClosedPool(t *testing.T) {
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

// With every worker busy and QueueSize tasks waiting, Spawn does not block:
// it returns a future already rejected with ErrQueueFull. Below the bound
// it queues and returns a pending future at once, and room made by a
// cancelled task is usable again.
func TestBadInputQueueFull(t *testing.T) {
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
func TestBadInputUnboundedQueueNeverBlocks(t *testing.T) {
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

// SpawnAll with bad input rejects the combined future at once and submits
// nothing: no function runs, even those before the bad one.
func TestBadInputSpawnAllSubmitsNothing(t *testing.T) {
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
func TestBadInputSpawnAllQueueTooSmall(t *testing.T) {
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

// Negative sizes are invalid arguments everywhere, and change nothing.
func TestBadInputNegativeSizes(t *testing.T) {
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

// The sentinels are distinct, and ErrInvalidArgument is async's, so one
// errors.Is covers both packages.
func TestBadInputSentinels(t *testing.T) {
	errs := []error{workers.ErrTimeout, workers.ErrPoolInUse, workers.ErrPoolClosed, workers.ErrQueueFull, workers.ErrInvalidArgument}
	for i, a := range errs {
		if a == nil {
			t.Fatalf("sentinel %d is nil", i)
		}
		for j, b := range errs {
			if i != j && errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = true", a, b)
			}
		}
	}
	if workers.ErrInvalidArgument != async.ErrInvalidArgument {
		t.Error("workers.ErrInvalidArgument is not async.ErrInvalidArgument")
	}
}

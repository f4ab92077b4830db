package workers_test

// Helpers shared by the package's tests: pools that are shut down and
// checked at the end, the two ways of waiting for a future (Await and an
// event loop), task functions, checks of errors and statistics, and the
// functions that panic in known places.
//
// Tests that involve time run in a testing/synctest bubble: the clock is
// fake, deadlines are checked to the nanosecond, and a hang is reported as a
// deadlock.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// waiter is one way of waiting for a worker's future: from a goroutine
// with Future.Await, or on a single-threaded event loop with
// async.RunUntilComplete.
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

// waiters lists the ways bothWays runs a check.
var waiters = []waiter{byAwait, byLoop}

// waitFor waits for f the way w says. With byLoop it runs a fresh loop on
// the calling goroutine until f settles, and closes it afterwards.
func waitFor[T any](w waiter, f *async.Future[T]) (T, error) {
	if w == byLoop {
		l := async.NewLoop()
		defer l.Close()
		return async.RunUntilComplete(l, f)
	}
	return f.Await(context.Background())
}

// bothWays runs check once per way of waiting, each as a subtest.
func bothWays(t *testing.T, check func(t *testing.T, w waiter)) {
	t.Helper()
	for _, w := range waiters {
		t.Run(w.String(), func(t *testing.T) { check(t, w) })
	}
}

// bothWaysInBubble is bothWays with each run in its own
// testing/synctest bubble, so sleeps, timeouts and deadlines use the
// bubble's fake clock and are exact. Pools made by check (with scopedPool)
// are shut down inside the bubble, before it ends.
func bothWaysInBubble(t *testing.T, check func(t *testing.T, w waiter)) {
	t.Helper()
	for _, w := range waiters {
		t.Run(w.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { check(t, w) })
		})
	}
}

// newPool makes a pool or fails the test. It does not shut it down: each
// test does that itself, inside its bubble when it has one.
func newPool(t testing.TB, cfg workers.Config) *workers.Pool {
	t.Helper()
	p, err := workers.NewPool(cfg)
	if err != nil {
		t.Fatalf("NewPool(%+v): %v", cfg, err)
	}
	return p
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

// shutdown shuts p down, waiting for every function to return however long
// that takes, and checks that the pool is then at rest with statistics that
// add up. A function that never returns hangs it: go test -timeout reports
// that, or, inside a bubble, synctest's deadlock detection.
func shutdown(t testing.TB, p *workers.Pool) {
	t.Helper()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	wantAtRest(t, p)
}

// wantAtRest checks that p holds no worker and no task, and that every task
// it accepted ended in exactly one way.
func wantAtRest(t testing.TB, p *workers.Pool) {
	t.Helper()
	s := p.Stats()
	if s.Workers != 0 || s.Active != 0 || s.Queued != 0 || s.Abandoned != 0 {
		t.Errorf("pool not at rest: Workers=%d Active=%d Queued=%d Abandoned=%d, want all 0",
			s.Workers, s.Active, s.Queued, s.Abandoned)
	}
	wantSumsUp(t, s)
}

// wantSumsUp checks Submitted == Completed+Failed+Cancelled+TimedOut and
// Panicked <= Failed.
func wantSumsUp(t testing.TB, s workers.Stats) {
	t.Helper()
	if ended := s.Completed + s.Failed + s.Cancelled + s.TimedOut; ended != s.Submitted {
		t.Errorf("Completed+Failed+Cancelled+TimedOut = %d, Submitted = %d (%+v)", ended, s.Submitted, s)
	}
	if s.Panicked > s.Failed {
		t.Errorf("Panicked = %d > Failed = %d", s.Panicked, s.Failed)
	}
}

// wantCounts compares the counters of s with want; gauges are ignored.
func wantCounts(t testing.TB, s workers.Stats, want workers.Stats) {
	t.Helper()
	got := workers.Stats{Submitted: s.Submitted, Completed: s.Completed, Failed: s.Failed,
		Cancelled: s.Cancelled, TimedOut: s.TimedOut, Panicked: s.Panicked, Rejected: s.Rejected, Late: s.Late}
	if got != want {
		t.Errorf("counters = %+v,\n          want %+v", got, want)
	}
}

// freshDefault forgets the default pool and its configured size now and
// again when the test ends, so a test about the default pool sees it made
// afresh whatever ran before.
func freshDefault(t *testing.T) {
	t.Helper()
	workers.ResetDefaultForTest()
	t.Cleanup(workers.ResetDefaultForTest)
}

// await waits for f without a deadline: a hang is left to synctest's
// deadlock detection or to go test -timeout.
func await[T any](f *async.Future[T]) (T, error) {
	return f.Await(context.Background())
}

// wantState fails the test unless f is in state want right now.
func wantState[T any](t testing.TB, f *async.Future[T], want async.State) {
	t.Helper()
	if got := f.State(); got != want {
		t.Fatalf("State() = %v, want %v", got, want)
	}
}

// wantTimeout fails the test unless err is a *TimeoutError for name and
// d, reachable as ErrTimeout and context.DeadlineExceeded, and returns it.
func wantTimeout(t testing.TB, err error, name string, d time.Duration) *workers.TimeoutError {
	t.Helper()
	var te *workers.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v (%T), want a *TimeoutError", err, err)
	}
	if te.Name != name || te.Timeout != d {
		t.Errorf("TimeoutError{Name: %q, Timeout: %v}, want {%q, %v}", te.Name, te.Timeout, name, d)
	}
	if !errors.Is(err, workers.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(err, ErrTimeout) = %v, errors.Is(err, DeadlineExceeded) = %v, want both true",
			errors.Is(err, workers.ErrTimeout), errors.Is(err, context.DeadlineExceeded))
	}
	return te
}

// wantRunTimeout fails the test unless err is a run timeout of d.
func wantRunTimeout(t *testing.T, err error, name string, d time.Duration) {
	t.Helper()
	if te := wantTimeout(t, err, name, d); !te.Run {
		t.Errorf("TimeoutError.Run = false, want true (the run timeout expired)")
	}
}

// wantCancelled fails the test unless err reports a cancellation and
// reaches every one of causes.
func wantCancelled(t testing.TB, err error, causes ...error) {
	t.Helper()
	if !errors.Is(err, async.ErrCancelled) {
		t.Errorf("errors.Is(%v, async.ErrCancelled) = false", err)
	}
	for _, c := range causes {
		if !errors.Is(err, c) {
			t.Errorf("errors.Is(%v, %v) = false", err, c)
		}
	}
}

// wantRejectedAtOnce checks that f is already rejected, without waiting,
// with an error that reaches sentinel, and that Cancel cannot change it.
func wantRejectedAtOnce[T any](t testing.TB, f *async.Future[T], sentinel error) {
	t.Helper()
	if f == nil {
		t.Fatal("got a nil future")
	}
	r, ok := f.Result()
	if !ok || f.State() != async.Rejected {
		t.Fatalf("State() = %v right after the call, want rejected", f.State())
	}
	if !errors.Is(r.Err, sentinel) {
		t.Errorf("err = %v, want errors.Is(err, %v)", r.Err, sentinel)
	}
	if f.Cancel() {
		t.Error("Cancel() of a rejected future = true")
	}
	select {
	case <-f.Done():
	default:
		t.Error("Done() of a rejected future is not closed")
	}
}

// wantRuntimePanic fails the test unless err is a *PanicError whose
// value is a runtime.Error with msg in its message, and whose stack is that
// of the goroutine that panicked, in function fn.
func wantRuntimePanic(t *testing.T, err error, msg, fn string) {
	t.Helper()
	var pe *workers.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T), want a *PanicError", err, err)
	}
	var re runtime.Error
	if !errors.As(err, &re) {
		t.Fatalf("errors.As(%v, *runtime.Error) = false, want the runtime.Error reachable", err)
	}
	if !strings.Contains(re.Error(), msg) {
		t.Errorf("runtime.Error = %q, want it to contain %q", re.Error(), msg)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("err.Error() = %q, want it to contain %q", err.Error(), msg)
	}
	if !bytes.Contains(pe.Stack, []byte(fn)) {
		t.Errorf("PanicError.Stack does not show %s, where the panic happened:\n%s", fn, pe.Stack)
	}
}

// libraryBug fails the test for a library bug that these tests found. The
// message starts with "BUG:" and names the suspected cause, so a
// regression reads as a diagnosis. (While the bugs were open this skipped
// instead; they are fixed, so a recurrence must fail.)
func libraryBug(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Errorf("BUG: "+format, args...)
}

// returns returns a task function that returns v at once.
func returns[T any](v T) func(context.Context) (T, error) {
	return func(context.Context) (T, error) { return v, nil }
}

// sleeps returns a task function that sleeps d, ignoring its context
// (like a blocking call that cannot be interrupted), then returns v.
func sleeps[T any](d time.Duration, v T) func(context.Context) (T, error) {
	return func(context.Context) (T, error) {
		time.Sleep(d)
		return v, nil
	}
}

// blocks returns a task function that sends id on started, if started
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

// fillPool fills p's workers with functions that wait for the returned
// release function, and returns it with their futures. It waits until every
// function has started.
func fillPool(t testing.TB, p *workers.Pool) (release func(), futs []*async.Future[int]) {
	t.Helper()
	ch := make(chan struct{})
	started := make(chan struct{})
	for range p.MaxWorkers() {
		futs = append(futs, workers.Spawn(context.Background(), func(context.Context) (int, error) {
			started <- struct{}{}
			<-ch
			return 0, nil
		}, workers.OnPool(p)))
	}
	for range p.MaxWorkers() {
		<-started
	}
	return func() { close(ch) }, futs
}

// runMix spawns n tasks of every kind a pool handles (plain, named, with a
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

// trackPeak runs work while counting it in cur, and records the highest
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

// waitGoroutines waits, as long as it takes within a generous bound,
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

// liveHeap is the live heap after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// workerOf returns the worker name a task ran on.
func workerOf(t *testing.T, p *workers.Pool) string {
	t.Helper()
	name, err := workers.Spawn(context.Background(), func(ctx context.Context) (string, error) {
		w, _ := pprofLabels(ctx)
		return w, nil
	}, workers.OnPool(p)).Await(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// pprofLabels returns the task's "worker" and "task" labels.
func pprofLabels(ctx context.Context) (worker, task string) {
	worker, _ = pprof.Label(ctx, "worker")
	task, _ = pprof.Label(ctx, "task")
	return worker, task
}

// nilCtx is a nil context.Context, passed where a caller forgot one.
var nilCtx context.Context

// ctxKey is a context key for parent values.
type ctxKey struct{}

// errBoom is a sentinel error that task functions fail with.
var errBoom = errors.New("boom")

// codeError is a typed error, to check that errors.As reaches it.
type codeError struct{ Code int }

func (e *codeError) Error() string { return fmt.Sprintf("code %d", e.Code) }

// keyError is what a function returns for a missing map key: the
// nearest Go equivalent of Python's KeyError.
type keyError struct{ Key string }

func (e *keyError) Error() string { return fmt.Sprintf("key %q not found", e.Key) }

// lookup looks key up in m, turning a missing key into a *keyError.
func lookup(m map[string]int, key string) (int, error) {
	v, ok := m[key]
	if !ok {
		return 0, &keyError{Key: key}
	}
	return v, nil
}

// validationError is a user-defined error type that carries data.
type validationError struct {
	Field string
	Value int
}

func (e *validationError) Error() string {
	return fmt.Sprintf("invalid %s: %d", e.Field, e.Value)
}

// nilMapWrite writes to m, which the caller passes nil to provoke a
// runtime panic.
func nilMapWrite(m map[string]int, v int) { m["boom"] = v }

//go:noinline
func divide(a, b int) int { return a / b }

//go:noinline
func index(s []int, i int) int { return s[i] }

//go:noinline
func panicWith(v any) { panic(v) }

//go:noinline
func store(m map[string]int, k string, v int) { m[k] = v }

// relBound is how long a "did happen" check waits before it fails the test
// instead of hanging it: far beyond anything these tests need.
const relBound = 10 * time.Second

// relSettles fails the test unless f settles within relBound.
func relSettles[T any](t testing.TB, f *async.Future[T], what string) {
	t.Helper()
	select {
	case <-f.Done():
	case <-time.After(relBound):
		t.Fatalf("%s: future still %v after %v", what, f.State(), relBound)
	}
}

// relGoexitThen returns a continuation of f that calls runtime.Goexit on
// whichever goroutine fulfils f.
func relGoexitThen(f *async.Future[int]) *async.Future[int] {
	return async.Then(f, func(int) (int, error) { runtime.Goexit(); return 0, nil })
}

// relGoexitOnSettle registers a waker on f that calls runtime.Goexit on
// whichever goroutine settles f, however it settles (a Then function runs
// only when f is fulfilled).
func relGoexitOnSettle(f *async.Future[int]) {
	if f.Poll(async.WakerFunc(runtime.Goexit)).IsReady() {
		panic("relGoexitOnSettle: already settled")
	}
}

// relOnOwnGoroutine runs fn on a goroutine of its own and waits until that
// goroutine has ended, whether fn returned or called runtime.Goexit.
func relOnOwnGoroutine(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// lazyParent is a context whose AfterFunc never calls its function, so
// that the context package watches it through that method: it lets a test
// stand in the window between a parent ending and the pool's watch on it
// running, which otherwise lasts a few instructions. Err reports the inner
// context's error; Done is closed by end, after the inner context ended.
type lazyParent struct {
	context.Context
	done chan struct{}
}

func newLazyParent() (*lazyParent, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	lp := &lazyParent{Context: ctx, done: make(chan struct{})}
	return lp, func() { cancel(); close(lp.done) }
}

func (lp *lazyParent) Done() <-chan struct{} { return lp.done }

func (lp *lazyParent) AfterFunc(func()) func() bool { return func() bool { return true } }

// spin busy-waits for d of real time: a function that overruns its
// deadline without ever blocking, so the pool's timer goroutine may not
// have run by the time it returns.
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

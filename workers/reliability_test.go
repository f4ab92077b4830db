package workers_test

// User code that the pool runs — Then continuations, wakers and cancel
// handlers, which a settle runs inline on the settling goroutine — must
// never corrupt the pool: no lost worker, no orphaned task, no statistic
// that fails to add up. Each test here pins down one way it once did.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

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

func (lp *lazyParent) Done() <-chan struct{}        { return lp.done }
func (lp *lazyParent) AfterFunc(func()) func() bool { return func() bool { return true } }

// A SpawnAll of 10,000 tasks on a pool with an unbounded queue is submitted
// in chunks. When its first task fails at once, the tasks of the chunks not
// yet submitted must still be counted once each, and the batch must not
// race with its own cancellation (the race detector checks the latter).
func TestReliabilityBigSpawnAllFailingEarlyAddsUp(t *testing.T) {
	// Whether the failure lands while chunks are still being submitted is
	// up to the scheduler, so the scenario runs a few times.
	for range 10 {
		p := newPool(t, workers.Config{MaxWorkers: 2})
		fns := make([]func(context.Context) (int, error), 10_000)
		for i := range fns {
			fns[i] = func(context.Context) (int, error) { return i, nil }
		}
		fns[0] = func(context.Context) (int, error) { return 0, errBoom }
		f := workers.SpawnAll(context.Background(), fns, workers.OnPool(p))
		relSettles(t, f, "SpawnAll")
		if _, err := f.Await(context.Background()); !errors.Is(err, errBoom) {
			t.Errorf("SpawnAll err = %v, want errSemBoom", err)
		}
		shutdown(t, p)
		s := p.Stats()
		if s.Submitted != uint64(len(fns)) || s.Failed != 1 {
			t.Fatalf("Submitted = %d, Failed = %d; want %d (every function of a batch is counted once) and 1", s.Submitted, s.Failed, len(fns))
		}
	}
}

// A worker that pops a task whose parent has just ended settles it as
// cancelled. A continuation of that task that calls runtime.Goexit ends the
// worker's goroutine; the worker's slot must pass on, so that the next task
// runs and Shutdown returns.
func TestReliabilityGoexitWhenPoppingParentEndedTask(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1})
	release := make(chan struct{})
	blocker := workers.Spawn(context.Background(), func(context.Context) (int, error) { <-release; return 1, nil }, workers.OnPool(p))
	pctx, cancel := newLazyParent()
	victim := workers.Spawn(pctx, func(context.Context) (int, error) { return 2, nil }, workers.OnPool(p))
	relGoexitOnSettle(victim)
	cancel() // the pool's watch on pctx never runs: the worker finds out
	close(release)
	relSettles(t, blocker, "blocker")
	relSettles(t, victim, "victim")
	wantState(t, victim, async.Cancelled)
	next := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 3, nil }, workers.OnPool(p))
	relSettles(t, next, "a task spawned after the Goexit")
	shutdown(t, p)
}

// Once the task's Done channel is closed, Err and Cause report why at
// once, to a function woken by Done while the cancel is still under way.
func TestReliabilityContextErrOnceDone(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1})
	defer shutdown(t, p)
	for i := range 2000 {
		bad := make(chan string, 1)
		started := make(chan struct{})
		f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			if ctx.Err() == nil || context.Cause(ctx) == nil {
				bad <- fmt.Sprintf("Err() = %v, Cause = %v", ctx.Err(), context.Cause(ctx))
			}
			close(bad)
			return 0, nil
		}, workers.OnPool(p))
		<-started
		f.Cancel()
		if msg := <-bad; msg != "" {
			t.Fatalf("iteration %d: Done() is closed but %s", i, msg)
		}
	}
}

// The task's context must not report an error before its Done channel is
// closed (the context.Context contract), even while a cancel is under way.
func TestReliabilityContextErrNotBeforeDone(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1})
	defer shutdown(t, p)
	n := 5000
	if testing.Short() {
		n = 500
	}
	for i := range n {
		started := make(chan struct{})
		bad := make(chan bool, 1)
		f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
			done := ctx.Done() // made before the cancel, so that the cancel closes it
			close(started)
			for ctx.Err() == nil {
				runtime.Gosched()
			}
			select {
			case <-done:
				bad <- false
			default:
				bad <- true
			}
			return 0, nil
		}, workers.OnPool(p))
		<-started
		f.Cancel()
		if <-bad {
			t.Fatalf("iteration %d: ctx.Err() != nil while ctx.Done() is still open", i)
		}
	}
}

// CancelAll, Close and Shutdown (once its context ends) settle every task
// they take off the queue, even when a continuation of one of them calls
// runtime.Goexit on the goroutine that makes the call.
func TestReliabilityBulkCancelSurvivesGoexit(t *testing.T) {
	ops := map[string]func(*workers.Pool){
		"CancelAll": func(p *workers.Pool) { p.CancelAll() },
		"Close":     func(p *workers.Pool) { p.Close() },
		"Shutdown": func(p *workers.Pool) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = p.Shutdown(ctx)
		},
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			p := newPool(t, workers.Config{MaxWorkers: 1})
			blocker := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
				<-ctx.Done()
				return 0, ctx.Err()
			}, workers.OnPool(p))
			var queued []*async.Future[int]
			for range 5 {
				queued = append(queued, workers.Spawn(context.Background(), func(context.Context) (int, error) { return 1, nil }, workers.OnPool(p)))
			}
			relGoexitOnSettle(queued[0])
			relOnOwnGoroutine(func() { op(p) })
			for i, f := range queued {
				relSettles(t, f, "queued task")
				if f.State() != async.Cancelled {
					t.Errorf("queued[%d] = %v, want cancelled", i, f.State())
				}
			}
			p.CancelAll()
			relSettles(t, blocker, "blocker")
			p.Close()
			shutdown(t, p)
		})
	}
}

// Bad options on the default pool count in its Stats.Rejected, as a nil
// context does.
func TestReliabilityBadOptionsCountedOnDefaultPool(t *testing.T) {
	workers.ResetDefaultForTest()
	t.Cleanup(workers.ResetDefaultForTest)
	fn := func(context.Context) (int, error) { return 1, nil }
	before := workers.Default().Stats().Rejected
	for _, f := range []*async.Future[int]{
		workers.Spawn(context.Background(), fn, workers.WithTimeout(-1)),
		workers.Spawn(context.Background(), fn, workers.Option{}),
		workers.Spawn(context.Background(), fn, workers.OnPool(nil)),
		workers.Spawn(nilCtx, fn),
		async.Then(workers.SpawnAll(context.Background(), []func(context.Context) (int, error){fn}, workers.WithTimeout(-1)),
			func([]int) (int, error) { return 0, nil }),
	} {
		if _, err := f.Await(context.Background()); !errors.Is(err, workers.ErrInvalidArgument) {
			t.Errorf("err = %v, want ErrInvalidArgument", err)
		}
	}
	if got := workers.Default().Stats().Rejected - before; got != 5 {
		t.Errorf("Default().Stats().Rejected rose by %d, want 5", got)
	}
}

// A function that calls runtime.Goexit after its future was cancelled has
// its outcome dropped, and counted in Stats.Late like one that returns.
func TestReliabilityLateGoexitCounted(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1})
	started := make(chan struct{})
	f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		runtime.Goexit()
		return 0, nil
	}, workers.OnPool(p))
	<-started
	f.Cancel()
	shutdown(t, p)
	if s := p.Stats(); s.Late != 1 || s.Cancelled != 1 || s.Failed != 0 {
		t.Errorf("Late=%d Cancelled=%d Failed=%d, want 1, 1, 0", s.Late, s.Cancelled, s.Failed)
	}
}

// A worker settles the task it finished before it takes another from the
// queue: the continuations of the finished task see the next task still
// queued, where a free worker can start it, so a continuation may wait for
// it.
func TestReliabilityWorkerSettlesBeforeClaimingNext(t *testing.T) {
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

// Once every future has settled and every function has returned,
// Submitted = Completed + Failed + Cancelled + TimedOut; Rejected counts
// calls refused before submission, apart; Late counts outcomes dropped,
// each of a task already counted as Cancelled or TimedOut.
func TestReliabilityStatsInvariant(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2, QueueSize: 1000})
	parent, cancel := context.WithCancel(context.Background())
	var fs []*async.Future[int]
	release := make(chan struct{})
	fs = append(fs,
		workers.Spawn(context.Background(), func(context.Context) (int, error) { return 1, nil }, workers.OnPool(p)),
		workers.Spawn(context.Background(), func(context.Context) (int, error) { return 0, errBoom }, workers.OnPool(p)),
		workers.Spawn(context.Background(), func(context.Context) (int, error) { panic("x") }, workers.OnPool(p)),
		workers.Spawn(context.Background(), func(context.Context) (int, error) { runtime.Goexit(); return 0, nil }, workers.OnPool(p)),
		workers.Spawn(context.Background(), func(context.Context) (int, error) { <-release; return 0, nil }, workers.OnPool(p), workers.WithTimeout(time.Millisecond)),
		workers.Spawn(parent, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, nil }, workers.OnPool(p)),
		workers.Spawn(context.Background(), func(context.Context) (int, error) { return 1, nil }, workers.OnPool(p), workers.WithTimeout(-1)),
	)
	fs = append(fs, async.Then(workers.SpawnAll(parent, []func(context.Context) (int, error){
		func(context.Context) (int, error) { return 1, nil },
		func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, nil },
	}, workers.OnPool(p)), func([]int) (int, error) { return 0, nil }))
	cancel()
	for _, f := range fs[:4] {
		relSettles(t, f, "task")
	}
	relSettles(t, fs[4], "timed out task")
	close(release)
	for _, f := range fs[5:] {
		relSettles(t, f, "task")
	}
	shutdown(t, p)
	s := p.Stats()
	if s.Submitted != s.Completed+s.Failed+s.Cancelled+s.TimedOut {
		t.Errorf("Submitted %d != Completed+Failed+Cancelled+TimedOut %d (%+v)", s.Submitted, s.Completed+s.Failed+s.Cancelled+s.TimedOut, s)
	}
	if s.Rejected != 1 || s.TimedOut != 1 || s.Late < 1 || s.Late > s.Cancelled+s.TimedOut {
		t.Errorf("Rejected=%d TimedOut=%d Late=%d Cancelled=%d, want 1, 1, 1..Cancelled+TimedOut", s.Rejected, s.TimedOut, s.Late, s.Cancelled)
	}
}

// A SpawnAll whose parent ends while it runs settles as cancelled, as one
// whose parent had already ended does, with an error that matches
// async.ErrCancelled and the parent's cause.
func TestReliabilitySpawnAllParentEndIsCancelled(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2})
	defer shutdown(t, p)
	cause := errors.New("rel: parent gone")
	fns := make([]func(context.Context) (int, error), 5)
	started := make(chan struct{}, len(fns))
	for i := range fns {
		fns[i] = func(ctx context.Context) (int, error) { started <- struct{}{}; <-ctx.Done(); return 0, ctx.Err() }
	}
	for _, already := range []bool{true, false} {
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		if already {
			cancel(cause)
		}
		f := workers.SpawnAll(ctx, fns, workers.OnPool(p))
		if !already {
			<-started
			cancel(cause)
		}
		relSettles(t, f, "SpawnAll")
		_, err := f.Await(context.Background())
		if f.State() != async.Cancelled || !errors.Is(err, async.ErrCancelled) || !errors.Is(err, cause) {
			t.Errorf("parent ended already=%v: state %v, err %v; want cancelled, matching ErrCancelled and the cause", already, f.State(), err)
		}
		for len(started) > 0 {
			<-started
		}
	}
}

// CancelAll counts every task future it leaves cancelled, the siblings that
// a batch cancels itself included: the count and Stats.Cancelled agree.
func TestReliabilityCancelAllCountsBatchTasks(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2})
	fns := make([]func(context.Context) (int, error), 10)
	var started sync.WaitGroup
	started.Add(2)
	var once [10]sync.Once
	for i := range fns {
		fns[i] = func(ctx context.Context) (int, error) {
			once[i].Do(started.Done)
			<-ctx.Done()
			return 0, ctx.Err()
		}
	}
	f := workers.SpawnAll(context.Background(), fns, workers.OnPool(p))
	started.Wait()
	before := p.Stats().Cancelled
	n := p.CancelAll()
	relSettles(t, f, "SpawnAll")
	shutdown(t, p)
	if got := p.Stats().Cancelled - before; uint64(n) != got || n != 10 {
		t.Errorf("CancelAll() = %d, Stats.Cancelled rose by %d; want 10 and 10", n, got)
	}
}

// Many goroutines calling Close, CancelAll and Spawn while continuations
// call runtime.Goexit: every future settles and the pool ends at rest.
func TestReliabilityGoexitStorm(t *testing.T) {
	for round := range 20 {
		p := newPool(t, workers.Config{MaxWorkers: 1 + round%3})
		var wg sync.WaitGroup
		var all sync.Mutex
		var fs []*async.Future[int]
		var spawned atomic.Int32
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				relOnOwnGoroutine(func() {
					for i := range 50 {
						f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
							if i%7 == 0 {
								<-ctx.Done()
							}
							return i, nil
						}, workers.OnPool(p))
						spawned.Add(1)
						all.Lock()
						fs = append(fs, f)
						all.Unlock()
						if i%5 == g {
							relGoexitThen(f)
						}
						if g == 0 && i == 40 {
							p.CancelAll()
						}
					}
				})
			}()
		}
		wg.Wait()
		relOnOwnGoroutine(p.Close)
		for _, f := range fs {
			relSettles(t, f, "storm task")
		}
		shutdown(t, p)
	}
}

// After its parent ends, a task's context.Cause is the future's error,
// which wraps the parent's cause: errors.Is sees through it, == does not.
func TestReliabilityCauseAfterParentCancelWraps(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1})
	defer shutdown(t, p)
	why := errors.New("rel: why")
	parent, cancel := context.WithCancelCause(context.Background())
	got := make(chan [2]error, 1)
	started := make(chan struct{})
	f := workers.Spawn(parent, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		got <- [2]error{ctx.Err(), context.Cause(ctx)}
		return 0, nil
	}, workers.OnPool(p))
	<-started
	cancel(why)
	r := <-got
	_, ferr := f.Await(context.Background())
	if r[0] != context.Canceled {
		t.Errorf("ctx.Err() = %v, want context.Canceled (the parent's)", r[0])
	}
	if !errors.Is(r[1], why) || !errors.Is(r[1], async.ErrCancelled) || r[1] == why || r[1] != ferr {
		t.Errorf("context.Cause = %v; want the future's error %v, matching the parent's cause and ErrCancelled but not equal to the cause", r[1], ferr)
	}
}

package workers_test

// The stress test: 100k tasks from several goroutines on a small pool, with
// random cancels, tiny timeouts, errors, panics and Goexits. Every future
// must settle exactly once, with an outcome that fits what its task did,
// and the pool's statistics must match what the futures report.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

var (
	errStress       = errors.New("stress failure")
	errStressParent = errors.New("stress parent cancelled")
)

// stressKind is what a stress task does, and what is done to it.
type stressKind uint8

const (
	kindOK           stressKind = iota // returns its index
	kindFail                           // returns a wrapped errStress
	kindPanic                          // panics with errStress
	kindGoexit                         // calls runtime.Goexit
	kindTimeoutWait                    // tiny timeout; waits for its context
	kindTimeoutRace                    // tiny timeout; returns at once (either may win)
	kindCancelWait                     // cancelled by the spawner; waits for its context
	kindCancelRace                     // cancelled by the spawner; returns at once (either may win)
	kindParentCancel                   // its parent is cancelled by the spawner; waits for its context
	numKinds
)

// stressTask is one stress task and how often its future woke a waker.
type stressTask struct {
	f     *async.Future[int]
	kind  stressKind
	wakes atomic.Int32
}

func TestStressRandomMix(t *testing.T) {
	total := 100_000
	if testing.Short() {
		total = 10_000
	}
	stressMix(t, workers.Config{MaxWorkers: 4}, total)
}

// TestStressRandomMixIdleWorkers runs the mix on a pool whose workers wait
// briefly for work, so that hand-overs to waiting workers race with the
// reaper, cancels and timeouts.
func TestStressRandomMixIdleWorkers(t *testing.T) {
	total := 30_000
	if testing.Short() {
		total = 5_000
	}
	stressMix(t, workers.Config{MaxWorkers: 4, IdleTimeout: 50 * time.Microsecond}, total)
}

func stressMix(t *testing.T, cfg workers.Config, total int) {
	const spawners = 8
	maxWorkers := cfg.MaxWorkers
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d tasks", seed, total)

	p := newPool(t, cfg)
	recs := make([]stressTask, total)
	var woken sync.WaitGroup // one Done per future, at its first wake
	wake := func(r *stressTask) {
		if r.wakes.Add(1) == 1 {
			woken.Done()
		}
	}

	// An observer reads the gauges while the work runs.
	stop := make(chan struct{})
	var observer sync.WaitGroup
	observer.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			s := p.Stats()
			if s.Workers > maxWorkers || s.Active > s.Workers || s.Abandoned > s.Active || s.Queued < 0 {
				t.Errorf("inconsistent gauges: %+v", s)
				return
			}
			for _, ti := range p.Tasks() {
				if (ti.State == workers.TaskRunning) != (ti.Worker != "") {
					t.Errorf("inconsistent task snapshot: %+v", ti)
					return
				}
			}
			runtime.Gosched()
		}
	})

	var spawning sync.WaitGroup
	per := total / spawners
	for g := range spawners {
		spawning.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			lo, hi := g*per, (g+1)*per
			if g == spawners-1 {
				hi = total
			}
			for i := lo; i < hi; i++ {
				r := &recs[i]
				r.kind = stressKind(rng.IntN(int(numKinds)))
				ctx := context.Background()
				var cancelParent func(error)
				opts := []workers.Option{workers.OnPool(p)}
				wait := func(ctx context.Context) (int, error) { <-ctx.Done(); return i, nil }
				ret := func(context.Context) (int, error) { return i, nil }
				var fn func(context.Context) (int, error)
				switch r.kind {
				case kindOK, kindCancelRace:
					fn = ret
				case kindFail:
					fn = func(context.Context) (int, error) { return 0, fmt.Errorf("task %d: %w", i, errStress) }
				case kindPanic:
					fn = func(context.Context) (int, error) { panic(errStress) }
				case kindGoexit:
					fn = func(context.Context) (int, error) { runtime.Goexit(); return 0, nil }
				case kindTimeoutWait:
					fn = wait
					opts = append(opts, workers.WithTimeout(time.Duration(1+rng.IntN(50))*time.Microsecond))
				case kindTimeoutRace:
					fn = ret
					opts = append(opts, workers.WithTimeout(time.Duration(1+rng.IntN(20))*time.Microsecond))
				case kindCancelWait:
					fn = wait
				case kindParentCancel:
					fn = wait
					pctx, cancel := context.WithCancelCause(context.Background())
					ctx, cancelParent = pctx, cancel
				}
				if rng.IntN(4) == 0 {
					opts = append(opts, workers.WithName("stress"))
				}
				r.f = workers.Spawn(ctx, fn, opts...)
				woken.Add(1)
				if r.f.Poll(async.WakerFunc(func() { wake(r) })).IsReady() {
					wake(r) // already settled: the waker was not registered
				}
				switch r.kind {
				case kindCancelWait, kindCancelRace, kindParentCancel:
					if rng.IntN(2) == 0 {
						runtime.Gosched()
					}
					if cancelParent != nil {
						cancelParent(errStressParent)
					} else {
						r.f.Cancel()
					}
				}
			}
		})
	}
	spawning.Wait()

	// Every future settles: Await returns, and agrees with Result and State.
	var completed, failed, panicked, cancelled, timedOut uint64
	bad := 0
	report := func(i int, format string, args ...any) {
		bad++
		if bad <= 10 {
			t.Errorf("task %d (kind %d): "+format, append([]any{i, recs[i].kind}, args...)...)
		}
	}
	for i := range recs {
		r := &recs[i]
		v, err := await(r.f)
		res, ok := r.f.Result()
		if !ok || res.Value != v || res.Err != err {
			report(i, "Result() = %+v, %v; Await = %v, %v", res, ok, v, err)
			continue
		}
		select {
		case <-r.f.Done():
		default:
			report(i, "Done() not closed after Await returned")
		}
		var te *workers.TimeoutError
		var pe *workers.PanicError
		switch st := r.f.State(); {
		case st == async.Fulfilled:
			completed++
			if err != nil || v != i {
				report(i, "fulfilled with %v, %v", v, err)
			}
			if k := r.kind; k != kindOK && k != kindTimeoutRace && k != kindCancelRace {
				report(i, "fulfilled")
			}
		case st == async.Cancelled:
			cancelled++
			if !errors.Is(err, async.ErrCancelled) {
				report(i, "cancelled with %v", err)
			}
			if k := r.kind; k != kindCancelWait && k != kindCancelRace && k != kindParentCancel {
				report(i, "cancelled: %v", err)
			}
			if r.kind == kindParentCancel && !errors.Is(err, errStressParent) {
				report(i, "cancelled by its parent with %v, want the parent's cause", err)
			}
		case st != async.Rejected:
			report(i, "State() = %v after Await", st)
		case errors.As(err, &te):
			timedOut++
			if k := r.kind; k != kindTimeoutWait && k != kindTimeoutRace {
				report(i, "timed out: %v", err)
			}
		case errors.As(err, &pe):
			failed++
			panicked++
			if r.kind != kindPanic || !errors.Is(err, errStress) {
				report(i, "panicked: %v", err)
			}
		case errors.Is(err, async.ErrGoexit):
			failed++
			if r.kind != kindGoexit {
				report(i, "Goexit: %v", err)
			}
		case errors.Is(err, errStress):
			failed++
			if r.kind != kindFail {
				report(i, "failed: %v", err)
			}
		default:
			report(i, "rejected with unexpected %v", err)
		}
	}

	// Every future woke its waker, once.
	woken.Wait()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	close(stop)
	observer.Wait()
	for i := range recs {
		if n := recs[i].wakes.Load(); n != 1 {
			report(i, "waker woken %d times, want 1", n)
		}
	}

	s := p.Stats()
	t.Logf("stats %+v", s)
	want := workers.Stats{Submitted: uint64(total), Completed: completed, Failed: failed, Cancelled: cancelled,
		TimedOut: timedOut, Panicked: panicked, Late: s.Late}
	wantCounts(t, s, want)
	wantSumsUp(t, s)
	wantAtRest(t, p)
	if s.Late > s.Cancelled+s.TimedOut {
		t.Errorf("Late = %d > Cancelled+TimedOut = %d", s.Late, s.Cancelled+s.TimedOut)
	}
	if bad > 10 {
		t.Errorf("... %d problems in all", bad)
	}
}

// Many goroutines calling Close, CancelAll and Spawn while continuations
// call runtime.Goexit: every future settles and the pool ends at rest.
func TestStressGoexitStorm(t *testing.T) {
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

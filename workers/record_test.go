package workers_test

// Config.OnTaskStart and Config.OnTaskDone: one record per task, after its
// outcome is final, agreeing with Stats; the start hook's context reaches
// the function and comes back in the record; hooks that panic, Goexit or
// re-enter the pool.

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/internal/fuzzinput"
	"github.com/velalang/runtime/workers"
)

// ledger collects a pool's OnTaskDone records.
type ledger struct {
	mu   sync.Mutex
	recs []workers.TaskRecord
}

func (l *ledger) add(r workers.TaskRecord) {
	l.mu.Lock()
	l.recs = append(l.recs, r)
	l.mu.Unlock()
}

func (l *ledger) all() []workers.TaskRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]workers.TaskRecord(nil), l.recs...)
}

// wantAgrees checks that the records account for every task of s once, in
// the outcome Stats counted it in, and that no task has two records.
func (l *ledger) wantAgrees(t testing.TB, s workers.Stats) {
	t.Helper()
	var by [5]uint64
	var tasks, panicked uint64
	seen := map[uint64]bool{}
	for _, r := range l.all() {
		if r.Count < 1 || r.Outcome < workers.Completed || r.Outcome > workers.TimedOut {
			t.Errorf("record with Count %d, Outcome %v: %+v", r.Count, r.Outcome, r)
			continue
		}
		for id := r.ID; id < r.ID+uint64(r.Count); id++ {
			if seen[id] {
				t.Errorf("task %d has two records (the second: %+v)", id, r)
			}
			seen[id] = true
		}
		by[r.Outcome] += uint64(r.Count)
		tasks += uint64(r.Count)
		if r.Panicked {
			panicked++
		}
		if r.Ended.Before(r.Enqueued) || (!r.Started.IsZero() && (r.Started.Before(r.Enqueued) || r.Ended.Before(r.Started))) {
			t.Errorf("times out of order: %+v", r)
		}
		if r.Wait() < 0 || r.Run() < 0 {
			t.Errorf("Wait %v, Run %v: %+v", r.Wait(), r.Run(), r)
		}
		if r.Context == nil || r.Pool == "" || r.Attempt != 1 {
			t.Errorf("record without context, pool or attempt: %+v", r)
		}
	}
	want := [5]uint64{0, s.Completed, s.Failed, s.Cancelled, s.TimedOut}
	if by != want || tasks != s.Submitted || panicked != s.Panicked {
		t.Errorf("records: %d tasks, by outcome %v, %d panicked;\nStats: %d submitted, %v, %d panicked",
			tasks, by[1:], panicked, s.Submitted, want[1:], s.Panicked)
	}
}

func observedPool(t testing.TB, l *ledger, max int) *workers.Pool {
	return newPool(t, workers.Config{MaxWorkers: max, Name: "obs", OnTaskDone: l.add})
}

func TestOnTaskDoneEachOutcome(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l ledger
		p := observedPool(t, &l, 1)
		ctx := context.Background()
		gate := make(chan struct{})
		blocked := workers.Spawn(ctx, func(context.Context) (int, error) { <-gate; return 1, nil }, workers.OnPool(p), workers.WithName("gate"))
		queuedCancel := workers.Spawn(ctx, returns(2), workers.OnPool(p), workers.WithName("queued-cancel"))
		queuedTimeout := workers.Spawn(ctx, returns(3), workers.OnPool(p), workers.WithTimeout(time.Second))
		ended, end := context.WithCancel(ctx)
		end()
		parentDone := workers.Spawn(ended, returns(4), workers.OnPool(p))
		queuedCancel.Cancel()
		time.Sleep(2 * time.Second) // the queued task's deadline passes
		close(gate)
		failing := workers.Spawn(ctx, func(context.Context) (int, error) { return 0, errBoom }, workers.OnPool(p))
		panicking := workers.Spawn(ctx, func(context.Context) (int, error) { panic("p") }, workers.OnPool(p))
		goexit := workers.Spawn(ctx, func(context.Context) (int, error) { runtime.Goexit(); return 0, nil }, workers.OnPool(p))
		overrun := workers.Spawn(ctx, sleeps(time.Minute, 5), workers.OnPool(p), workers.WithRunTimeout(time.Second))
		for _, f := range []*async.Future[int]{blocked, queuedCancel, queuedTimeout, parentDone, failing, panicking, goexit, overrun} {
			await(f)
		}
		shutdown(t, p)
		s := p.Stats()
		l.wantAgrees(t, s)
		wantCounts(t, s, workers.Stats{Submitted: 8, Completed: 1, Failed: 3, Panicked: 1, Cancelled: 2, TimedOut: 2, Late: 1})

		byName := map[string]workers.TaskRecord{}
		for _, r := range l.all() {
			if r.Name != "" {
				byName[r.Name] = r
			}
		}
		if r := byName["gate"]; r.Outcome != workers.Completed || r.Run() != 2*time.Second || r.Wait() != 0 || r.Worker != "obs-1" || r.Pool != "obs" {
			t.Errorf("gate: %+v (run %v, wait %v), want completed after running 2s on obs-1", r, r.Run(), r.Wait())
		}
		if r := byName["queued-cancel"]; r.Outcome != workers.Cancelled || !r.Started.IsZero() || r.Worker != "" || !errors.Is(r.Err, async.ErrCancelled) {
			t.Errorf("queued-cancel: %+v, want cancelled, never started", r)
		}
		for _, r := range l.all() {
			switch {
			case r.Outcome == workers.TimedOut && r.Started.IsZero():
				if r.Wait() != time.Second || !errors.Is(r.Err, workers.ErrTimeout) {
					t.Errorf("queued timeout: %+v (wait %v), want timed out after waiting 1s", r, r.Wait())
				}
			case r.Outcome == workers.TimedOut:
				// The function is abandoned at the deadline and reported
				// when it returns, a minute after it started.
				if !r.Abandoned || r.Run() != time.Minute {
					t.Errorf("run timeout: %+v (run %v), want abandoned, reported after a minute's run", r, r.Run())
				}
			case r.Panicked:
				var pe *workers.PanicError
				if r.Outcome != workers.Failed || !errors.As(r.Err, &pe) {
					t.Errorf("panic: %+v", r)
				}
			case r.Outcome == workers.Failed && !errors.Is(r.Err, errBoom) && !errors.Is(r.Err, async.ErrGoexit):
				t.Errorf("failure with error %v", r.Err)
			}
		}
	})
}

func TestOnTaskDoneBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l ledger
		p := observedPool(t, &l, 2)
		ctx := context.Background()
		ok := make([]func(context.Context) (int, error), 10)
		for i := range ok {
			ok[i] = sleeps(time.Millisecond, i)
		}
		if _, err := await(workers.SpawnAll(ctx, ok, workers.OnPool(p), workers.WithName("ok"))); err != nil {
			t.Fatal(err)
		}
		// One failure among 100: two tasks ran when it failed (the other
		// one is abandoned), the rest never start and share one record.
		fns := make([]func(context.Context) (int, error), 100)
		for i := range fns {
			fns[i] = sleeps(time.Second, i)
		}
		fns[1] = func(context.Context) (int, error) { time.Sleep(time.Millisecond); return 0, errBoom }
		if _, err := await(workers.SpawnAll(ctx, fns, workers.OnPool(p))); !errors.Is(err, errBoom) {
			t.Fatalf("batch: %v, want errBoom", err)
		}
		// A batch whose parent has already ended.
		ended, end := context.WithCancel(ctx)
		end()
		await(workers.SpawnAll(ended, ok, workers.OnPool(p)))
		shutdown(t, p)
		l.wantAgrees(t, p.Stats())
		var shared, abandoned int
		for _, r := range l.all() {
			if r.Batch == 0 {
				t.Errorf("batch task without Batch: %+v", r)
			}
			if r.Count > 1 {
				shared++
				if r.Outcome != workers.Cancelled || !r.Started.IsZero() || r.Index+r.Count != 100 && r.Index+r.Count != 10 {
					t.Errorf("shared record %+v", r)
				}
			}
			if r.Abandoned {
				abandoned++
				if r.Outcome != workers.Cancelled || r.Run() != time.Second {
					t.Errorf("abandoned sibling: %+v (run %v), want cancelled, reported after its 1s run", r, r.Run())
				}
			}
			if r.Name == "ok" && (r.Outcome != workers.Completed || r.Run() != time.Millisecond) {
				t.Errorf("named batch task: %+v", r)
			}
		}
		if shared != 2 || abandoned != 1 {
			t.Errorf("%d shared records, %d abandoned, want 2 and 1", shared, abandoned)
		}
	})
}

// startKey marks the contexts OnTaskStart returns.
type startKey struct{}

func TestOnTaskStartContext(t *testing.T) {
	var l ledger
	var starts atomic.Int64
	p := newPool(t, workers.Config{MaxWorkers: 2, OnTaskDone: l.add,
		OnTaskStart: func(ctx context.Context, r workers.TaskRecord) context.Context {
			starts.Add(1)
			if r.Started.IsZero() || r.Worker == "" || r.Context != ctx {
				t.Errorf("start record %+v", r)
			}
			return context.WithValue(ctx, startKey{}, r.ID)
		}})
	fn := func(ctx context.Context) (uint64, error) {
		id, _ := ctx.Value(startKey{}).(uint64)
		if id == 0 {
			return 0, errors.New("the function did not get OnTaskStart's context")
		}
		return id, nil
	}
	ctx := context.Background()
	if _, err := await(workers.Spawn(ctx, fn, workers.OnPool(p))); err != nil {
		t.Fatal(err)
	}
	if _, err := await(workers.SpawnAll(ctx, []func(context.Context) (uint64, error){fn, fn, fn}, workers.OnPool(p))); err != nil {
		t.Fatal(err)
	}
	shutdown(t, p)
	l.wantAgrees(t, p.Stats())
	if n := starts.Load(); n != 4 {
		t.Errorf("OnTaskStart called %d times, want 4", n)
	}
	for _, r := range l.all() {
		if id, _ := r.Context.Value(startKey{}).(uint64); id != r.ID {
			t.Errorf("record %d carries the start context of task %d", r.ID, id)
		}
	}
}

func TestHooksThatMisbehave(t *testing.T) {
	t.Run("OnTaskDone panics", func(t *testing.T) {
		var calls atomic.Int64
		p := newPool(t, workers.Config{MaxWorkers: 1, OnTaskDone: func(workers.TaskRecord) { calls.Add(1); panic("hook") }})
		for range 3 {
			if v, err := await(workers.Spawn(context.Background(), returns(1), workers.OnPool(p))); v != 1 || err != nil {
				t.Fatalf("got (%v, %v)", v, err)
			}
		}
		shutdown(t, p)
		if s := p.Stats(); s.HookPanics != 3 || calls.Load() != 3 || s.Completed != 3 {
			t.Errorf("HookPanics %d, calls %d, Completed %d, want 3 each", s.HookPanics, calls.Load(), s.Completed)
		}
	})
	t.Run("OnTaskStart panics or Goexits", func(t *testing.T) {
		var l ledger
		var n atomic.Int64
		p := newPool(t, workers.Config{MaxWorkers: 1, OnTaskDone: l.add,
			OnTaskStart: func(ctx context.Context, _ workers.TaskRecord) context.Context {
				if n.Add(1)%2 == 1 {
					panic("start hook")
				}
				runtime.Goexit()
				return ctx
			}})
		_, err := await(workers.Spawn(context.Background(), returns(1), workers.OnPool(p)))
		var pe *workers.PanicError
		if !errors.As(err, &pe) || pe.Value != "start hook" {
			t.Errorf("panic in OnTaskStart: %v, want a *PanicError", err)
		}
		if _, err := await(workers.Spawn(context.Background(), returns(1), workers.OnPool(p))); !errors.Is(err, async.ErrGoexit) {
			t.Errorf("Goexit in OnTaskStart: %v, want ErrGoexit", err)
		}
		_, err = await(workers.SpawnAll(context.Background(), []func(context.Context) (int, error){returns(1)}, workers.OnPool(p)))
		if !errors.As(err, &pe) {
			t.Errorf("panic in OnTaskStart, batch: %v", err)
		}
		shutdown(t, p)
		l.wantAgrees(t, p.Stats())
	})
	t.Run("OnTaskDone calls Goexit", func(t *testing.T) {
		// Forbidden by the contract, but it must not stall the pool: the
		// worker's goroutine unwinds after the task's books are right, and
		// its slot passes to a new goroutine.
		var calls atomic.Int64
		p := newPool(t, workers.Config{MaxWorkers: 1, OnTaskDone: func(workers.TaskRecord) { calls.Add(1); runtime.Goexit() }})
		var fs []*async.Future[int]
		for i := range 5 {
			fs = append(fs, workers.Spawn(context.Background(), returns(i), workers.OnPool(p)))
		}
		for i, f := range fs {
			if v, err := await(f); v != i || err != nil {
				t.Errorf("task %d: (%v, %v)", i, v, err)
			}
		}
		shutdown(t, p)
		if calls.Load() != 5 {
			t.Errorf("OnTaskDone called %d times, want 5", calls.Load())
		}
	})
	t.Run("OnTaskDone re-enters the pool", func(t *testing.T) {
		// The hook runs with the mutex released: it may Spawn, read Stats
		// and Tasks.
		var p *workers.Pool
		var again atomic.Bool
		inner := make(chan *async.Future[int], 1)
		p = newPool(t, workers.Config{MaxWorkers: 1, OnTaskDone: func(r workers.TaskRecord) {
			_ = p.Stats()
			_ = p.Tasks()
			if again.CompareAndSwap(false, true) {
				inner <- workers.Spawn(context.Background(), returns(2), workers.OnPool(p))
			}
		}})
		await(workers.Spawn(context.Background(), returns(1), workers.OnPool(p)))
		await(<-inner)
		shutdown(t, p)
		if s := p.Stats(); s.Completed != 2 {
			t.Errorf("Completed %d, want 2", s.Completed)
		}
	})
}

// FuzzOnTaskDone runs mixes of Spawn, SpawnAll, cancels, timeouts,
// CancelAll and Close that the input's bytes describe, and checks the
// records against Stats: every task once, in the outcome Stats counted it
// in. Its seed corpus (20 mixes drawn from a fixed random sequence) runs
// in every go test.
func FuzzOnTaskDone(f *testing.F) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		in := make([]byte, 120)
		for i := range in {
			in[i] = byte(rng.UintN(256))
		}
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) { recordsModel(t, fuzzinput.New(data)) })
	})
}

func recordsModel(t *testing.T, in *fuzzinput.Reader) {
	var l ledger
	p := observedPool(t, &l, 1+in.Intn(3))
	parent, end := context.WithCancel(context.Background())
	var fs []*async.Future[int]
	var bs []*async.Future[[]int]
	task := func() func(context.Context) (int, error) {
		switch in.Intn(5) {
		case 0:
			return returns(1)
		case 1:
			return sleeps(time.Duration(in.Intn(5))*time.Millisecond, 1)
		case 2:
			return func(context.Context) (int, error) { return 0, errBoom }
		case 3:
			return func(context.Context) (int, error) { panic("x") }
		}
		return func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() }
	}
	opts := func() []workers.Option {
		o := []workers.Option{workers.OnPool(p)}
		switch in.Intn(4) {
		case 0:
			o = append(o, workers.WithTimeout(time.Duration(1+in.Intn(5))*time.Millisecond))
		case 1:
			o = append(o, workers.WithRunTimeout(time.Duration(1+in.Intn(5))*time.Millisecond))
		}
		return o
	}
	ctx := func() context.Context {
		if in.Intn(3) == 0 {
			return parent
		}
		return context.Background()
	}
	for range 30 {
		switch in.Intn(8) {
		case 0, 1, 2:
			fs = append(fs, workers.Spawn(ctx(), task(), opts()...))
		case 3:
			fns := make([]func(context.Context) (int, error), 1+in.Intn(6))
			for i := range fns {
				fns[i] = task()
			}
			bs = append(bs, workers.SpawnAll(ctx(), fns, opts()...))
		case 4:
			if len(fs) > 0 {
				fs[in.Intn(len(fs))].Cancel()
			}
		case 5:
			time.Sleep(time.Duration(in.Intn(3)) * time.Millisecond)
		case 6:
			if in.Intn(4) == 0 {
				end()
			}
		case 7:
			if in.Intn(6) == 0 {
				p.CancelAll()
			}
		}
	}
	// Functions that wait for their context end now at the latest.
	if in.Intn(3) == 0 {
		p.Close()
	} else {
		p.CancelAll()
	}
	end()
	for _, f := range fs {
		await(f)
	}
	for _, b := range bs {
		await(b)
	}
	shutdown(t, p)
	n0 := len(l.all())
	l.wantAgrees(t, p.Stats())
	if t.Failed() {
		t.Logf("records at the check: %d", n0)
		for _, r := range l.all() {
			t.Logf("%d b%d i%d n%d %v err=%v pan=%v ab=%v started=%v", r.ID, r.Batch, r.Index, r.Count, r.Outcome, r.Err, r.Panicked, r.Abandoned, !r.Started.IsZero())
		}
	}
}

package workers_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// Every function runs and keeps its own outcome, in input order: a value,
// its error (identity kept), a panic, a Goexit, its own run timeout, which
// fails that task alone.
func TestSpawnAllSettledKeepsEveryOutcome(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 2)
		boom := &codeError{Code: 7}
		release := make(chan struct{})
		fns := []func(context.Context) (string, error){
			returns("a"),
			func(context.Context) (string, error) { return "", boom },
			func(context.Context) (string, error) { panic("bad input") },
			func(context.Context) (string, error) { runtime.Goexit(); return "", nil },
			func(context.Context) (string, error) { <-release; return "late", nil },
			returns("f"),
		}
		f := workers.SpawnAllSettled(context.Background(), fns, workers.OnPool(p), workers.WithRunTimeout(time.Second))
		rs, err := await(f)
		if err != nil || len(rs) != len(fns) {
			t.Fatalf("SpawnAllSettled = %v, %v; want %d results", rs, err, len(fns))
		}
		var pe *workers.PanicError
		switch {
		case rs[0].Value != "a" || rs[0].Err != nil:
			t.Errorf("result 0 = %+v, want a", rs[0])
		case rs[1].Err != boom:
			t.Errorf("result 1 = %+v, want the function's own error", rs[1])
		case !errors.As(rs[2].Err, &pe) || pe.Value != "bad input":
			t.Errorf("result 2 = %+v, want a *PanicError", rs[2])
		case !errors.Is(rs[3].Err, async.ErrGoexit):
			t.Errorf("result 3 = %+v, want ErrGoexit", rs[3])
		case rs[5].Value != "f" || rs[5].Err != nil:
			t.Errorf("result 5 = %+v, want f", rs[5])
		}
		wantRunTimeout(t, rs[4].Err, "", time.Second)
		close(release)
		synctest.Wait()
		s := p.Stats()
		if s.Submitted != 6 || s.Completed != 2 || s.Failed != 3 || s.Panicked != 1 || s.TimedOut != 1 || s.Late != 1 {
			t.Errorf("Stats %+v: want Submitted 6, Completed 2, Failed 3, Panicked 1, TimedOut 1, Late 1", s)
		}
	})
}

// When the caller's context ends, or the batch's WithTimeout passes, the
// future is still fulfilled at once: finished tasks keep their outcome,
// the others hold the cancellation (with the cause) or the timeout, and
// tasks not started never run.
func TestSpawnAllSettledContextEnds(t *testing.T) {
	for _, timeout := range []bool{false, true} {
		t.Run(fmt.Sprintf("timeout=%v", timeout), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := scopedPool(t, 1)
				parent, cancel := context.WithCancelCause(context.Background())
				defer cancel(nil)
				var started atomic.Int32
				fns := []func(context.Context) (int, error){
					returns(1),
					func(ctx context.Context) (int, error) { started.Add(1); <-ctx.Done(); return 0, ctx.Err() },
					func(context.Context) (int, error) { started.Add(1); return 3, nil },
				}
				opts := []workers.Option{workers.OnPool(p)}
				if timeout {
					opts = append(opts, workers.WithTimeout(time.Second))
				}
				f := workers.SpawnAllSettled(parent, fns, opts...)
				synctest.Wait()
				cause := errors.New("request over")
				if !timeout {
					cancel(cause)
				}
				rs, err := await(f)
				if err != nil {
					t.Fatalf("SpawnAllSettled = %v, want fulfilled", err)
				}
				if rs[0].Value != 1 || rs[0].Err != nil {
					t.Errorf("finished task: %+v, want 1", rs[0])
				}
				for _, r := range rs[1:] {
					if timeout {
						wantTimeout(t, r.Err, "", time.Second)
					} else {
						wantCancelled(t, r.Err, cause)
					}
				}
				synctest.Wait()
				if started.Load() != 1 {
					t.Errorf("%d of the unfinished functions started, want 1 (the queued one never runs)", started.Load())
				}
				s := p.Stats()
				if got := s.Cancelled + s.TimedOut; got != 2 || s.Completed != 1 {
					t.Errorf("Stats %+v: want Completed 1 and 2 cancelled or timed out", s)
				}
			})
		})
	}
}

// Only a cancel of its own future cancels a SpawnAllSettled; a parent that
// had already ended fulfills it at once, every task cancelled.
func TestSpawnAllSettledCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 1)
		var ran atomic.Int32
		fns := []func(context.Context) (int, error){
			func(ctx context.Context) (int, error) { ran.Add(1); <-ctx.Done(); return 0, ctx.Err() },
			func(context.Context) (int, error) { ran.Add(1); return 2, nil },
		}
		f := workers.SpawnAllSettled(context.Background(), fns, workers.OnPool(p))
		synctest.Wait()
		if !f.Cancel() {
			t.Fatal("Cancel() = false")
		}
		wantState(t, f, async.Cancelled)
		synctest.Wait()
		if ran.Load() != 1 {
			t.Errorf("%d functions ran, want 1 (the queued one never runs)", ran.Load())
		}

		ended, cancel := context.WithCancelCause(context.Background())
		cause := errors.New("gone")
		cancel(cause)
		g := workers.SpawnAllSettled(ended, fns, workers.OnPool(p))
		rs, err := await(g)
		if err != nil || len(rs) != 2 {
			t.Fatalf("SpawnAllSettled under an ended context = %v, %v; want fulfilled", rs, err)
		}
		for _, r := range rs {
			wantCancelled(t, r.Err, cause)
		}
		if s := p.Stats(); s.Submitted != 4 || s.Cancelled != 4 {
			t.Errorf("Stats %+v: want Submitted 4, Cancelled 4", s)
		}
		if rs, err := await(workers.SpawnAllSettled(context.Background(), []func(context.Context) (int, error){}, workers.OnPool(p))); err != nil || len(rs) != 0 {
			t.Errorf("empty SpawnAllSettled = %v, %v", rs, err)
		}
		wantRejectedAtOnce(t, workers.SpawnAllSettled(context.Background(), []func(context.Context) (int, error){nil}, workers.OnPool(p)), workers.ErrInvalidArgument)
	})
}

// A SpawnAllSettled holds no per-task state beyond its result slice: the
// allocations of a call do not grow with the number of functions.
func TestSpawnAllSettledAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	p := newPool(t, workers.Config{MaxWorkers: 1})
	defer shutdown(t, p)
	ctx := context.Background()
	count := func(size int) float64 {
		fns := make([]func(context.Context) (int, error), size)
		for i := range fns {
			fns[i] = returns(i)
		}
		return testing.AllocsPerRun(20, func() {
			if _, err := workers.SpawnAllSettled(ctx, fns, workers.OnPool(p)).Await(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
	if small, large := count(10), count(1000); small != large || small > 10 {
		t.Errorf("SpawnAllSettled: %.1f allocations for 10 tasks, %.1f for 1000; want the same, at most 10", small, large)
	}
}

// SpawnAllSettled runs every function and reports each outcome, failures
// included, in input order.
func ExampleSpawnAllSettled() {
	ctx := context.Background()
	files := []string{"a.txt", "missing.txt", "b.txt"}
	fns := make([]func(context.Context) (int, error), len(files))
	for i, name := range files {
		fns[i] = func(context.Context) (int, error) {
			if name == "missing.txt" {
				return 0, fmt.Errorf("open %s: no such file", name)
			}
			return len(name), nil
		}
	}
	results, _ := workers.SpawnAllSettled(ctx, fns).Await(ctx)
	for i, r := range results {
		fmt.Println(files[i], r.Value, r.Err)
	}
	// Output:
	// a.txt 5 <nil>
	// missing.txt 0 open missing.txt: no such file
	// b.txt 5 <nil>
}

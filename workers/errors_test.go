package workers_test

// A function's failure: an error it returns keeps its identity (errors.Is
// and errors.As reach it); a panic, including a runtime error such as an
// integer division by zero or an index out of range, becomes a *PanicError
// that carries the panic value and the panicking goroutine's stack, and
// unwraps to the value when it is an error; runtime.Goexit rejects with
// async.ErrGoexit. None of them costs the pool a worker.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

func TestSpawnErrorKeepsIdentity(t *testing.T) {
	errBoom := errors.New("boom")
	t.Run("returned error", func(t *testing.T) {
		bothWays(t, func(t *testing.T, w waiter) {
			p := scopedPool(t, 1)
			f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 0, errBoom }, workers.OnPool(p))
			_, err := waitFor(w, f)
			if err != errBoom {
				t.Errorf("err = %v, want errBoom itself", err)
			}
			if s := f.State(); s != async.Rejected {
				t.Errorf("State() = %v, want rejected", s)
			}
			if s := p.Stats(); s.Failed != 1 || s.Panicked != 0 || s.Completed != 0 {
				t.Errorf("Failed=%d Panicked=%d Completed=%d, want 1, 0, 0", s.Failed, s.Panicked, s.Completed)
			}
		})
	})
	t.Run("panic", func(t *testing.T) {
		bothWays(t, func(t *testing.T, w waiter) {
			p := scopedPool(t, 1)
			f := workers.Spawn(context.Background(), func(context.Context) (int, error) { panic("boom") }, workers.OnPool(p))
			_, err := waitFor(w, f)
			var pe *workers.PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (%T), want a *PanicError", err, err)
			}
			if pe.Value != "boom" {
				t.Errorf("PanicError.Value = %#v, want \"boom\"", pe.Value)
			}
			if len(pe.Stack) == 0 {
				t.Error("PanicError.Stack is empty")
			}
			if pe.Unwrap() != nil {
				t.Errorf("Unwrap() of a panic with a string = %v, want nil", pe.Unwrap())
			}
			if s := p.Stats(); s.Failed != 1 || s.Panicked != 1 {
				t.Errorf("Failed=%d Panicked=%d, want 1 and 1", s.Failed, s.Panicked)
			}
			// The pool did not lose its only worker.
			if v, err := waitFor(w, workers.Spawn(context.Background(), returns(2), workers.OnPool(p))); v != 2 || err != nil {
				t.Errorf("Spawn after a panic: got (%v, %v), want (2, nil)", v, err)
			}
		})
	})
	t.Run("panic with an error", func(t *testing.T) {
		bothWays(t, func(t *testing.T, w waiter) {
			p := scopedPool(t, 1)
			f := workers.Spawn(context.Background(), func(context.Context) (int, error) { panic(errBoom) }, workers.OnPool(p))
			_, err := waitFor(w, f)
			var pe *workers.PanicError
			if !errors.As(err, &pe) || !errors.Is(err, errBoom) {
				t.Errorf("err = %v, want a *PanicError that errors.Is finds errBoom in", err)
			}
		})
	})
}

func TestSpawnTypedError(t *testing.T) {
	// Python's ValueError for int("abc"): strconv's *NumError, wrapping
	// strconv.ErrSyntax, wrapped again by the function.
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			n, err := strconv.Atoi("not a number")
			if err != nil {
				return 0, fmt.Errorf("parsing the count: %w", err)
			}
			return n, nil
		}, workers.OnPool(p))
		_, err := waitFor(w, f)
		var ne *strconv.NumError
		if !errors.As(err, &ne) {
			t.Fatalf("err = %v (%T), want a *strconv.NumError reachable with errors.As", err, err)
		}
		if ne.Func != "Atoi" || ne.Num != "not a number" {
			t.Errorf("NumError{Func: %q, Num: %q}, want {Atoi, not a number}", ne.Func, ne.Num)
		}
		if !errors.Is(err, strconv.ErrSyntax) {
			t.Errorf("errors.Is(%v, strconv.ErrSyntax) = false", err)
		}
		if want := `parsing the count: strconv.Atoi: parsing "not a number": invalid syntax`; err.Error() != want {
			t.Errorf("err.Error() = %q, want %q", err.Error(), want)
		}
	})
}

func TestSpawnDivideByZeroPanics(t *testing.T) {
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		divisor := 0 // a variable, so the division is checked at run time
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 10 / divisor, nil }, workers.OnPool(p))
		v, err := waitFor(w, f)
		if v != 0 {
			t.Errorf("value = %d, want 0", v)
		}
		wantRuntimePanic(t, err, "integer divide by zero", "TestSpawnDivideByZeroPanics")
		if s := p.Stats(); s.Failed != 1 || s.Panicked != 1 {
			t.Errorf("Failed=%d Panicked=%d, want 1 and 1", s.Failed, s.Panicked)
		}
	})
}

func TestSpawnKeyError(t *testing.T) {
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		prices := map[string]int{"apple": 3, "pear": 4}
		ok := workers.Spawn(context.Background(), func(context.Context) (int, error) { return lookup(prices, "pear") }, workers.OnPool(p))
		if v, err := waitFor(w, ok); v != 4 || err != nil {
			t.Fatalf("present key: got (%v, %v), want (4, nil)", v, err)
		}
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			v, err := lookup(prices, "banana")
			if err != nil {
				return 0, fmt.Errorf("pricing: %w", err)
			}
			return v, nil
		}, workers.OnPool(p))
		_, err := waitFor(w, f)
		var ke *keyError
		if !errors.As(err, &ke) {
			t.Fatalf("err = %v (%T), want a *keyError reachable with errors.As", err, err)
		}
		if ke.Key != "banana" {
			t.Errorf("KeyError.Key = %q, want \"banana\"", ke.Key)
		}
		if !strings.Contains(err.Error(), `key "banana" not found`) {
			t.Errorf("err.Error() = %q, want it to name the key", err.Error())
		}
	})
}

func TestSpawnIndexOutOfRangePanics(t *testing.T) {
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		items := []int{1, 2, 3}
		i := 10
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return items[i], nil }, workers.OnPool(p))
		_, err := waitFor(w, f)
		wantRuntimePanic(t, err, "index out of range [10] with length 3", "TestSpawnIndexOutOfRangePanics")
	})
}

func TestSpawnCustomErrorType(t *testing.T) {
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		custom := &validationError{Field: "age", Value: -1}
		f := workers.Spawn(context.Background(), func(context.Context) (string, error) {
			return "", fmt.Errorf("registering user: %w", custom)
		}, workers.OnPool(p))
		_, err := waitFor(w, f)
		var ve *validationError
		if !errors.As(err, &ve) {
			t.Fatalf("err = %v (%T), want a *validationError reachable with errors.As", err, err)
		}
		if ve != custom || ve.Field != "age" || ve.Value != -1 {
			t.Errorf("errors.As gave %+v, want the function's own error %+v", ve, custom)
		}
		if !errors.Is(err, custom) {
			t.Errorf("errors.Is(err, the custom error) = false")
		}
		var te *workers.TimeoutError
		if errors.As(err, &te) || errors.Is(err, async.ErrCancelled) {
			t.Errorf("err = %v is mistaken for a timeout or a cancellation", err)
		}
	})
}

func TestSpawnSomeFail(t *testing.T) {
	errOdd := errors.New("odd input")
	bothWays(t, func(t *testing.T, w waiter) {
		// One worker runs them all in turn: no failure, panic included,
		// costs the pool its worker or stops the tasks queued behind it.
		p := scopedPool(t, 1)
		const n = 9
		var fs []*async.Future[int]
		for i := range n {
			fs = append(fs, workers.Spawn(context.Background(), func(context.Context) (int, error) {
				switch i % 3 {
				case 1:
					return 0, fmt.Errorf("task %d: %w", i, errOdd)
				case 2:
					var m map[string]int
					nilMapWrite(m, i) // assignment to a nil map panics
				}
				return i * i, nil
			}, workers.OnPool(p)))
		}
		for i, f := range fs {
			v, err := waitFor(w, f)
			switch i % 3 {
			case 0:
				if v != i*i || err != nil {
					t.Errorf("task %d: got (%v, %v), want (%d, nil)", i, v, err, i*i)
				}
			case 1:
				if !errors.Is(err, errOdd) || !strings.Contains(err.Error(), fmt.Sprintf("task %d:", i)) {
					t.Errorf("task %d: err = %v, want its own errOdd", i, err)
				}
			case 2:
				var pe *workers.PanicError
				if !errors.As(err, &pe) {
					t.Errorf("task %d: err = %v, want a *PanicError", i, err)
				}
			}
		}
		if s := p.Stats(); s.Completed != 3 || s.Failed != 6 || s.Panicked != 3 {
			t.Errorf("Completed=%d Failed=%d Panicked=%d, want 3, 6, 3", s.Completed, s.Failed, s.Panicked)
		}
	})
}

func TestSpawnErrorFromClosure(t *testing.T) {
	type config struct{ Limit int }
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		// The closure captures a pointer that is nil by the time it runs.
		cfg := &config{Limit: 3}
		var captured *config = cfg
		captured = nil
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return captured.Limit, nil }, workers.OnPool(p))
		_, err := waitFor(w, f)
		wantRuntimePanic(t, err, "nil pointer dereference", "TestSpawnErrorFromClosure")

		// The closure captures the error it fails with: the caller gets
		// that very value.
		errLimit := fmt.Errorf("limit %d reached", cfg.Limit)
		g := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 0, errLimit }, workers.OnPool(p))
		if _, err := waitFor(w, g); err != errLimit {
			t.Errorf("err = %v, want the captured error itself", err)
		}
	})
}

func TestSpawnErrorMessageKept(t *testing.T) {
	const msg = `invalid input "x" at line 42`
	t.Run("returned error", func(t *testing.T) {
		bothWays(t, func(t *testing.T, w waiter) {
			p := scopedPool(t, 1)
			f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
				return 0, fmt.Errorf("invalid input %q at line %d", "x", 42)
			}, workers.OnPool(p))
			if _, err := waitFor(w, f); err == nil || err.Error() != msg {
				t.Errorf("err = %v, want the message %q unchanged", err, msg)
			}
		})
	})
	t.Run("panic", func(t *testing.T) {
		bothWays(t, func(t *testing.T, w waiter) {
			p := scopedPool(t, 1)
			f := workers.Spawn(context.Background(), func(context.Context) (int, error) { panic(msg) }, workers.OnPool(p))
			if _, err := waitFor(w, f); err == nil || !strings.Contains(err.Error(), msg) {
				t.Errorf("err = %v, want its message to contain %q", err, msg)
			}
		})
	})
	t.Run("SpawnAll", func(t *testing.T) {
		bothWays(t, func(t *testing.T, w waiter) {
			p := scopedPool(t, 2)
			fns := []func(context.Context) (int, error){
				returns(1),
				func(context.Context) (int, error) { return 0, errors.New(msg) },
			}
			_, err := waitFor(w, workers.SpawnAll(context.Background(), fns, workers.OnPool(p)))
			var te *workers.TaskError
			if !errors.As(err, &te) || te.Index != 1 || te.Err.Error() != msg {
				t.Fatalf("err = %v, want a *TaskError for task 1 whose Err has the message %q unchanged", err, msg)
			}
			if want := `workers: SpawnAll task 1: ` + msg; err.Error() != want {
				t.Errorf("err.Error() = %q, want %q", err.Error(), want)
			}
		})
	})
}

// The function's own error keeps its identity through the future.
func TestErrorsKeepIdentity(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2})
	defer shutdown(t, p)
	other := errors.New("other")
	code := &codeError{Code: 7}
	cases := []struct {
		name string
		err  error
		is   []error
	}{
		{"sentinel", errBoom, []error{errBoom}},
		{"wrapped", fmt.Errorf("reading config: %w", errBoom), []error{errBoom}},
		{"typed", code, []error{code}},
		{"wrapped typed", fmt.Errorf("layer 1: %w", fmt.Errorf("layer 2: %w", code)), []error{code}},
		{"joined", errors.Join(errBoom, other), []error{errBoom, other}},
		{"two %w", fmt.Errorf("%w and %w", other, code), []error{other, code}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 0, c.err }, workers.OnPool(p))
			_, err := await(f)
			wantState(t, f, async.Rejected)
			for _, target := range c.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
			var ce *codeError
			if errors.As(c.err, &ce) {
				var got *codeError
				if !errors.As(err, &got) || got != ce {
					t.Errorf("errors.As(%v, *codeError) = %v, want %p", err, got, ce)
				}
			}
			if errors.Is(err, async.ErrCancelled) || errors.Is(err, workers.ErrTimeout) {
				t.Errorf("a plain failure reads as a cancellation or a timeout: %v", err)
			}
		})
	}
	wantCounts(t, p.Stats(), workers.Stats{Submitted: uint64(len(cases)), Failed: uint64(len(cases))})
}

// Panics, runtime errors included, become *PanicError with the value and
// the stack of the panicking goroutine, which names the function that
// panicked; errors.As reaches a runtime.Error, errors.Is an error value.
func TestPanicBecomesPanicError(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2})
	defer shutdown(t, p)
	zero, five := 0, 5
	cases := []struct {
		name      string
		fn        func(context.Context) (int, error)
		inStack   string // a function the stack must name
		inMessage string
		runtime   bool  // Value is a runtime.Error
		is        error // errors.Is must reach it
	}{
		{"string", func(context.Context) (int, error) { panicWith("kaboom"); return 0, nil },
			"workers_test.panicWith(", "kaboom", false, nil},
		{"error value", func(context.Context) (int, error) { panicWith(errBoom); return 0, nil },
			"workers_test.panicWith(", errBoom.Error(), false, errBoom},
		{"integer divide by zero", func(context.Context) (int, error) { return divide(five, zero), nil },
			"workers_test.divide(", "integer divide by zero", true, nil},
		{"index out of range", func(context.Context) (int, error) { return index([]int{1, 2, 3}, five), nil },
			"workers_test.index(", "index out of range", true, nil},
		{"nil map write", func(context.Context) (int, error) { store(nil, "key", five); return 0, nil },
			"workers_test.store(", "nil map", true, nil},
		{"panic(nil)", func(context.Context) (int, error) { panicWith(nil); return 0, nil },
			"workers_test.panicWith(", "nil", true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := workers.Spawn(context.Background(), c.fn, workers.OnPool(p))
			_, err := await(f)
			wantState(t, f, async.Rejected)
			var pe *workers.PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (%T), want a *PanicError", err, err)
			}
			if !strings.Contains(pe.Error(), c.inMessage) {
				t.Errorf("Error() = %q, want it to contain %q", pe.Error(), c.inMessage)
			}
			if !strings.Contains(string(pe.Stack), c.inStack) {
				t.Errorf("Stack does not name %s:\n%s", c.inStack, pe.Stack)
			}
			var re runtime.Error
			if got := errors.As(err, &re); got != c.runtime {
				t.Errorf("errors.As(err, runtime.Error) = %v, want %v", got, c.runtime)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, c.is)
			}
		})
	}
	n := uint64(len(cases))
	wantCounts(t, p.Stats(), workers.Stats{Submitted: n, Failed: n, Panicked: n})
}

// runtime.Goexit in a task rejects its future with async.ErrGoexit after
// running the function's deferred calls; the worker is replaced, so a
// one-worker pool still runs the next task and ends at rest.
func TestGoexitRejectsAndPoolKeepsWorking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		var deferred atomic.Bool
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			defer deferred.Store(true)
			runtime.Goexit()
			return 1, nil
		}, workers.OnPool(p))
		_, err := await(f)
		wantState(t, f, async.Rejected)
		if !errors.Is(err, async.ErrGoexit) {
			t.Errorf("err = %v, want async.ErrGoexit", err)
		}
		var pe *workers.PanicError
		if errors.As(err, &pe) {
			t.Errorf("a Goexit reads as a panic: %v", err)
		}
		if !deferred.Load() {
			t.Error("the function's deferred call did not run")
		}
		next := workers.Spawn(context.Background(), func(ctx context.Context) (string, error) {
			w, _ := pprof.Label(ctx, "worker")
			return w, nil
		}, workers.OnPool(p))
		if w, err := await(next); err != nil || w != "vela-worker-1" {
			t.Errorf("task after a Goexit = %q, %v; want vela-worker-1, nil", w, err)
		}
		synctest.Wait()
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 2, Completed: 1, Failed: 1})
		wantAtRest(t, p)
		shutdown(t, p)
	})
}

// Tasks queued behind a task that calls runtime.Goexit still run, on the
// same worker slot.
func TestGoexitQueuedTasksStillRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		gate := make(chan struct{})
		first := workers.Spawn(context.Background(), func(context.Context) (string, error) {
			<-gate
			runtime.Goexit()
			return "", nil
		}, workers.OnPool(p))
		var fs []*async.Future[string]
		for i := range 5 {
			fs = append(fs, workers.Spawn(context.Background(), func(ctx context.Context) (string, error) {
				w, _ := pprof.Label(ctx, "worker")
				return fmt.Sprint(i, w), nil
			}, workers.OnPool(p)))
		}
		if q := p.QueuedCount(); q != 5 {
			t.Fatalf("QueuedCount() = %d, want 5", q)
		}
		close(gate)
		if _, err := await(first); !errors.Is(err, async.ErrGoexit) {
			t.Errorf("first: err = %v, want ErrGoexit", err)
		}
		for i, f := range fs {
			if v, err := await(f); err != nil || v != fmt.Sprint(i, "vela-worker-1") {
				t.Errorf("task %d = %q, %v", i, v, err)
			}
		}
		synctest.Wait()
		wantAtRest(t, p)
		shutdown(t, p)
	})
}

// Many panics and Goexits, more than there are workers, never lose a worker
// nor hang the pool; the pool ends at rest.
func TestPanicsAndGoexitsNeverLoseWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 2})
		zero := 0
		var bad []*async.Future[int]
		for i := range 30 {
			var fn func(context.Context) (int, error)
			switch i % 3 {
			case 0:
				fn = func(context.Context) (int, error) { panic("panic") }
			case 1:
				fn = func(context.Context) (int, error) { return 1 / zero, nil }
			default:
				fn = func(context.Context) (int, error) { runtime.Goexit(); return 0, nil }
			}
			bad = append(bad, workers.Spawn(context.Background(), fn, workers.OnPool(p)))
		}
		var good []*async.Future[int]
		for i := range 10 {
			good = append(good, workers.Spawn(context.Background(), func(context.Context) (int, error) {
				time.Sleep(time.Millisecond)
				return i, nil
			}, workers.OnPool(p)))
		}
		for _, f := range bad {
			if _, err := await(f); err == nil {
				t.Error("a panicking task succeeded")
			}
		}
		for i, f := range good {
			if v, err := await(f); v != i || err != nil {
				t.Errorf("good task %d = %v, %v", i, v, err)
			}
		}
		synctest.Wait()
		wantCounts(t, p.Stats(), workers.Stats{Submitted: 40, Completed: 10, Failed: 30, Panicked: 20})
		wantAtRest(t, p)
		shutdown(t, p)
	})
}

// A worker that pops a task whose parent has just ended settles it as
// cancelled. A continuation of that task that calls runtime.Goexit ends the
// worker's goroutine; the worker's slot must pass on, so that the next task
// runs and Shutdown returns.
func TestGoexitWakerOnTaskWhoseParentEnded(t *testing.T) {
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

// The sentinels are distinct, and ErrInvalidArgument is async's, so one
// errors.Is covers both packages.
func TestErrorSentinels(t *testing.T) {
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

package workers_test

// The seed's test_worker_errors.py (10 tests), ported. Python's exceptions
// map to Go in two ways: an error the function returns keeps its identity
// (errors.Is and errors.As reach it), and a panic, including a runtime
// error such as an integer division by zero or an index out of range,
// becomes a *PanicError that carries the panic value and the panicking
// goroutine's stack, and unwraps to the value when it is an error.

import (
	"github.com/velalang/runtime/workers"

	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
)

// seedKeyError is what a function returns for a missing map key: the
// nearest Go equivalent of Python's KeyError.
type keyError struct{ Key string }

func (e *keyError) Error() string { return fmt.Sprintf("key %q not found", e.Key) }

// seedLookup looks key up in m, turning a missing key into a *seedKeyError.
func lookup(m map[string]int, key string) (int, error) {
	v, ok := m[key]
	if !ok {
		return 0, &keyError{Key: key}
	}
	return v, nil
}

// seedValidationError is a user-defined error type that carries data, like
// the seed's custom exception class.
type validationError struct {
	Field string
	Value int
}

func (e *validationError) Error() string {
	return fmt.Sprintf("invalid %s: %d", e.Field, e.Value)
}

// seedWantRuntimePanic fails the test unless err is a *PanicError whose
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

func TestWorkerRaisesException(t *testing.T) {
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

func TestWorkerRaisesValueError(t *testing.T) {
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

func TestWorkerRaisesZeroDivisionError(t *testing.T) {
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		divisor := 0 // a variable, so the division is checked at run time
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 10 / divisor, nil }, workers.OnPool(p))
		v, err := waitFor(w, f)
		if v != 0 {
			t.Errorf("value = %d, want 0", v)
		}
		wantRuntimePanic(t, err, "integer divide by zero", "TestWorkerRaisesZeroDivisionError")
		if s := p.Stats(); s.Failed != 1 || s.Panicked != 1 {
			t.Errorf("Failed=%d Panicked=%d, want 1 and 1", s.Failed, s.Panicked)
		}
	})
}

func TestWorkerRaisesKeyError(t *testing.T) {
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
			t.Fatalf("err = %v (%T), want a *seedKeyError reachable with errors.As", err, err)
		}
		if ke.Key != "banana" {
			t.Errorf("KeyError.Key = %q, want \"banana\"", ke.Key)
		}
		if !strings.Contains(err.Error(), `key "banana" not found`) {
			t.Errorf("err.Error() = %q, want it to name the key", err.Error())
		}
	})
}

func TestWorkerRaisesIndexError(t *testing.T) {
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		items := []int{1, 2, 3}
		i := 10
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return items[i], nil }, workers.OnPool(p))
		_, err := waitFor(w, f)
		wantRuntimePanic(t, err, "index out of range [10] with length 3", "TestWorkerRaisesIndexError")
	})
}

func TestWorkerRaisesCustomException(t *testing.T) {
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		custom := &validationError{Field: "age", Value: -1}
		f := workers.Spawn(context.Background(), func(context.Context) (string, error) {
			return "", fmt.Errorf("registering user: %w", custom)
		}, workers.OnPool(p))
		_, err := waitFor(w, f)
		var ve *validationError
		if !errors.As(err, &ve) {
			t.Fatalf("err = %v (%T), want a *seedValidationError reachable with errors.As", err, err)
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

func TestMultipleWorkersSomeFail(t *testing.T) {
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

func TestWorkerErrorInClosureCapture(t *testing.T) {
	type config struct{ Limit int }
	bothWays(t, func(t *testing.T, w waiter) {
		p := scopedPool(t, 1)
		// The closure captures a pointer that is nil by the time it runs.
		cfg := &config{Limit: 3}
		var captured *config = cfg
		captured = nil
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return captured.Limit, nil }, workers.OnPool(p))
		_, err := waitFor(w, f)
		wantRuntimePanic(t, err, "nil pointer dereference", "TestWorkerErrorInClosureCapture")

		// The closure captures the error it fails with: the caller gets
		// that very value.
		errLimit := fmt.Errorf("limit %d reached", cfg.Limit)
		g := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 0, errLimit }, workers.OnPool(p))
		if _, err := waitFor(w, g); err != errLimit {
			t.Errorf("err = %v, want the captured error itself", err)
		}
	})
}

func TestWorkerErrorMessagePreserved(t *testing.T) {
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

func TestWorkerSpawnAllFirstErrorFailsFast(t *testing.T) {
	errFirst := errors.New("first failure")
	bothWaysInBubble(t, func(t *testing.T, w waiter) {
		// Two workers: the failing task and a slow one run, two more wait.
		p := scopedPool(t, 2)
		var slowCause error
		var slowStoppedAt time.Duration
		var queuedRan atomic.Int32
		start := time.Now()
		fns := []func(context.Context) (int, error){
			func(context.Context) (int, error) {
				time.Sleep(10 * time.Millisecond)
				return 0, errFirst
			},
			func(ctx context.Context) (int, error) {
				select {
				case <-ctx.Done():
					slowCause, slowStoppedAt = context.Cause(ctx), time.Since(start)
					return 0, ctx.Err()
				case <-time.After(time.Hour):
					return 1, nil
				}
			},
			func(context.Context) (int, error) { queuedRan.Add(1); return 2, nil },
			func(context.Context) (int, error) { queuedRan.Add(1); return 3, nil },
		}
		v, err := waitFor(w, workers.SpawnAll(context.Background(), fns, workers.OnPool(p)))
		if d := time.Since(start); d != 10*time.Millisecond {
			t.Errorf("SpawnAll failed after %v, want 10ms: it must not wait for the slow sibling", d)
		}
		if v != nil || !errors.Is(err, errFirst) {
			t.Fatalf("got (%v, %v), want (nil, the first failure)", v, err)
		}
		shutdown(t, p) // every function has returned
		if !errors.Is(slowCause, async.ErrCancelled) || !errors.Is(slowCause, errFirst) {
			t.Errorf("the running sibling's context.Cause = %v, want a cancellation that wraps the first failure", slowCause)
		}
		if slowStoppedAt != 10*time.Millisecond {
			t.Errorf("the running sibling's context ended after %v, want 10ms", slowStoppedAt)
		}
		if n := queuedRan.Load(); n != 0 {
			t.Errorf("%d queued siblings ran after the first failure, want 0: they must be cancelled before a worker takes them", n)
		}
		if s := p.Stats(); s.Failed != 1 || s.Cancelled != 3 || s.Completed != 0 {
			t.Errorf("Failed=%d Cancelled=%d Completed=%d, want 1, 3, 0", s.Failed, s.Cancelled, s.Completed)
		}
	})
}

// seedNilMapWrite writes to m, which the caller passes nil to provoke a
// runtime panic.
func nilMapWrite(m map[string]int, v int) { m["boom"] = v }

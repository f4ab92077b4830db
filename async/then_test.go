package async_test

// Then: mapping a future's value, chains, errors, panics and
// runtime.Goexit in the function, and cancelling the result.

import (
	"bytes"
	"errors"
	"runtime"
	"strconv"
	"testing"
	"testing/synctest"

	"github.com/velalang/runtime/async"
)

func TestThenMapsValue(t *testing.T) {
	p, f := async.NewPromise[int]()
	calls := 0
	out := async.Then(f, func(n int) (string, error) { calls++; return strconv.Itoa(n * 2), nil })
	wantState(t, out, async.Pending)
	if calls != 0 {
		t.Fatal("Then ran fn before its input settled")
	}
	p.Resolve(21)
	// fn runs on the settling goroutine, before Resolve returns.
	if calls != 1 {
		t.Fatalf("fn ran %d times by the time Resolve returned, want 1", calls)
	}
	wantState(t, out, async.Fulfilled)
	if v, err := await(t, out); v != "42" || err != nil {
		t.Fatalf("Then = %q, %v; want \"42\", nil", v, err)
	}
}

func TestThenOnSettledFutureRunsAtOnce(t *testing.T) {
	out := async.Then(async.FromValue(2), func(n int) (int, error) { return n + 1, nil })
	wantState(t, out, async.Fulfilled)
	if v, _ := await(t, out); v != 3 {
		t.Fatalf("Then = %v, want 3", v)
	}
}

func TestThenChain(t *testing.T) {
	p, f := async.NewPromise[int]()
	out := async.Then(async.Then(f, func(n int) (int, error) { return n + 1, nil }),
		func(n int) (string, error) { return "n=" + strconv.Itoa(n), nil })
	p.Resolve(1)
	if v, err := await(t, out); v != "n=2" || err != nil {
		t.Fatalf("chain = %q, %v", v, err)
	}
}

func TestThenPropagatesInputError(t *testing.T) {
	for name, in := range settledFutures() {
		if name == "fulfilled" {
			continue
		}
		called := false
		out := async.Then(in, func(int) (int, error) { called = true; return 1, nil })
		wantState(t, out, async.Rejected)
		_, want := in.Await(nilCtx)
		if _, err := await(t, out); err != want {
			t.Errorf("%s input: Then error = %v, want %v", name, err, want)
		}
		if called {
			t.Errorf("%s input: fn ran although the input failed", name)
		}
	}
	_, f := async.NewPromise[int]()
	out := async.Then(f, func(int) (int, error) { return 1, nil })
	f.Cancel()
	if _, err := await(t, out); !errors.Is(err, async.ErrCancelled) {
		t.Fatalf("Then of a cancelled input = %v, want ErrCancelled", err)
	}
}

func TestThenFnError(t *testing.T) {
	out := async.Then(async.FromValue(1), func(int) (int, error) { return 5, errBoom })
	wantState(t, out, async.Rejected)
	if v, err := await(t, out); v != 0 || err != errBoom {
		t.Fatalf("Then = %v, %v; want 0, boom", v, err)
	}
}

func TestThenPanic(t *testing.T) {
	p, f := async.NewPromise[int]()
	out := async.Then(f, func(int) (int, error) { panic("kaboom") })
	settled := make(chan struct{})
	go func() {
		defer close(settled)
		p.Resolve(1) // the panic must not escape to the settling goroutine
	}()
	<-settled
	_, err := await(t, out)
	var pe *async.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Then error = %v (%T), want *PanicError", err, err)
	}
	if pe.Value != "kaboom" {
		t.Errorf("PanicError.Value = %v, want \"kaboom\"", pe.Value)
	}
	if len(pe.Stack) == 0 {
		t.Fatal("PanicError.Stack is empty")
	}
	// The stack is the panicking goroutine's: it shows the function that panicked.
	if !bytes.Contains(pe.Stack, []byte("TestThenPanic.func1")) {
		t.Errorf("PanicError.Stack does not show the panicking function:\n%s", pe.Stack)
	}
	if pe.Error() != "panic: kaboom" {
		t.Errorf("Error() = %q", pe.Error())
	}
	if pe.Unwrap() != nil {
		t.Errorf("Unwrap() of a non-error panic value = %v, want nil", pe.Unwrap())
	}
}

func TestThenRuntimeErrorPanic(t *testing.T) {
	out := async.Then(async.FromValue(3), func(i int) (int, error) {
		var s []int
		return s[i], nil // index out of range
	})
	_, err := await(t, out)
	var pe *async.PanicError
	var re runtime.Error
	if !errors.As(err, &pe) || !errors.As(err, &re) {
		t.Fatalf("Then error = %v (%T): want a *PanicError that unwraps to a runtime.Error", err, err)
	}
}

// TestThenGoexit: fn calls runtime.Goexit. fn runs on the goroutine that
// settles the input, so that goroutine ends there (Goexit cannot be
// stopped); Then's future is rejected with ErrGoexit, and everyone else
// waiting on the input is still told that it settled. Inside a bubble, a
// subscriber left waiting forever shows up as a deadlock.
func TestThenGoexit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, f := async.NewPromise[int]()
		out := async.Then(f, func(int) (int, error) { runtime.Goexit(); return 0, nil })
		next := async.Then(f, func(n int) (int, error) { return n + 1, nil }) // subscribed after
		woken := make(chan struct{})
		f.Poll(async.WakerFunc(func() { close(woken) }))
		waiter := make(chan error)
		go func() {
			_, err := f.Await(nilCtx)
			waiter <- err
		}()
		synctest.Wait()

		returned := false
		exited := make(chan struct{})
		go func() {
			defer close(exited)
			p.Resolve(1)
			returned = true
		}()
		<-exited
		if returned {
			t.Error("Resolve returned although fn called runtime.Goexit on its goroutine")
		}
		wantState(t, f, async.Fulfilled)
		if _, err := out.Await(nilCtx); !errors.Is(err, async.ErrGoexit) {
			t.Errorf("Then error = %v, want ErrGoexit", err)
		}
		if v, err := next.Await(nilCtx); v != 2 || err != nil {
			t.Errorf("a later Then on the same input = %v, %v; want 2, nil", v, err)
		}
		<-woken
		if err := <-waiter; err != nil {
			t.Errorf("Await on the input = %v, want nil", err)
		}
	})
}

// TestThenGoexitOnSettledInput: on a settled input fn runs on the caller of
// Then, so Goexit ends the caller inside Then, as it would any function the
// caller made; nothing else is left waiting.
func TestThenGoexitOnSettledInput(t *testing.T) {
	returned := false
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		async.Then(async.FromValue(1), func(int) (int, error) { runtime.Goexit(); return 0, nil })
		returned = true
	}()
	<-exited
	if returned {
		t.Fatal("Then returned although fn called runtime.Goexit on the caller's goroutine")
	}
}

func TestThenInvalid(t *testing.T) {
	for name, out := range map[string]*async.Future[int]{
		"nil future": async.Then[int, int](nil, func(int) (int, error) { return 0, nil }),
		"nil fn":     async.Then[int, int](async.FromValue(1), nil),
	} {
		wantState(t, out, async.Rejected)
		if _, err := await(t, out); !errors.Is(err, async.ErrInvalidArgument) {
			t.Errorf("Then with a %s = %v, want ErrInvalidArgument", name, err)
		}
	}
}

func TestThenCancelResultLeavesInput(t *testing.T) {
	p, f := async.NewPromise[int]()
	out := async.Then(f, func(n int) (int, error) { return n, nil })
	if !out.Cancel() {
		t.Fatal("Cancel of Then's pending future returned false")
	}
	wantState(t, f, async.Pending)
	p.Resolve(1)
	wantState(t, out, async.Cancelled)
	if _, err := await(t, out); !errors.Is(err, async.ErrCancelled) {
		t.Fatalf("Then's cancelled future = %v, want ErrCancelled", err)
	}
}

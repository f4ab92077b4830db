package async_test

// The combinators over many futures: All, AllSettled, Any, Race and
// AsCompleted, with settled, empty and nil inputs, and cancelling a
// combinator's result leaving its inputs alone.

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"go.uber.org/goleak"
)

func TestAllInputOrder(t *testing.T) {
	ps, fs := promises[int](4)
	out := async.All(fs...)
	for i := len(ps) - 1; i >= 0; i-- { // settle in reverse order
		wantState(t, out, async.Pending)
		ps[i].Resolve(i * 10)
	}
	// The last input to settle resolves All on its own goroutine.
	wantState(t, out, async.Fulfilled)
	v, err := await(t, out)
	if err != nil || !slices.Equal(v, []int{0, 10, 20, 30}) {
		t.Fatalf("All = %v, %v; want [0 10 20 30], nil", v, err)
	}
}

func TestAllSettledInputs(t *testing.T) {
	v, err := await(t, async.All(async.FromValue("a"), async.FromValue("b")))
	if err != nil || !slices.Equal(v, []string{"a", "b"}) {
		t.Fatalf("All of settled futures = %v, %v", v, err)
	}
}

// TestAllRejectsAtOnce: the first rejection settles All immediately, while
// the other inputs are still pending, and later outcomes change nothing.
func TestAllRejectsAtOnce(t *testing.T) {
	ps, fs := promises[int](3)
	out := async.All(fs...)
	ps[0].Resolve(1)
	ps[2].Reject(errBoom)
	wantState(t, out, async.Rejected)
	if _, err := await(t, out); !errors.Is(err, errBoom) {
		t.Fatalf("All error = %v, want boom", err)
	}
	wantState(t, fs[1], async.Pending) // All does not touch its inputs
	ps[1].Reject(errors.New("second"))
	if _, err := await(t, out); err != errBoom {
		t.Fatalf("a later rejection replaced All's error: %v", err)
	}
}

func TestAllCancelledInput(t *testing.T) {
	ps, fs := promises[int](2)
	out := async.All(fs...)
	ps[0].Resolve(1)
	fs[1].CancelWithCause(errBoom)
	wantState(t, out, async.Rejected)
	if _, err := await(t, out); !errors.Is(err, async.ErrCancelled) || !errors.Is(err, errBoom) {
		t.Fatalf("All error = %v, want the cancellation error", err)
	}
}

func TestAllEmpty(t *testing.T) {
	out := async.All[int]()
	wantState(t, out, async.Fulfilled)
	v, err := await(t, out)
	if err != nil || v == nil || len(v) != 0 {
		t.Fatalf("All() = %#v, %v; want an empty, non-nil slice", v, err)
	}
}

func TestAllNilInput(t *testing.T) {
	out := async.All(async.FromValue(1), nil)
	wantState(t, out, async.Rejected)
	if _, err := await(t, out); !errors.Is(err, async.ErrInvalidArgument) {
		t.Fatalf("All with a nil input = %v, want ErrInvalidArgument", err)
	}
}

func TestAllCancelResultLeavesInputs(t *testing.T) {
	ps, fs := promises[int](2)
	out := async.All(fs...)
	if !out.Cancel() {
		t.Fatal("Cancel of All's pending future returned false")
	}
	wantState(t, fs[0], async.Pending)
	wantState(t, fs[1], async.Pending)
	ps[0].Resolve(1)
	ps[1].Resolve(2)
	wantState(t, out, async.Cancelled)
}

func TestAllSettled(t *testing.T) {
	ps, fs := promises[int](3)
	out := async.AllSettled(fs...)
	ps[2].Resolve(2)
	ps[0].Reject(errBoom)
	wantState(t, out, async.Pending)
	fs[1].Cancel()
	wantState(t, out, async.Fulfilled)
	rs, err := await(t, out)
	if err != nil || len(rs) != 3 {
		t.Fatalf("AllSettled = %v, %v", rs, err)
	}
	if rs[0].Err != errBoom || rs[0].Value != 0 {
		t.Errorf("result 0 = %+v, want the rejection", rs[0])
	}
	if !errors.Is(rs[1].Err, async.ErrCancelled) {
		t.Errorf("result 1 = %+v, want the cancellation", rs[1])
	}
	if rs[2].Err != nil || rs[2].Value != 2 {
		t.Errorf("result 2 = %+v, want {2 <nil>}", rs[2])
	}
}

func TestAllSettledEmptyAndNil(t *testing.T) {
	rs, err := await(t, async.AllSettled[int]())
	if err != nil || len(rs) != 0 {
		t.Fatalf("AllSettled() = %v, %v; want empty, nil", rs, err)
	}
	out := async.AllSettled(async.FromValue(1), nil)
	wantState(t, out, async.Fulfilled) // never rejects
	rs, err = await(t, out)
	if err != nil || len(rs) != 2 {
		t.Fatalf("AllSettled with a nil input = %v, %v", rs, err)
	}
	if rs[0].Value != 1 || rs[0].Err != nil {
		t.Errorf("result 0 = %+v", rs[0])
	}
	if !errors.Is(rs[1].Err, async.ErrInvalidArgument) {
		t.Errorf("result of the nil input = %+v, want ErrInvalidArgument", rs[1])
	}
}

func TestAnyFirstFulfilment(t *testing.T) {
	ps, fs := promises[string](3)
	out := async.Any(fs...)
	ps[0].Reject(errBoom)
	wantState(t, out, async.Pending) // a failure is not the end while others may succeed
	ps[2].Resolve("two")
	wantState(t, out, async.Fulfilled)
	ps[1].Resolve("one")
	if v, err := await(t, out); v != "two" || err != nil {
		t.Fatalf("Any = %q, %v; want \"two\", nil", v, err)
	}
}

func TestAnyAllFail(t *testing.T) {
	ps, fs := promises[int](3)
	out := async.Any(fs...)
	e0, e2 := errors.New("e0"), &codeError{code: 2}
	ps[2].Reject(e2)
	fs[1].CancelWithCause(errBoom)
	wantState(t, out, async.Pending)
	ps[0].Reject(e0)
	wantState(t, out, async.Rejected)
	_, err := await(t, out)
	var agg *async.AggregateError
	if !errors.As(err, &agg) {
		t.Fatalf("Any error %v (%T) is not an *AggregateError", err, err)
	}
	if len(agg.Errors) != 3 || agg.Errors[0] != e0 || agg.Errors[2] != e2 || !errors.Is(agg.Errors[1], async.ErrCancelled) {
		t.Fatalf("AggregateError.Errors = %v, want the inputs' errors in input order", agg.Errors)
	}
	for _, target := range []error{e0, e2, errBoom, async.ErrCancelled} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false", err, target)
		}
	}
	var ce *codeError
	if !errors.As(err, &ce) || ce.code != 2 {
		t.Errorf("errors.As does not reach the *codeError input error")
	}
	for _, part := range []string{"e0", "boom", "code error"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("message %q does not mention %q", err.Error(), part)
		}
	}
}

func TestAnyInvalid(t *testing.T) {
	for name, out := range map[string]*async.Future[int]{
		"empty":     async.Any[int](),
		"nil input": async.Any(async.FromValue(1), nil),
	} {
		wantState(t, out, async.Rejected)
		if _, err := await(t, out); !errors.Is(err, async.ErrInvalidArgument) {
			t.Errorf("Any with %s = %v, want ErrInvalidArgument", name, err)
		}
	}
}

func TestRace(t *testing.T) {
	t.Run("fulfilled first", func(t *testing.T) {
		ps, fs := promises[int](3)
		out := async.Race(fs...)
		wantState(t, out, async.Pending)
		ps[1].Resolve(11)
		wantState(t, out, async.Fulfilled)
		ps[0].Reject(errBoom)
		if v, err := await(t, out); v != 11 || err != nil {
			t.Fatalf("Race = %v, %v; want 11, nil", v, err)
		}
	})
	t.Run("rejected first", func(t *testing.T) {
		ps, fs := promises[int](2)
		out := async.Race(fs...)
		ps[1].Reject(errBoom)
		wantState(t, out, async.Rejected)
		ps[0].Resolve(1)
		if _, err := await(t, out); err != errBoom {
			t.Fatalf("Race error = %v, want boom", err)
		}
	})
	t.Run("cancelled first", func(t *testing.T) {
		_, fs := promises[int](2)
		out := async.Race(fs...)
		fs[0].Cancel()
		if _, err := await(t, out); !errors.Is(err, async.ErrCancelled) {
			t.Fatalf("Race error = %v, want ErrCancelled", err)
		}
		wantState(t, fs[1], async.Pending)
	})
	t.Run("already settled", func(t *testing.T) {
		_, pending := async.NewPromise[int]()
		if v, err := await(t, async.Race(pending, async.FromValue(5))); v != 5 || err != nil {
			t.Fatalf("Race = %v, %v; want 5, nil", v, err)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		for _, out := range []*async.Future[int]{async.Race[int](), async.Race(async.FromValue(1), nil)} {
			if _, err := await(t, out); !errors.Is(err, async.ErrInvalidArgument) {
				t.Errorf("Race = %v, want ErrInvalidArgument", err)
			}
		}
	})
}

func TestAnyAndRaceCancelResultLeavesInputs(t *testing.T) {
	_, fs := promises[int](2)
	for _, out := range []*async.Future[int]{async.Any(fs...), async.Race(fs...)} {
		if !out.Cancel() {
			t.Fatal("Cancel of a pending combined future returned false")
		}
	}
	wantState(t, fs[0], async.Pending)
	wantState(t, fs[1], async.Pending)
}

// TestAsCompletedOrder settles the inputs one by one as the loop goes, so
// the completion order is known: 2, 0, 3, 1.
func TestAsCompletedOrder(t *testing.T) {
	ps, fs := promises[int](4)
	order := []int{2, 0, 3, 1}
	settle := func(k int) {
		i := order[k]
		if i == 3 {
			ps[i].Reject(errBoom)
		} else {
			ps[i].Resolve(i * 10)
		}
	}
	settle(0)
	var got []int
	for i, r := range async.AsCompleted(fs...) {
		got = append(got, i)
		if i == 3 {
			if r.Err != errBoom {
				t.Errorf("input 3: result %+v, want the rejection", r)
			}
		} else if r.Value != i*10 || r.Err != nil {
			t.Errorf("input %d: result %+v, want {%d <nil>}", i, r, i*10)
		}
		if len(got) < len(order) {
			settle(len(got))
		}
	}
	if !slices.Equal(got, order) {
		t.Fatalf("AsCompleted yielded %v, want completion order %v", got, order)
	}
}

// TestAsCompletedFromOtherGoroutines: inputs settled by other goroutines at
// different times come out in that order.
func TestAsCompletedFromOtherGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps, fs := promises[string](3)
		delays := []time.Duration{3 * time.Second, time.Second, 2 * time.Second}
		for i, d := range delays {
			go func() {
				time.Sleep(d)
				ps[i].Resolve(d.String())
			}()
		}
		start := time.Now()
		var got []int
		for i, r := range async.AsCompleted(fs...) {
			got = append(got, i)
			if r.Value != delays[i].String() || time.Since(start) != delays[i] {
				t.Errorf("input %d: %+v after %v", i, r, time.Since(start))
			}
		}
		if !slices.Equal(got, []int{1, 2, 0}) {
			t.Fatalf("AsCompleted yielded %v, want [1 2 0]", got)
		}
	})
}

// TestAsCompletedEarlyBreak: breaking out of the loop leaves no goroutine
// behind, and the inputs settling afterwards do not block their settlers.
func TestAsCompletedEarlyBreak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps, fs := promises[int](4)
		ps[2].Resolve(2)
		n := 0
		for i := range async.AsCompleted(fs...) {
			n++
			if i != 2 {
				t.Errorf("first yield is input %d, want 2", i)
			}
			break
		}
		if n != 1 {
			t.Fatalf("loop body ran %d times, want 1", n)
		}
		// A settler blocked on a forgotten iterator would deadlock the bubble.
		ps[0].Resolve(0)
		ps[1].Reject(errBoom)
		fs[3].Cancel()
	})
	goleak.VerifyNone(t)
}

func TestAsCompletedEmptyAndNil(t *testing.T) {
	for range async.AsCompleted[int]() {
		t.Fatal("AsCompleted() yielded something")
	}
	_, pending := async.NewPromise[int]()
	var got []int
	for i, r := range async.AsCompleted(pending, nil) {
		got = append(got, i)
		if !errors.Is(r.Err, async.ErrInvalidArgument) {
			t.Fatalf("input %d: %+v, want ErrInvalidArgument", i, r)
		}
		break // the other input never settles
	}
	if !slices.Equal(got, []int{1}) {
		t.Fatalf("AsCompleted yielded %v first, want the nil input 1", got)
	}
	pending.Cancel()
}

func TestAsCompletedIteratesAfresh(t *testing.T) {
	seq := async.AsCompleted(async.FromValue(1), async.FromValue(2))
	for round := range 2 {
		sum := 0
		for _, r := range seq {
			sum += r.Value
		}
		if sum != 3 {
			t.Fatalf("round %d: sum of values = %d, want 3", round, sum)
		}
	}
}

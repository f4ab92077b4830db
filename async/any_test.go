package async

import (
	"errors"
	"strings"
	"testing"
)

func TestAnyFirstFulfilment(t *testing.T) {
	ps, fs := promises[string](3)
	out := Any(fs...)
	ps[0].Reject(errBoom)
	wantState(t, out, Pending) // a failure is not the end while others may succeed
	ps[2].Resolve("two")
	wantState(t, out, Fulfilled)
	ps[1].Resolve("one")
	if v, err := await(t, out); v != "two" || err != nil {
		t.Fatalf("Any = %q, %v; want \"two\", nil", v, err)
	}
}

func TestAnyAllFail(t *testing.T) {
	ps, fs := promises[int](3)
	out := Any(fs...)
	e0, e2 := errors.New("e0"), &codeError{code: 2}
	ps[2].Reject(e2)
	fs[1].CancelWithCause(errBoom)
	wantState(t, out, Pending)
	ps[0].Reject(e0)
	wantState(t, out, Rejected)
	_, err := await(t, out)
	var agg *AggregateError
	if !errors.As(err, &agg) {
		t.Fatalf("Any error %v (%T) is not an *AggregateError", err, err)
	}
	if len(agg.Errors) != 3 || agg.Errors[0] != e0 || agg.Errors[2] != e2 || !errors.Is(agg.Errors[1], ErrCancelled) {
		t.Fatalf("AggregateError.Errors = %v, want the inputs' errors in input order", agg.Errors)
	}
	for _, target := range []error{e0, e2, errBoom, ErrCancelled} {
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
	for name, out := range map[string]*Future[int]{
		"empty":     Any[int](),
		"nil input": Any(FromValue(1), nil),
	} {
		wantState(t, out, Rejected)
		if _, err := await(t, out); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Any with %s = %v, want ErrInvalidArgument", name, err)
		}
	}
}

func TestRace(t *testing.T) {
	t.Run("fulfilled first", func(t *testing.T) {
		ps, fs := promises[int](3)
		out := Race(fs...)
		wantState(t, out, Pending)
		ps[1].Resolve(11)
		wantState(t, out, Fulfilled)
		ps[0].Reject(errBoom)
		if v, err := await(t, out); v != 11 || err != nil {
			t.Fatalf("Race = %v, %v; want 11, nil", v, err)
		}
	})
	t.Run("rejected first", func(t *testing.T) {
		ps, fs := promises[int](2)
		out := Race(fs...)
		ps[1].Reject(errBoom)
		wantState(t, out, Rejected)
		ps[0].Resolve(1)
		if _, err := await(t, out); err != errBoom {
			t.Fatalf("Race error = %v, want boom", err)
		}
	})
	t.Run("cancelled first", func(t *testing.T) {
		_, fs := promises[int](2)
		out := Race(fs...)
		fs[0].Cancel()
		if _, err := await(t, out); !errors.Is(err, ErrCancelled) {
			t.Fatalf("Race error = %v, want ErrCancelled", err)
		}
		wantState(t, fs[1], Pending)
	})
	t.Run("already settled", func(t *testing.T) {
		_, pending := NewPromise[int]()
		if v, err := await(t, Race(pending, FromValue(5))); v != 5 || err != nil {
			t.Fatalf("Race = %v, %v; want 5, nil", v, err)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		for _, out := range []*Future[int]{Race[int](), Race(FromValue(1), nil)} {
			if _, err := await(t, out); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("Race = %v, want ErrInvalidArgument", err)
			}
		}
	})
}

func TestAnyAndRaceCancelResultLeavesInputs(t *testing.T) {
	_, fs := promises[int](2)
	for _, out := range []*Future[int]{Any(fs...), Race(fs...)} {
		if !out.Cancel() {
			t.Fatal("Cancel of a pending combined future returned false")
		}
	}
	wantState(t, fs[0], Pending)
	wantState(t, fs[1], Pending)
}

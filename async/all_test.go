package async

import (
	"errors"
	"slices"
	"testing"
)

// promises returns n pending promises and their futures.
func promises[T any](n int) ([]*Promise[T], []*Future[T]) {
	ps := make([]*Promise[T], n)
	fs := make([]*Future[T], n)
	for i := range n {
		ps[i], fs[i] = NewPromise[T]()
	}
	return ps, fs
}

func TestAllInputOrder(t *testing.T) {
	ps, fs := promises[int](4)
	out := All(fs...)
	for i := len(ps) - 1; i >= 0; i-- { // settle in reverse order
		wantState(t, out, Pending)
		ps[i].Resolve(i * 10)
	}
	// The last input to settle resolves All on its own goroutine.
	wantState(t, out, Fulfilled)
	v, err := await(t, out)
	if err != nil || !slices.Equal(v, []int{0, 10, 20, 30}) {
		t.Fatalf("All = %v, %v; want [0 10 20 30], nil", v, err)
	}
}

func TestAllSettledInputs(t *testing.T) {
	v, err := await(t, All(FromValue("a"), FromValue("b")))
	if err != nil || !slices.Equal(v, []string{"a", "b"}) {
		t.Fatalf("All of settled futures = %v, %v", v, err)
	}
}

// TestAllRejectsAtOnce: the first rejection settles All immediately, while
// the other inputs are still pending, and later outcomes change nothing.
func TestAllRejectsAtOnce(t *testing.T) {
	ps, fs := promises[int](3)
	out := All(fs...)
	ps[0].Resolve(1)
	ps[2].Reject(errBoom)
	wantState(t, out, Rejected)
	if _, err := await(t, out); !errors.Is(err, errBoom) {
		t.Fatalf("All error = %v, want boom", err)
	}
	wantState(t, fs[1], Pending) // All does not touch its inputs
	ps[1].Reject(errors.New("second"))
	if _, err := await(t, out); err != errBoom {
		t.Fatalf("a later rejection replaced All's error: %v", err)
	}
}

func TestAllCancelledInput(t *testing.T) {
	ps, fs := promises[int](2)
	out := All(fs...)
	ps[0].Resolve(1)
	fs[1].CancelWithCause(errBoom)
	wantState(t, out, Rejected)
	if _, err := await(t, out); !errors.Is(err, ErrCancelled) || !errors.Is(err, errBoom) {
		t.Fatalf("All error = %v, want the cancellation error", err)
	}
}

func TestAllEmpty(t *testing.T) {
	out := All[int]()
	wantState(t, out, Fulfilled)
	v, err := await(t, out)
	if err != nil || v == nil || len(v) != 0 {
		t.Fatalf("All() = %#v, %v; want an empty, non-nil slice", v, err)
	}
}

func TestAllNilInput(t *testing.T) {
	out := All(FromValue(1), nil)
	wantState(t, out, Rejected)
	if _, err := await(t, out); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("All with a nil input = %v, want ErrInvalidArgument", err)
	}
}

func TestAllCancelResultLeavesInputs(t *testing.T) {
	ps, fs := promises[int](2)
	out := All(fs...)
	if !out.Cancel() {
		t.Fatal("Cancel of All's pending future returned false")
	}
	wantState(t, fs[0], Pending)
	wantState(t, fs[1], Pending)
	ps[0].Resolve(1)
	ps[1].Resolve(2)
	wantState(t, out, Cancelled)
}

func TestAllSettled(t *testing.T) {
	ps, fs := promises[int](3)
	out := AllSettled(fs...)
	ps[2].Resolve(2)
	ps[0].Reject(errBoom)
	wantState(t, out, Pending)
	fs[1].Cancel()
	wantState(t, out, Fulfilled)
	rs, err := await(t, out)
	if err != nil || len(rs) != 3 {
		t.Fatalf("AllSettled = %v, %v", rs, err)
	}
	if rs[0].Err != errBoom || rs[0].Value != 0 {
		t.Errorf("result 0 = %+v, want the rejection", rs[0])
	}
	if !errors.Is(rs[1].Err, ErrCancelled) {
		t.Errorf("result 1 = %+v, want the cancellation", rs[1])
	}
	if rs[2].Err != nil || rs[2].Value != 2 {
		t.Errorf("result 2 = %+v, want {2 <nil>}", rs[2])
	}
}

func TestAllSettledEmptyAndNil(t *testing.T) {
	rs, err := await(t, AllSettled[int]())
	if err != nil || len(rs) != 0 {
		t.Fatalf("AllSettled() = %v, %v; want empty, nil", rs, err)
	}
	out := AllSettled(FromValue(1), nil)
	wantState(t, out, Fulfilled) // never rejects
	rs, err = await(t, out)
	if err != nil || len(rs) != 2 {
		t.Fatalf("AllSettled with a nil input = %v, %v", rs, err)
	}
	if rs[0].Value != 1 || rs[0].Err != nil {
		t.Errorf("result 0 = %+v", rs[0])
	}
	if !errors.Is(rs[1].Err, ErrInvalidArgument) {
		t.Errorf("result of the nil input = %+v, want ErrInvalidArgument", rs[1])
	}
}

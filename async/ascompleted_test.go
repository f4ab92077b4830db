package async

import (
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

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
	for i, r := range AsCompleted(fs...) {
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
		for i, r := range AsCompleted(fs...) {
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
		for i := range AsCompleted(fs...) {
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
	for range AsCompleted[int]() {
		t.Fatal("AsCompleted() yielded something")
	}
	_, pending := NewPromise[int]()
	var got []int
	for i, r := range AsCompleted(pending, nil) {
		got = append(got, i)
		if !errors.Is(r.Err, ErrInvalidArgument) {
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
	seq := AsCompleted(FromValue(1), FromValue(2))
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

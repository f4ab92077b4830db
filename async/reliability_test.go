package async_test

// User code that a settle runs inline — wakers, Then functions, cancel
// handlers — must not leave the library's state half done.

import (
	"errors"
	"runtime"
	"testing"

	"github.com/velalang/runtime/async"
)

// Nil inputs of AsCompleted come first, before an input that had already
// settled and comes before them in the input list.
func TestAsCompletedNilBeforeSettled(t *testing.T) {
	fs := []*async.Future[int]{async.FromValue(1), nil, async.FromValue(2), nil}
	var got []int
	for i, r := range async.AsCompleted(fs...) {
		got = append(got, i)
		if fs[i] == nil && !errors.Is(r.Err, async.ErrInvalidArgument) {
			t.Errorf("input %d: err %v, want ErrInvalidArgument", i, r.Err)
		}
	}
	if len(got) != 4 || got[0] != 1 || got[1] != 3 {
		t.Errorf("yield order %v, want the nil inputs 1 and 3 first", got)
	}
}

// A cancellation error passed on as the cause of another cancel is the
// second future's error as it is, not wrapped again.
func TestCancelWithCausePassesCancellationOn(t *testing.T) {
	cause := errors.New("why")
	_, a := async.NewPromise[int]()
	a.CancelWithCause(cause)
	ra, _ := a.Result()
	_, b := async.NewPromise[int]()
	b.CancelWithCause(ra.Err)
	rb, _ := b.Result()
	if rb.Err != ra.Err {
		t.Errorf("b's error %q, want a's error %q as it is", rb.Err, ra.Err)
	}
	if !errors.Is(rb.Err, async.ErrCancelled) || !errors.Is(rb.Err, cause) {
		t.Errorf("b's error %v does not match ErrCancelled and the cause", rb.Err)
	}
}

// A waker that calls runtime.Goexit ends the settling goroutine, but every
// other waiter of the future is released and every other waker called.
func TestSettleWakerGoexitReleasesTheRest(t *testing.T) {
	p, f := async.NewPromise[int]()
	done := f.Done()
	woken := 0
	f.Poll(async.WakerFunc(func() { woken++ }))
	f.Poll(async.WakerFunc(runtime.Goexit))
	f.Poll(async.WakerFunc(func() { woken++ }))
	then := async.Then(f, func(v int) (int, error) { return v + 1, nil })
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		p.Resolve(1)
	}()
	<-exited
	<-done
	if woken != 2 {
		t.Errorf("%d of the 2 other wakers ran", woken)
	}
	if v, err := await(t, then); v != 2 || err != nil {
		t.Errorf("Then after a Goexit waker = %v, %v; want 2, nil", v, err)
	}
}

package channel_test

// OnEach: a loop consuming a channel, in order, batch by batch; stopped by
// Cancel, by a panicking or Goexit-ing fn and by a closed loop without
// losing a value.

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/channel"
)

func drainAll(t *testing.T, rx *channel.Receiver[int]) []int {
	t.Helper()
	var got []int
	for {
		v, err := rx.TryRecv()
		if err != nil {
			return got
		}
		got = append(got, v)
	}
}

func TestOnEachInOrderUntilClose(t *testing.T) {
	for _, capacity := range []int{0, 1, 64, channel.Unbounded} {
		l := async.NewLoop()
		tx, rx := channel.New[int](capacity)
		var got []int
		f := channel.OnEach(l, rx, func(v int) { got = append(got, v) })
		go func() {
			for i := range 10000 {
				tx.Send(context.Background(), i)
			}
			tx.Close()
		}()
		if err := l.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if f.State() != async.Fulfilled {
			t.Fatalf("capacity %d: OnEach future %v after close, want fulfilled", capacity, f.State())
		}
		if len(got) != 10000 || !slices.IsSorted(got) || got[9999] != 9999 {
			t.Fatalf("capacity %d: got %d values, sorted %v", capacity, len(got), slices.IsSorted(got))
		}
	}
}

func TestOnEachFailure(t *testing.T) {
	boom := errors.New("boom")
	l := async.NewLoop()
	tx, rx := channel.New[int](4)
	tx.Send(t.Context(), 1)
	tx.CloseWithError(boom)
	var got []int
	f := channel.OnEach(l, rx, func(v int) { got = append(got, v) })
	l.Run(t.Context())
	if _, err := f.Await(t.Context()); err != boom || !slices.Equal(got, []int{1}) {
		t.Fatalf("OnEach = %v, got %v; want boom after [1]", err, got)
	}
}

// TestOnEachCancelFromFn: cancelling from inside fn leaves the values not
// handed yet in the channel, in order.
func TestOnEachCancelFromFn(t *testing.T) {
	l := async.NewLoop()
	tx, rx := channel.New[int](channel.Unbounded)
	for i := range 10 {
		tx.Send(t.Context(), i)
	}
	var got []int
	var f *async.Future[struct{}]
	f = channel.OnEach(l, rx, func(v int) {
		got = append(got, v)
		if v == 3 && !f.Cancel() {
			t.Error("Cancel returned false")
		}
	})
	if err := l.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Fatalf("fn got %v, want [0 1 2 3]", got)
	}
	if rest := drainAll(t, rx); !slices.Equal(rest, []int{4, 5, 6, 7, 8, 9}) {
		t.Fatalf("left in the channel: %v, want [4..9]", rest)
	}
}

// TestOnEachCancelWhileWaiting: a cancelled consumer takes nothing more.
func TestOnEachCancelWhileWaiting(t *testing.T) {
	l := async.NewLoop()
	tx, rx := channel.New[int](0)
	f := channel.OnEach(l, rx, func(int) { t.Error("fn ran") })
	l.AfterFunc(0, func() {
		if !f.Cancel() {
			t.Error("Cancel returned false")
		}
	})
	if err := l.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := tx.TrySend(1); err != channel.ErrFull {
		t.Fatalf("TrySend after the consumer was cancelled = %v, want ErrFull", err)
	}
}

// TestOnEachRendezvousIsAWaitingReceiver: a TrySend hands the value to a
// waiting OnEach.
func TestOnEachRendezvousIsAWaitingReceiver(t *testing.T) {
	l := async.NewLoop()
	tx, rx := channel.New[int](0)
	var got []int
	channel.OnEach(l, rx, func(v int) { got = append(got, v); tx.Close() })
	l.AfterFunc(0, func() {
		if err := tx.TrySend(5); err != nil {
			t.Errorf("TrySend to a waiting OnEach = %v", err)
		}
	})
	l.Run(t.Context())
	if !slices.Equal(got, []int{5}) {
		t.Fatalf("got %v", got)
	}
}

// TestOnEachPanic: a panic in fn unwinds Run, rejects the future with a
// *PanicError and puts the values not handed back, in order.
func TestOnEachPanic(t *testing.T) {
	l := async.NewLoop()
	tx, rx := channel.New[int](channel.Unbounded)
	for i := range 5 {
		tx.Send(t.Context(), i)
	}
	f := channel.OnEach(l, rx, func(v int) {
		if v == 2 {
			panic("two")
		}
	})
	func() {
		defer func() {
			if p := recover(); p != "two" {
				t.Errorf("Run panicked with %v, want two", p)
			}
		}()
		l.Run(t.Context())
	}()
	var pe *async.PanicError
	if _, err := f.Await(t.Context()); !errors.As(err, &pe) || pe.Value != "two" {
		t.Fatalf("OnEach = %v, want a PanicError", err)
	}
	if rest := drainAll(t, rx); !slices.Equal(rest, []int{3, 4}) {
		t.Fatalf("left in the channel: %v, want [3 4]", rest)
	}
	if err := l.Run(t.Context()); err != nil {
		t.Fatalf("Run again = %v", err)
	}
}

func TestOnEachGoexit(t *testing.T) {
	l := async.NewLoop()
	tx, rx := channel.New[int](channel.Unbounded)
	for i := range 5 {
		tx.Send(t.Context(), i)
	}
	f := channel.OnEach(l, rx, func(v int) {
		if v == 1 {
			runtime.Goexit()
		}
	})
	var wg sync.WaitGroup
	wg.Go(func() { l.Run(context.Background()) })
	wg.Wait()
	if _, err := f.Await(t.Context()); !errors.Is(err, async.ErrGoexit) {
		t.Fatalf("OnEach = %v, want ErrGoexit", err)
	}
	if rest := drainAll(t, rx); !slices.Equal(rest, []int{2, 3, 4}) {
		t.Fatalf("left in the channel: %v, want [2 3 4]", rest)
	}
}

// TestOnEachLoopClosed: a consumer on a closed loop is rejected with
// ErrLoopClosed and takes nothing; one whose loop closes while it waits
// puts the value it was handed back.
func TestOnEachLoopClosed(t *testing.T) {
	l := async.NewLoop()
	l.Close()
	tx, rx := channel.New[int](0)
	if _, err := channel.OnEach(l, rx, func(int) {}).Await(t.Context()); !errors.Is(err, async.ErrLoopClosed) {
		t.Fatalf("OnEach on a closed loop = %v", err)
	}

	l2 := async.NewLoop()
	f := channel.OnEach(l2, rx, func(int) { t.Error("fn ran") })
	l2.AfterFunc(0, l2.Close)
	l2.Run(t.Context()) // the consumer registers as a waiting receiver, then the loop closes
	if err := tx.TrySend(1); err != nil {
		t.Fatalf("TrySend to the waiting consumer = %v", err)
	}
	if _, err := f.Await(t.Context()); !errors.Is(err, async.ErrLoopClosed) {
		t.Fatalf("OnEach whose loop closed = %v", err)
	}
	if v, err := rx.TryRecv(); v != 1 || err != nil {
		t.Fatalf("the value handed to the dead consumer: %v, %v; want it back", v, err)
	}
}

func TestOnEachBadInput(t *testing.T) {
	l := async.NewLoop()
	_, rx := channel.New[int](1)
	for name, f := range map[string]*async.Future[struct{}]{
		"loop":     channel.OnEach(nil, rx, func(int) {}),
		"receiver": channel.OnEach(l, nil, func(int) {}),
		"fn":       channel.OnEach(l, rx, nil),
	} {
		if _, err := f.Await(t.Context()); !errors.Is(err, channel.ErrInvalidArgument) {
			t.Errorf("nil %s: %v, want ErrInvalidArgument", name, err)
		}
	}
}

// TestOnEachHeldValuesDelayClose: while an OnEach holds values it took
// but has not handed to fn, the closed channel is not drained: another
// receiver waits, and gets those values when the consumer is cancelled,
// then ErrClosed.
func TestOnEachHeldValuesDelayClose(t *testing.T) {
	synctest.Test(t, testOnEachHeldValuesDelayClose)
}

func testOnEachHeldValuesDelayClose(t *testing.T) {
	l := async.NewLoop()
	tx, rx := channel.New[int](channel.Unbounded)
	other := rx.Clone()
	for i := range 4 {
		tx.Send(t.Context(), i)
	}
	tx.Close()
	got := make(chan []int, 1)
	var f *async.Future[struct{}]
	f = channel.OnEach(l, rx, func(v int) {
		if v == 0 {
			// The consumer holds 1, 2 and 3 now.
			if _, err := other.TryRecv(); err != channel.ErrEmpty {
				t.Errorf("TryRecv while values are held = %v, want ErrEmpty", err)
			}
			go func() {
				var vs []int
				for v, err := range other.All(context.Background()) {
					if err != nil {
						t.Error(err)
					}
					vs = append(vs, v)
				}
				got <- vs
			}()
			synctest.Wait() // the other receiver waits: the channel is not drained
			f.Cancel()
		}
	})
	l.Run(t.Context())
	if vs := <-got; !slices.Equal(vs, []int{1, 2, 3}) {
		t.Fatalf("the other receiver got %v, want [1 2 3]", vs)
	}
}

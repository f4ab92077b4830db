package channel_test

// Continuations of the channel's futures run without the channel's lock:
// they may re-enter the channel, panic or call runtime.Goexit, and the
// channel stays consistent.

import (
	"runtime"
	"sync"
	"testing"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/channel"
)

// TestContinuationReentersChannel: a RecvAsync continuation, run on the
// sending goroutine, sends and receives on the same channel.
func TestContinuationReentersChannel(t *testing.T) {
	tx, rx := channel.New[int](0)
	var got []int
	f := async.Then(rx.RecvAsync(), func(v int) (int, error) {
		got = append(got, v)
		if err := tx.TrySend(v + 1); err != channel.ErrFull { // nobody waits: the channel is usable here
			t.Errorf("TrySend from the continuation = %v, want ErrFull", err)
		}
		return v, nil
	})
	if err := tx.TrySend(1); err != nil {
		t.Fatal(err)
	}
	if v, err := f.Await(t.Context()); v != 1 || err != nil {
		t.Fatalf("continuation = %v, %v", v, err)
	}
	tx.Close()
	if _, err := rx.TryRecv(); err != channel.ErrClosed {
		t.Fatalf("after close: %v", err)
	}
}

// TestContinuationPanicsOnClose: when a close wakes several futures and
// the continuation of one panics, the others are still settled and the
// panic reaches the closing goroutine; the channel is consistent after.
func TestContinuationPanicsOnClose(t *testing.T) {
	tx, rx := channel.New[int](0)
	fs := make([]*async.Future[int], 4)
	for i := range fs {
		fs[i] = rx.RecvAsync()
	}
	fs[1].Poll(async.WakerFunc(func() { panic("waker") }))
	func() {
		defer func() {
			if p := recover(); p != "waker" {
				t.Errorf("recovered %v, want the waker's panic", p)
			}
		}()
		tx.Close()
	}()
	for i, f := range fs {
		if _, err := f.Await(t.Context()); err != channel.ErrClosed {
			t.Errorf("future %d after close = %v, want ErrClosed", i, err)
		}
	}
	if err := tx.Send(t.Context(), 1); err != channel.ErrClosed {
		t.Fatalf("Send after close = %v", err)
	}
}

// TestContinuationGoexits: a continuation that calls runtime.Goexit on the
// sending goroutine ends that goroutine; the value was delivered, and the
// channel keeps working.
func TestContinuationGoexits(t *testing.T) {
	tx, rx := channel.New[int](0)
	f := rx.RecvAsync()
	f.Poll(async.WakerFunc(runtime.Goexit))
	var wg sync.WaitGroup
	wg.Go(func() { tx.TrySend(7) })
	wg.Wait()
	if v, err := f.Await(t.Context()); v != 7 || err != nil {
		t.Fatalf("RecvAsync = %v, %v", v, err)
	}
	g := rx.RecvAsync()
	if err := tx.TrySend(8); err != nil {
		t.Fatal(err)
	}
	if v, _ := g.Await(t.Context()); v != 8 {
		t.Fatalf("next RecvAsync = %d", v)
	}
}

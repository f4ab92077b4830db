package channel_test

import (
	"context"
	"errors"
	"iter"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/channel"
)

func TestFromSeq(t *testing.T) {
	rx := channel.FromSeq(t.Context(), slices.Values([]int{1, 2, 3}), 1)
	var got []int
	for v, err := range rx.All(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("got %v", got)
	}
}

func count(pulled *atomic.Int64) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 0; ; i++ {
			pulled.Add(1)
			if !yield(i) {
				return
			}
		}
	}
}

// TestFromSeqStopsWhenReceiversLeave: closing every receiver ends the
// goroutine (goleak checks) and stops pulling.
func TestFromSeqStopsWhenReceiversLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pulled atomic.Int64
		rx := channel.FromSeq(t.Context(), count(&pulled), 2)
		rx.Recv(t.Context())
		synctest.Wait()
		rx.Close()
		synctest.Wait()
		if n := pulled.Load(); n > 4 {
			t.Fatalf("pulled %d values for a consumer that took 1 from a channel of 2", n)
		}
	})
}

func TestFromSeqContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		why := errors.New("why")
		ctx, cancel := context.WithCancelCause(t.Context())
		var pulled atomic.Int64
		rx := channel.FromSeq(ctx, count(&pulled), 1)
		synctest.Wait()
		cancel(why)
		var err error
		for _, err = range rx.All(t.Context()) {
		}
		if !errors.Is(err, async.ErrCancelled) || !errors.Is(err, why) {
			t.Fatalf("end of a FromSeq whose ctx ended: %v", err)
		}
	})
}

func TestFromSeqPanicAndGoexit(t *testing.T) {
	rx := channel.FromSeq(t.Context(), func(yield func(int) bool) {
		yield(1)
		panic("seq broke")
	}, 4)
	var pe *async.PanicError
	if v, _ := rx.Recv(t.Context()); v != 1 {
		t.Fatalf("first value %d", v)
	}
	if _, err := rx.Recv(t.Context()); !errors.As(err, &pe) || pe.Value != "seq broke" {
		t.Fatalf("after the panic: %v", err)
	}
	rx = channel.FromSeq(t.Context(), func(yield func(int) bool) { runtime.Goexit() }, 4)
	if _, err := rx.Recv(t.Context()); !errors.Is(err, async.ErrGoexit) {
		t.Fatalf("after Goexit: %v", err)
	}
}

func TestFromSeqBadInput(t *testing.T) {
	//lint:ignore SA1012 a nil context is the bad input under test
	if _, err := channel.FromSeq(nil, slices.Values([]int{1}), 1).Recv(t.Context()); !errors.Is(err, channel.ErrInvalidArgument) {
		t.Fatalf("nil ctx: %v", err)
	}
	if _, err := channel.FromSeq[int](t.Context(), nil, 1).Recv(t.Context()); !errors.Is(err, channel.ErrInvalidArgument) {
		t.Fatalf("nil seq: %v", err)
	}
}

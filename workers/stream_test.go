package workers_test

// Stream: a worker sending into a channel, after Vela's TASK-051 list (a
// worker sending, a worker receiving, a three-stage pipeline, a worker
// failing mid-stream), plus how a Stream ends.

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/channel"
	"github.com/velalang/runtime/workers"
)

func collectAll[T any](t *testing.T, rx *channel.Receiver[T]) ([]T, error) {
	t.Helper()
	var got []T
	for v, err := range rx.All(context.Background()) {
		if err != nil {
			return got, err
		}
		got = append(got, v)
	}
	return got, nil
}

func count(n int) func(context.Context, *channel.Sender[int]) error {
	return func(ctx context.Context, out *channel.Sender[int]) error {
		for i := range n {
			if err := out.Send(ctx, i); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestStreamWorkerSends(t *testing.T) {
	p := scopedPool(t, 2)
	for _, buffer := range []int{0, 1, 64} {
		rx := workers.Stream(t.Context(), count(100), workers.OnPool(p), workers.WithBuffer(buffer))
		if rx.Cap() != buffer {
			t.Fatalf("Cap %d, want %d", rx.Cap(), buffer)
		}
		got, err := collectAll(t, rx)
		if err != nil || len(got) != 100 || !slices.IsSorted(got) {
			t.Fatalf("buffer %d: %d values, %v", buffer, len(got), err)
		}
	}
	if rx := workers.Stream(t.Context(), count(1), workers.OnPool(p)); rx.Cap() != workers.DefaultBuffer {
		t.Fatalf("default Cap %d, want %d", rx.Cap(), workers.DefaultBuffer)
	}
}

// TestStreamWorkerReceives: a worker consuming a channel fed from outside,
// its result the sum.
func TestStreamWorkerReceives(t *testing.T) {
	p := scopedPool(t, 2)
	tx, rx := channel.New[int](4)
	sum := workers.Spawn(t.Context(), func(ctx context.Context) (int, error) {
		s := 0
		for v, err := range rx.All(ctx) {
			if err != nil {
				return 0, err
			}
			s += v
		}
		return s, nil
	}, workers.OnPool(p))
	for i := 1; i <= 10; i++ {
		tx.Send(t.Context(), i)
	}
	tx.Close()
	if v, err := sum.Await(t.Context()); v != 55 || err != nil {
		t.Fatalf("sum = %d, %v", v, err)
	}
}

// TestStreamThreeStages: producer Stream → Map → a consuming worker.
func TestStreamThreeStages(t *testing.T) {
	p := scopedPool(t, 4)
	nums := workers.Stream(t.Context(), count(1000), workers.OnPool(p))
	squares := workers.Map(t.Context(), nums, func(_ context.Context, v int) (int, error) { return v * v, nil }, workers.OnPool(p))
	total := workers.Spawn(t.Context(), func(ctx context.Context) (int, error) {
		s, last := 0, -1
		for v, err := range squares.All(ctx) {
			if err != nil {
				return 0, err
			}
			if v <= last {
				return 0, errors.New("out of order")
			}
			last = v
			s += v
		}
		return s, nil
	}, workers.OnPool(p))
	want := 0
	for i := range 1000 {
		want += i * i
	}
	if v, err := total.Await(t.Context()); v != want || err != nil {
		t.Fatalf("total = %d, %v; want %d", v, err, want)
	}
}

// TestStreamFailsMidStream: the values sent before a failure arrive, then
// the failure itself: an error, a panic, a Goexit, a timeout.
func TestStreamFailsMidStream(t *testing.T) {
	boom := errors.New("boom")
	p := scopedPool(t, 2)
	fail := func(how func()) func(context.Context, *channel.Sender[int]) error {
		return func(ctx context.Context, out *channel.Sender[int]) error {
			out.Send(ctx, 1)
			out.Send(ctx, 2)
			how()
			return boom
		}
	}
	var pe *workers.PanicError
	for name, c := range map[string]struct {
		fn   func()
		want func(error) bool
	}{
		"error":  {func() {}, func(err error) bool { return err == boom }},
		"panic":  {func() { panic("mid-stream") }, func(err error) bool { return errors.As(err, &pe) && pe.Value == "mid-stream" }},
		"goexit": {func() { runtime.Goexit() }, func(err error) bool { return errors.Is(err, async.ErrGoexit) }},
	} {
		got, err := collectAll(t, workers.Stream(t.Context(), fail(c.fn), workers.OnPool(p)))
		if !slices.Equal(got, []int{1, 2}) || !c.want(err) {
			t.Errorf("%s: got %v then %v", name, got, err)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 1)
		rx := workers.Stream(t.Context(), func(ctx context.Context, out *channel.Sender[int]) error {
			out.Send(ctx, 1)
			<-ctx.Done()
			return ctx.Err()
		}, workers.OnPool(p), workers.WithTimeout(time.Second))
		got, err := collectAll(t, rx)
		if !slices.Equal(got, []int{1}) || !errors.Is(err, workers.ErrTimeout) {
			t.Fatalf("timed out stream: %v then %v", got, err)
		}
	})
}

// TestStreamReceiversClose: when every receiver closes, the producer's
// Send returns ErrClosed and its ctx ends with that cause; a Stream still
// queued never runs.
func TestStreamReceiversClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 1)
		seen := make(chan error, 2)
		rx := workers.Stream(t.Context(), func(ctx context.Context, out *channel.Sender[int]) error {
			for i := 0; ; i++ {
				if err := out.Send(ctx, i); err != nil {
					seen <- err
					<-ctx.Done()
					seen <- context.Cause(ctx)
					return err
				}
			}
		}, workers.OnPool(p), workers.WithBuffer(2))
		ran := false
		queued := workers.Stream(t.Context(), func(context.Context, *channel.Sender[int]) error {
			ran = true
			return nil
		}, workers.OnPool(p))
		rx.Recv(t.Context())
		synctest.Wait()
		rx.Close()
		queued.Close()
		if err := <-seen; err != channel.ErrClosed {
			t.Fatalf("Send after the receivers closed = %v, want ErrClosed", err)
		}
		if cause := <-seen; !errors.Is(cause, channel.ErrClosed) {
			t.Fatalf("producer's ctx cause %v, want ErrClosed", cause)
		}
		synctest.Wait()
		if ran {
			t.Fatal("a Stream whose receivers closed while it was queued ran")
		}
	})
}

// TestStreamClosesEvenIfFnCloned: fn's clone of out is closed with it.
func TestStreamClosesEvenIfFnCloned(t *testing.T) {
	p := scopedPool(t, 1)
	clone := make(chan *channel.Sender[int], 1)
	rx := workers.Stream(t.Context(), func(ctx context.Context, out *channel.Sender[int]) error {
		c := out.Clone()
		c.Send(ctx, 1)
		clone <- c
		return nil
	}, workers.OnPool(p))
	if got, err := collectAll(t, rx); !slices.Equal(got, []int{1}) || err != nil {
		t.Fatalf("got %v, %v", got, err)
	}
	if err := (<-clone).Send(t.Context(), 2); err != channel.ErrClosed {
		t.Fatalf("Send on a clone after fn returned = %v, want ErrClosed", err)
	}
}

func TestStreamParentEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 1)
		why := errors.New("why")
		ctx, cancel := context.WithCancelCause(t.Context())
		rx := workers.Stream(ctx, func(ctx context.Context, out *channel.Sender[int]) error {
			out.Send(ctx, 1)
			<-ctx.Done()
			return nil
		}, workers.OnPool(p))
		synctest.Wait()
		cancel(why)
		got, err := collectAll(t, rx)
		if !slices.Equal(got, []int{1}) || !errors.Is(err, async.ErrCancelled) || !errors.Is(err, why) {
			t.Fatalf("got %v then %v; want [1] then a cancellation with the cause", got, err)
		}
	})
}

func TestStreamRefused(t *testing.T) {
	closed := newPool(t, workers.Config{MaxWorkers: 1})
	closed.Close()
	for name, c := range map[string]struct {
		rx   *channel.Receiver[int]
		want error
	}{
		"nil fn":          {workers.Stream[int](t.Context(), nil), workers.ErrInvalidArgument},
		"nil ctx":         {workers.Stream(nil, count(1)), workers.ErrInvalidArgument}, //lint:ignore SA1012 the bad input under test
		"negative buffer": {workers.Stream(t.Context(), count(1), workers.WithBuffer(-1)), workers.ErrInvalidArgument},
		"retry":           {workers.Stream(t.Context(), count(1), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3})), workers.ErrInvalidArgument},
		"closed pool":     {workers.Stream(t.Context(), count(1), workers.OnPool(closed)), workers.ErrPoolClosed},
	} {
		if _, err := c.rx.Recv(t.Context()); !errors.Is(err, c.want) {
			t.Errorf("%s: first Recv = %v, want %v", name, err, c.want)
		}
	}
}

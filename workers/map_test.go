package workers_test

// Map: results in input order, at most MaxWorkers calls at a time, the
// first failure in time with its input index, and every way it stops.

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/channel"
	"github.com/velalang/runtime/workers"
)

func ints(t *testing.T, n int) *channel.Receiver[int] {
	return channel.FromSeq(t.Context(), func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}, 8)
}

// TestMapOrderAndBound: results come in input order although calls finish
// out of order, and no more than MaxWorkers calls run at once.
func TestMapOrderAndBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 3)
		var running, most atomic.Int64
		out := workers.Map(t.Context(), ints(t, 30), func(ctx context.Context, v int) (string, error) {
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(time.Duration(30-v) * time.Millisecond) // later inputs finish sooner
			running.Add(-1)
			return string(rune('a' + v%26)), nil
		}, workers.OnPool(p))
		got, err := collectAll(t, out)
		if err != nil || len(got) != 30 {
			t.Fatalf("%d results, %v", len(got), err)
		}
		for i, s := range got {
			if s != string(rune('a'+i%26)) {
				t.Fatalf("result %d is %q: out of order", i, s)
			}
		}
		if m := most.Load(); m > 3 {
			t.Fatalf("%d calls at once, want at most MaxWorkers 3", m)
		}
	})
}

// TestMapFirstFailure: the failure first in time ends the output with its
// index, after an in-order prefix of the results before it; running calls'
// contexts end, and in is closed so the upstream producer gets ErrClosed.
func TestMapFirstFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 4)
		boom := errors.New("boom")
		upstream := make(chan error, 1)
		in := workers.Stream(t.Context(), func(ctx context.Context, out *channel.Sender[int]) error {
			for i := 0; ; i++ {
				if err := out.Send(ctx, i); err != nil {
					upstream <- err
					return err
				}
			}
		}, workers.OnPool(p), workers.WithBuffer(2))
		var ended atomic.Int64
		out := workers.Map(t.Context(), in, func(ctx context.Context, v int) (int, error) {
			switch v {
			case 5: // fails first in time
				time.Sleep(time.Millisecond)
				return 0, boom
			case 2: // fails later; its index is smaller
				time.Sleep(time.Second)
				return 0, errors.New("later")
			case 0, 1:
				return v, nil
			}
			<-ctx.Done()
			ended.Add(1)
			return 0, ctx.Err()
		}, workers.OnPool(scopedPool(t, 8)))
		got, err := collectAll(t, out)
		var te *workers.TaskError
		if !errors.As(err, &te) || te.Index != 5 || !errors.Is(err, boom) {
			t.Fatalf("output ended with %v, want a *TaskError for index 5 wrapping boom", err)
		}
		if want := "workers: Map value 5: boom"; err.Error() != want {
			t.Fatalf("error text %q, want %q (Map's failure names Map and the value's position)", err.Error(), want)
		}
		if !slices.Equal(got, []int{0, 1}[:len(got)]) {
			t.Fatalf("results before the failure: %v, want a prefix of [0 1]", got)
		}
		if err := <-upstream; err != channel.ErrClosed {
			t.Fatalf("upstream Send after the failure = %v, want ErrClosed", err)
		}
		synctest.Wait()
		if ended.Load() == 0 {
			t.Fatal("no running call saw its context end")
		}
	})
}

// TestMapInputError: an input that fails ends the output with that error
// itself, after every result before it.
func TestMapInputError(t *testing.T) {
	p := scopedPool(t, 2)
	boom := errors.New("input broke")
	tx, in := channel.New[int](8)
	for i := range 5 {
		tx.Send(t.Context(), i)
	}
	tx.CloseWithError(boom)
	got, err := collectAll(t, workers.Map(t.Context(), in, func(_ context.Context, v int) (int, error) { return -v, nil }, workers.OnPool(p)))
	if err != boom || !slices.Equal(got, []int{0, -1, -2, -3, -4}) {
		t.Fatalf("got %v then %v; want every result, then boom itself", got, err)
	}
}

// TestMapParentEnds: the output ends with a cancellation carrying the
// cause; the calls' contexts end; the input is closed.
func TestMapParentEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 2)
		why := errors.New("why")
		ctx, cancel := context.WithCancelCause(t.Context())
		tx, in := channel.New[int](channel.Unbounded)
		tx.Send(t.Context(), 1)
		out := workers.Map(ctx, in, func(ctx context.Context, v int) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		}, workers.OnPool(p))
		synctest.Wait()
		cancel(why)
		if _, err := out.Recv(t.Context()); !errors.Is(err, async.ErrCancelled) || !errors.Is(err, why) {
			t.Fatalf("output = %v, want a cancellation with the cause", err)
		}
		synctest.Wait()
		if err := tx.Send(t.Context(), 2); err != channel.ErrClosed {
			t.Fatalf("Send to Map's input after it stopped = %v, want ErrClosed", err)
		}
	})
}

// TestMapReceiversClose: closing the output stops Map: running calls'
// contexts end, the input is closed.
func TestMapReceiversClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 2)
		tx, in := channel.New[int](channel.Unbounded)
		for i := range 10 {
			tx.Send(t.Context(), i)
		}
		var stopped atomic.Int64
		out := workers.Map(t.Context(), in, func(ctx context.Context, v int) (int, error) {
			if v == 0 {
				return 0, nil
			}
			<-ctx.Done()
			if errors.Is(context.Cause(ctx), channel.ErrClosed) {
				stopped.Add(1)
			}
			return 0, ctx.Err()
		}, workers.OnPool(p), workers.WithBuffer(0))
		if v, err := out.Recv(t.Context()); v != 0 || err != nil {
			t.Fatalf("first result %v, %v", v, err)
		}
		synctest.Wait() // the calls of values 1 and 2 have started and wait on their ctx
		out.Close()
		synctest.Wait()
		if stopped.Load() == 0 {
			t.Fatal("no running call's context ended with ErrClosed")
		}
		if err := tx.Send(t.Context(), 10); err != channel.ErrClosed {
			t.Fatalf("Send to Map's input = %v, want ErrClosed", err)
		}
	})
}

// TestMapTimeoutPerCall: WithRunTimeout bounds each call; the one that
// overruns is the failure.
func TestMapTimeoutPerCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 2)
		out := workers.Map(t.Context(), ints(t, 4), func(ctx context.Context, v int) (int, error) {
			if v == 2 {
				<-ctx.Done()
				return 0, ctx.Err()
			}
			return v, nil
		}, workers.OnPool(p), workers.WithRunTimeout(time.Second))
		got, err := collectAll(t, out)
		var te *workers.TaskError
		if !errors.As(err, &te) || te.Index != 2 || !errors.Is(err, workers.ErrTimeout) {
			t.Fatalf("got %v then %v, want a timeout of index 2", got, err)
		}
	})
}

func TestMapBadInput(t *testing.T) {
	_, in := channel.New[int](1)
	id := func(_ context.Context, v int) (int, error) { return v, nil }
	for name, out := range map[string]*channel.Receiver[int]{
		"nil fn":          workers.Map[int, int](t.Context(), in, nil),
		"nil in":          workers.Map(t.Context(), nil, id),
		"nil ctx":         workers.Map(nil, in, id), //lint:ignore SA1012 the bad input under test
		"negative buffer": workers.Map(t.Context(), in, id, workers.WithBuffer(-3)),
	} {
		if _, err := out.Recv(t.Context()); !errors.Is(err, workers.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	tx, in2 := channel.New[int](1)
	workers.Map[int, int](t.Context(), in2, nil)
	if err := tx.Send(t.Context(), 1); err != channel.ErrClosed {
		t.Fatalf("a refused Map left its input open: %v", err)
	}
}

// TestMapTakesBoundedAhead: with nobody reading the output, Map takes at
// most twice MaxWorkers values from its input.
func TestMapTakesBoundedAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 2)
		tx, in := channel.New[int](channel.Unbounded)
		for i := range 100 {
			tx.Send(t.Context(), i)
		}
		tx.Close()
		out := workers.Map(t.Context(), in, func(_ context.Context, v int) (int, error) { return v, nil },
			workers.OnPool(p), workers.WithBuffer(0))
		synctest.Wait()
		if n := tx.Len(); n < 96 {
			t.Fatalf("Map took %d values ahead of a consumer that read nothing, want at most 2*MaxWorkers (4)", 100-n)
		}
		got, err := collectAll(t, out)
		if err != nil || len(got) != 100 {
			t.Fatalf("%d results, %v", len(got), err)
		}
	})
}

// TestMapPanicAndGoexit: a call that panics or calls runtime.Goexit is the
// failure, with its index; the runner's worker is replaced.
func TestMapPanicAndGoexit(t *testing.T) {
	p := scopedPool(t, 2)
	var pe *workers.PanicError
	for name, c := range map[string]struct {
		fn   func()
		want func(error) bool
	}{
		"panic":  {func() { panic("three") }, func(err error) bool { return errors.As(err, &pe) && pe.Value == "three" }},
		"goexit": {runtime.Goexit, func(err error) bool { return errors.Is(err, async.ErrGoexit) }},
	} {
		out := workers.Map(t.Context(), ints(t, 10), func(_ context.Context, v int) (int, error) {
			if v == 3 {
				c.fn()
			}
			return v, nil
		}, workers.OnPool(p))
		got, err := collectAll(t, out)
		var te *workers.TaskError
		if !errors.As(err, &te) || te.Index != 3 || !c.want(err) || !slices.Equal(got, []int{0, 1, 2}[:len(got)]) {
			t.Errorf("%s: got %v then %v", name, got, err)
		}
	}
}

// TestMapPoolClosed: a pool that closes under a Map ends its output with
// the pool's error.
func TestMapPoolClosed(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2})
	p.Close()
	_, err := collectAll(t, workers.Map(t.Context(), ints(t, 10), func(_ context.Context, v int) (int, error) { return v, nil }, workers.OnPool(p)))
	if !errors.Is(err, workers.ErrPoolClosed) {
		t.Fatalf("Map on a closed pool ended with %v, want ErrPoolClosed", err)
	}
}

// TestMapRetriesEachCall: WithRetry calls fn again for the value that
// failed, on its own; a Permanent error ends the retries with the error
// itself inside the *TaskError.
func TestMapRetriesEachCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 2)
		var calls [5]atomic.Int64
		out := workers.Map(t.Context(), ints(t, 5), func(_ context.Context, v int) (int, error) {
			if calls[v].Add(1) < 3 && v == 3 {
				return 0, errors.New("flaky")
			}
			return v * 10, nil
		}, workers.OnPool(p), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3, Backoff: time.Millisecond}))
		got, err := collectAll(t, out)
		if err != nil || !slices.Equal(got, []int{0, 10, 20, 30, 40}) {
			t.Fatalf("got %v, %v", got, err)
		}
		if n := calls[3].Load(); n != 3 {
			t.Fatalf("value 3 called %d times, want 3", n)
		}

		fatal := errors.New("fatal")
		out = workers.Map(t.Context(), ints(t, 5), func(_ context.Context, v int) (int, error) {
			if v == 1 {
				return 0, workers.Permanent(fatal)
			}
			return v, nil
		}, workers.OnPool(p), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3, Backoff: time.Millisecond}))
		_, err = collectAll(t, out)
		var te *workers.TaskError
		if !errors.As(err, &te) || te.Index != 1 || te.Err != fatal {
			t.Fatalf("Permanent failure ended the output with %v, want a *TaskError for index 1 whose Err is fatal itself", err)
		}
	})
}

// TestMapTimeoutFromTaken: WithTimeout bounds each call from the moment
// its value was taken; the call's ctx ends with the *TimeoutError.
func TestMapTimeoutFromTaken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 2)
		cause := make(chan error, 1)
		out := workers.Map(t.Context(), ints(t, 3), func(ctx context.Context, v int) (int, error) {
			if v == 1 {
				<-ctx.Done()
				cause <- context.Cause(ctx)
				return 0, nil // returned after the deadline: the deadline wins
			}
			return v, nil
		}, workers.OnPool(p), workers.WithTimeout(time.Second), workers.WithName("slow"))
		_, err := collectAll(t, out)
		var te *workers.TaskError
		var to *workers.TimeoutError
		if !errors.As(err, &te) || te.Index != 1 || te.Name != "slow" || !errors.As(err, &to) || to.Timeout != time.Second || to.Run {
			t.Fatalf("output ended with %v, want index 1 timing out after 1s", err)
		}
		if c := <-cause; !errors.As(c, &to) {
			t.Fatalf("the call's ctx cause is %v, want the *TimeoutError", c)
		}
	})
}

package channel_test

// Select: exactly one case fires; the others moved nothing.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/channel"
)

func TestSelectReadyCase(t *testing.T) {
	tx1, rx1 := channel.New[int](1)
	_, rx2 := channel.New[int](1)
	tx1.Send(t.Context(), 5)
	var a, b int
	i, err := channel.Select(t.Context(), channel.RecvCase(rx2, &b), channel.RecvCase(rx1, &a))
	if i != 1 || err != nil || a != 5 {
		t.Fatalf("Select = %d, %v, a=%d; want 1, nil, 5", i, err, a)
	}
}

// TestSelectIsFair: with two cases ready, each is chosen about half the
// time.
func TestSelectIsFair(t *testing.T) {
	tx1, rx1 := channel.New[int](channel.Unbounded)
	tx2, rx2 := channel.New[int](channel.Unbounded)
	var counts [2]int
	for range 1000 {
		tx1.TrySend(1)
		tx2.TrySend(2)
		var v int
		i, _ := channel.Select(t.Context(), channel.RecvCase(rx1, &v), channel.RecvCase(rx2, &v))
		counts[i]++
	}
	if counts[0] < 300 || counts[1] < 300 {
		t.Fatalf("choices %v: one ready case starves", counts)
	}
}

func TestSelectWaitsAndWakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx1, rx1 := channel.New[string](0)
		tx2, rx2 := channel.New[string](0)
		type res struct {
			i   int
			err error
			v   string
		}
		got := make(chan res, 1)
		go func() {
			var v string
			i, err := channel.Select(t.Context(), channel.RecvCase(rx1, &v), channel.RecvCase(rx2, &v))
			got <- res{i, err, v}
		}()
		synctest.Wait()
		if err := tx2.Send(t.Context(), "two"); err != nil {
			t.Fatal(err)
		}
		if r := <-got; r.i != 1 || r.err != nil || r.v != "two" {
			t.Fatalf("Select = %+v", r)
		}
		// The other case took nothing: rx1 has no waiting receiver left.
		if err := tx1.TrySend("one"); err != channel.ErrFull {
			t.Fatalf("TrySend to the case that did not fire = %v, want ErrFull", err)
		}
	})
}

// TestSelectContextEndsMovesNothing: a Select whose ctx ends returns -1;
// its send was not delivered and its receive took nothing.
func TestSelectContextEndsMovesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		txFull, rxFull := channel.New[int](1)
		txFull.Send(t.Context(), 1)
		txEmpty, rxEmpty := channel.New[int](1)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		var v int
		i, err := channel.Select(ctx, channel.SendCase(txFull, 2), channel.RecvCase(rxEmpty, &v))
		if i != -1 || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Select = %d, %v; want -1, DeadlineExceeded", i, err)
		}
		txEmpty.Send(t.Context(), 3)
		if v, _ := rxEmpty.TryRecv(); v != 3 {
			t.Fatalf("TryRecv = %d, want 3", v)
		}
		rxFull.TryRecv()
		if v, err := rxFull.TryRecv(); err != channel.ErrEmpty {
			t.Fatalf("the send case delivered %d", v)
		}
	})
}

func TestSelectOnClosedChannels(t *testing.T) {
	boom := errors.New("boom")
	tx, rx := channel.New[int](1)
	tx.Send(t.Context(), 1)
	tx.CloseWithError(boom)
	var v int
	if i, err := channel.Select(t.Context(), channel.RecvCase(rx, &v)); i != 0 || err != nil || v != 1 {
		t.Fatalf("Select on a closed channel with a value = %d, %v, %d", i, err, v)
	}
	if i, err := channel.Select(t.Context(), channel.RecvCase(rx, &v)); i != 0 || err != boom {
		t.Fatalf("Select on a failed, drained channel = %d, %v; want 0, boom", i, err)
	}
	if i, err := channel.Select(t.Context(), channel.SendCase(tx, 1)); i != 0 || err != channel.ErrClosed {
		t.Fatalf("SendCase on a closed channel = %d, %v", i, err)
	}
	synctest.Test(t, func(t *testing.T) {
		tx, rx := channel.New[int](0)
		tx2, rx2 := channel.New[int](0)
		done := make(chan error, 2)
		go func() {
			var v int
			_, err := channel.Select(t.Context(), channel.RecvCase(rx, &v))
			done <- err
		}()
		go func() {
			_, err := channel.Select(t.Context(), channel.SendCase(tx2, 1))
			done <- err
		}()
		synctest.Wait()
		tx.Close()
		rx2.Close()
		for range 2 {
			if err := <-done; err != channel.ErrClosed {
				t.Fatalf("blocked Select woken by close = %v, want ErrClosed", err)
			}
		}
	})
}

func TestSelectBadInput(t *testing.T) {
	tx, rx := channel.New[int](1)
	var v int
	inUse := channel.RecvCase(rx, &v)
	for name, cases := range map[string][]channel.Case{
		"none":        nil,
		"nil case":    {channel.RecvCase(rx, &v), nil},
		"nil sender":  {channel.SendCase[int](nil, 1)},
		"nil receive": {channel.RecvCase[int](nil, &v)},
		"same case":   {inUse, inUse},
	} {
		if i, err := channel.Select(t.Context(), cases...); i != -1 || !errors.Is(err, channel.ErrInvalidArgument) {
			t.Errorf("%s: Select = %d, %v; want -1, ErrInvalidArgument", name, i, err)
		}
	}
	// The refused Select left the case usable.
	tx.Send(t.Context(), 4)
	if i, err := channel.Select(t.Context(), inUse); i != 0 || err != nil || v != 4 {
		t.Fatalf("Select = %d, %v, %d", i, err, v)
	}
}

// TestSelectNeverMatchesItself: a send and a receive on one rendezvous
// channel in the same Select never complete each other.
func TestSelectNeverMatchesItself(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := channel.New[int](0)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		var v int
		if i, err := channel.Select(ctx, channel.SendCase(tx, 1), channel.RecvCase(rx, &v)); i != -1 || err == nil {
			t.Fatalf("Select = %d, %v; want -1 and the deadline", i, err)
		}
	})
}

// TestSelectsMeet: a Select sending and another receiving on the same
// rendezvous channel complete each other, however they interleave.
func TestSelectsMeet(t *testing.T) {
	for range 200 {
		tx, rx := channel.New[int](0)
		_, other := channel.New[int](0)
		var wg sync.WaitGroup
		var got int
		wg.Go(func() {
			if i, err := channel.Select(t.Context(), channel.SendCase(tx, 7)); i != 0 || err != nil {
				t.Errorf("send Select = %d, %v", i, err)
			}
		})
		wg.Go(func() {
			var dummy int
			if i, err := channel.Select(t.Context(), channel.RecvCase(other, &dummy), channel.RecvCase(rx, &got)); i != 1 || err != nil {
				t.Errorf("receive Select = %d, %v", i, err)
			}
		})
		wg.Wait()
		if got != 7 {
			t.Fatalf("received %d, want 7", got)
		}
	}
}

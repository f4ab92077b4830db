package channel_test

// Operations that wait: woken by a value, by close (either end), by the
// handle's own close and by their context; a waiting operation that
// returns an error moved nothing.

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/channel"
)

func TestBlockingSendWaitsForRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := channel.New[int](1)
		tx.Send(t.Context(), 1)
		sent := make(chan error, 1)
		go func() { sent <- tx.Send(t.Context(), 2) }()
		synctest.Wait()
		select {
		case err := <-sent:
			t.Fatalf("Send on a full channel returned %v without waiting", err)
		default:
		}
		if v, _ := rx.Recv(t.Context()); v != 1 {
			t.Fatalf("Recv = %d, want 1", v)
		}
		if err := <-sent; err != nil {
			t.Fatalf("blocked Send = %v", err)
		}
		if v, _ := rx.Recv(t.Context()); v != 2 {
			t.Fatalf("Recv = %d, want 2", v)
		}
	})
}

func TestBlockingRecvWaitsForValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, capacity := range []int{0, 1, channel.Unbounded} {
			tx, rx := channel.New[int](capacity)
			got := make(chan int, 1)
			go func() {
				v, err := rx.Recv(t.Context())
				if err != nil {
					t.Errorf("Recv = %v", err)
				}
				got <- v
			}()
			synctest.Wait()
			if err := tx.Send(t.Context(), 5); err != nil {
				t.Fatal(err)
			}
			if v := <-got; v != 5 {
				t.Fatalf("capacity %d: Recv = %d", capacity, v)
			}
		}
	})
}

func TestRendezvousSendCompletesWhenTaken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := channel.New[int](0)
		sent := make(chan error, 1)
		go func() { sent <- tx.Send(t.Context(), 9) }()
		time.Sleep(time.Hour)
		synctest.Wait()
		if len(sent) != 0 {
			t.Fatal("rendezvous Send completed with no receiver")
		}
		if v, err := rx.Recv(t.Context()); v != 9 || err != nil {
			t.Fatalf("Recv = %v, %v", v, err)
		}
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
	})
}

// TestRecvTimeout: a receive with a deadline returns the deadline's error
// and takes nothing; the value sent afterwards is still there.
func TestRecvTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tx, rx := channel.New[int](1)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := rx.Recv(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Recv = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("Recv waited %v, want 1s", d)
		}
		tx.Send(t.Context(), 3)
		if v, _ := rx.TryRecv(); v != 3 {
			t.Fatalf("TryRecv = %d, want 3", v)
		}
	})
}

// TestSendCancelledMovesNothing: a send whose ctx ends while it waits
// delivers nothing, and the error carries the cause.
func TestSendCancelledMovesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, capacity := range []int{0, 1} {
			tx, rx := channel.New[int](capacity)
			if capacity > 0 {
				tx.Send(t.Context(), 1)
			}
			why := errors.New("why")
			ctx, cancel := context.WithCancelCause(t.Context())
			done := make(chan error, 1)
			go func() { done <- tx.Send(ctx, 2) }()
			synctest.Wait()
			cancel(why)
			err := <-done
			if !errors.Is(err, context.Canceled) || !errors.Is(err, why) {
				t.Fatalf("Send = %v, want Canceled and the cause", err)
			}
			tx.Close()
			var got []int
			for v, err := range rx.All(t.Context()) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, v)
			}
			if want := capacity; len(got) != want {
				t.Fatalf("capacity %d: received %v; the cancelled 2 must not be there", capacity, got)
			}
		}
	})
}

func TestEndedContextWithReadyValue(t *testing.T) {
	tx, rx := channel.New[int](1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := tx.Send(ctx, 1); err != nil {
		t.Fatalf("Send that can complete at once with an ended ctx = %v", err)
	}
	if err := tx.Send(ctx, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send that would wait with an ended ctx = %v", err)
	}
	if v, err := rx.Recv(ctx); v != 1 || err != nil {
		t.Fatalf("Recv = %v, %v", v, err)
	}
	if _, err := rx.Recv(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Recv that would wait with an ended ctx = %v", err)
	}
}

// TestCloseWakesEveryWaiter: close by the senders wakes blocked receivers
// with ErrClosed (or the failure); close by the receivers wakes blocked
// senders with ErrClosed; closing a handle wakes that handle's waiters.
func TestCloseWakesEveryWaiter(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name    string
		close   func(tx *channel.Sender[int], rx *channel.Receiver[int])
		recvErr error
	}{
		{"senders", func(tx *channel.Sender[int], _ *channel.Receiver[int]) { tx.Close() }, channel.ErrClosed},
		{"failure", func(tx *channel.Sender[int], _ *channel.Receiver[int]) { tx.CloseWithError(boom) }, boom},
	}
	for _, c := range cases {
		synctest.Test(t, func(t *testing.T) {
			tx, rx := channel.New[int](0)
			errs := make(chan error, 8)
			for range 4 {
				go func() { _, err := rx.Recv(t.Context()); errs <- err }()
			}
			f := rx.RecvAsync()
			synctest.Wait()
			c.close(tx, rx)
			for range 4 {
				if err := <-errs; err != c.recvErr {
					t.Fatalf("%s: blocked Recv = %v, want %v", c.name, err, c.recvErr)
				}
			}
			if _, err := f.Await(t.Context()); err != c.recvErr {
				t.Fatalf("%s: RecvAsync = %v, want %v", c.name, err, c.recvErr)
			}
		})
	}
	synctest.Test(t, func(t *testing.T) {
		tx, rx := channel.New[int](0)
		errs := make(chan error, 8)
		for i := range 4 {
			go func() { errs <- tx.Send(t.Context(), i) }()
		}
		f := tx.SendAsync(9)
		synctest.Wait()
		rx.Close()
		for range 4 {
			if err := <-errs; err != channel.ErrClosed {
				t.Fatalf("blocked Send after every receiver closed = %v", err)
			}
		}
		if _, err := f.Await(t.Context()); err != channel.ErrClosed {
			t.Fatalf("SendAsync after every receiver closed = %v", err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// Closing one handle wakes only the waiters made through it.
		tx, rx := channel.New[int](1)
		tx.Send(t.Context(), 1)
		tx2 := tx.Clone()
		errs := make(chan error, 2)
		go func() { errs <- tx2.Send(t.Context(), 2) }()
		go func() { errs <- tx.Send(t.Context(), 3) }()
		synctest.Wait()
		tx2.Close()
		if err := <-errs; err != channel.ErrClosed {
			t.Fatalf("Send waiting on a handle that closed = %v, want ErrClosed", err)
		}
		if v, _ := rx.Recv(t.Context()); v != 1 {
			t.Fatalf("Recv = %d, want 1", v)
		}
		if err := <-errs; err != nil {
			t.Fatalf("Send on the other handle = %v", err)
		}
		if v, _ := rx.Recv(t.Context()); v != 3 {
			t.Fatalf("Recv = %d, want 3 (2 was never delivered)", v)
		}

		rx2 := rx.Clone()
		go func() { _, err := rx.Recv(t.Context()); errs <- err }()
		synctest.Wait()
		rx.Close()
		if err := <-errs; err != channel.ErrClosed {
			t.Fatalf("Recv waiting on a handle that closed = %v, want ErrClosed", err)
		}
		tx.Send(t.Context(), 4)
		if v, err := rx2.Recv(t.Context()); v != 4 || err != nil {
			t.Fatalf("Recv on the open clone = %v, %v", v, err)
		}
		rx2.Close()
		tx.Close()
	})
}

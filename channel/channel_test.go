package channel_test

// The basics, after Vela's TASK-051 test list: send and receive, FIFO,
// close by senders and by receivers, try operations, clones.

import (
	"errors"
	"testing"

	"github.com/velalang/runtime/channel"
)

func TestSendRecvFIFO(t *testing.T) {
	for _, capacity := range []int{1, 3, 64, channel.Unbounded} {
		tx, rx := channel.New[int](capacity)
		go func() {
			for i := range 200 {
				if err := tx.Send(t.Context(), i); err != nil {
					t.Errorf("Send(%d) = %v", i, err)
				}
			}
			tx.Close()
		}()
		want := 0
		for v, err := range rx.All(t.Context()) {
			if err != nil || v != want {
				t.Fatalf("capacity %d: got %v, %v; want %d, nil", capacity, v, err, want)
			}
			want++
		}
		if want != 200 {
			t.Fatalf("capacity %d: received %d values, want 200", capacity, want)
		}
	}
}

func TestCap(t *testing.T) {
	for _, c := range []struct{ give, want int }{{0, 0}, {5, 5}, {-1, -1}, {-7, channel.Unbounded}} {
		tx, rx := channel.New[int](c.give)
		if tx.Cap() != c.want || rx.Cap() != c.want {
			t.Errorf("New(%d): Cap %d, %d; want %d", c.give, tx.Cap(), rx.Cap(), c.want)
		}
	}
}

func TestTryOperations(t *testing.T) {
	tx, rx := channel.New[string](2)
	if _, err := rx.TryRecv(); err != channel.ErrEmpty {
		t.Fatalf("TryRecv on empty = %v, want ErrEmpty", err)
	}
	for _, v := range []string{"a", "b"} {
		if err := tx.TrySend(v); err != nil {
			t.Fatalf("TrySend(%q) = %v", v, err)
		}
	}
	if err := tx.TrySend("c"); err != channel.ErrFull {
		t.Fatalf("TrySend on full = %v, want ErrFull", err)
	}
	if tx.Len() != 2 || rx.Len() != 2 {
		t.Fatalf("Len = %d, %d; want 2", tx.Len(), rx.Len())
	}
	if v, err := rx.TryRecv(); v != "a" || err != nil {
		t.Fatalf("TryRecv = %q, %v", v, err)
	}
	tx.Close()
	if err := tx.TrySend("d"); err != channel.ErrClosed {
		t.Fatalf("TrySend after close = %v, want ErrClosed", err)
	}
	if v, err := rx.TryRecv(); v != "b" || err != nil {
		t.Fatalf("buffered value after close: %q, %v", v, err)
	}
	if _, err := rx.TryRecv(); err != channel.ErrClosed {
		t.Fatalf("TryRecv after close and drain = %v, want ErrClosed", err)
	}
}

func TestRendezvousTry(t *testing.T) {
	tx, rx := channel.New[int](0)
	if err := tx.TrySend(1); err != channel.ErrFull {
		t.Fatalf("TrySend with no receiver waiting = %v, want ErrFull", err)
	}
	if _, err := rx.TryRecv(); err != channel.ErrEmpty {
		t.Fatalf("TryRecv with no sender waiting = %v, want ErrEmpty", err)
	}
	// A pending RecvAsync is a waiting receiver; a pending SendAsync a
	// waiting sender.
	f := rx.RecvAsync()
	if err := tx.TrySend(7); err != nil {
		t.Fatalf("TrySend to a pending RecvAsync = %v", err)
	}
	if v, err := f.Await(t.Context()); v != 7 || err != nil {
		t.Fatalf("RecvAsync = %v, %v", v, err)
	}
	sf := tx.SendAsync(8)
	if v, err := rx.TryRecv(); v != 8 || err != nil {
		t.Fatalf("TryRecv from a pending SendAsync = %v, %v", v, err)
	}
	if _, err := sf.Await(t.Context()); err != nil {
		t.Fatalf("SendAsync = %v", err)
	}
	if rx.Len() != 0 {
		t.Fatalf("rendezvous Len = %d", rx.Len())
	}
}

func TestCloseBySendersKeepsBufferedValues(t *testing.T) {
	tx, rx := channel.New[int](4)
	tx.Send(t.Context(), 1)
	tx.Send(t.Context(), 2)
	if err := tx.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil (idempotent)", err)
	}
	if err := tx.Send(t.Context(), 3); err != channel.ErrClosed {
		t.Fatalf("Send after close = %v, want ErrClosed", err)
	}
	for _, want := range []int{1, 2} {
		if v, err := rx.Recv(t.Context()); v != want || err != nil {
			t.Fatalf("Recv = %v, %v; want %d", v, err, want)
		}
	}
	for range 2 {
		if _, err := rx.Recv(t.Context()); err != channel.ErrClosed {
			t.Fatalf("Recv on closed empty channel = %v, want ErrClosed", err)
		}
	}
}

func TestCloseWithError(t *testing.T) {
	boom := errors.New("boom")
	tx, rx := channel.New[int](4)
	other := tx.Clone()
	tx.Send(t.Context(), 1)
	tx.CloseWithError(boom) // closes the channel although other is open
	if err := other.Send(t.Context(), 2); err != channel.ErrClosed {
		t.Fatalf("Send on a clone after CloseWithError = %v, want ErrClosed", err)
	}
	other.CloseWithError(errors.New("later")) // the first close wins
	if v, err := rx.Recv(t.Context()); v != 1 || err != nil {
		t.Fatalf("Recv = %v, %v; want the buffered 1", v, err)
	}
	if _, err := rx.Recv(t.Context()); err != boom {
		t.Fatalf("Recv after drain = %v, want boom itself", err)
	}
	var got []error
	for _, err := range rx.All(t.Context()) {
		got = append(got, err)
	}
	if len(got) != 1 || got[0] != boom {
		t.Fatalf("All yielded %v, want [boom] once", got)
	}

	tx2, rx2 := channel.New[int](1)
	tx2.Clone() // left open: CloseWithError(nil) still closes
	tx2.CloseWithError(nil)
	if _, err := rx2.Recv(t.Context()); err != channel.ErrClosed {
		t.Fatalf("after CloseWithError(nil): %v, want ErrClosed", err)
	}
}

func TestChannelClosesAfterEverySender(t *testing.T) {
	tx, rx := channel.New[int](channel.Unbounded)
	clones := []*channel.Sender[int]{tx, tx.Clone(), tx.Clone()}
	for i, s := range clones {
		s.Send(t.Context(), i)
	}
	for range clones {
		if _, err := rx.TryRecv(); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range clones {
		s.Close()
		s.Close() // idempotent per handle: counts once
		_, err := rx.TryRecv()
		if i < len(clones)-1 && err != channel.ErrEmpty {
			t.Fatalf("after closing %d of %d senders: %v, want ErrEmpty", i+1, len(clones), err)
		}
		if i == len(clones)-1 && err != channel.ErrClosed {
			t.Fatalf("after closing every sender: %v, want ErrClosed", err)
		}
	}
}

func TestClosedHandleRefusesItsOwnOperations(t *testing.T) {
	tx, rx := channel.New[int](4)
	tx2, rx2 := tx.Clone(), rx.Clone()
	tx.Close()
	rx.Close()
	if err := tx.Send(t.Context(), 1); err != channel.ErrClosed {
		t.Fatalf("Send on a closed handle = %v", err)
	}
	if _, err := tx.SendAsync(1).Await(t.Context()); err != channel.ErrClosed {
		t.Fatalf("SendAsync on a closed handle = %v", err)
	}
	if err := tx2.Send(t.Context(), 2); err != nil {
		t.Fatalf("Send on the open clone = %v", err)
	}
	if _, err := rx.TryRecv(); err != channel.ErrClosed {
		t.Fatalf("TryRecv on a closed handle = %v", err)
	}
	if _, err := rx.RecvAsync().Await(t.Context()); err != channel.ErrClosed {
		t.Fatalf("RecvAsync on a closed handle = %v", err)
	}
	if v, err := rx2.Recv(t.Context()); v != 2 || err != nil {
		t.Fatalf("Recv on the open clone = %v, %v", v, err)
	}
	if c := tx.Clone(); c.Send(t.Context(), 3) != channel.ErrClosed {
		t.Fatal("a clone of a closed handle can send")
	}
	if _, err := rx.Clone().TryRecv(); err != channel.ErrClosed {
		t.Fatal("a clone of a closed handle can receive")
	}
	tx2.Close()
	rx2.Close()
}

func TestCloseByReceiversDropsBufferedValues(t *testing.T) {
	tx, rx := channel.New[int](4)
	tx.Send(t.Context(), 1)
	tx.Send(t.Context(), 2)
	rx2 := rx.Clone()
	rx.Close()
	if tx.Len() != 2 {
		t.Fatalf("Len %d after one of two receivers closed, want 2", tx.Len())
	}
	rx2.Close()
	if tx.Len() != 0 {
		t.Fatalf("Len %d after every receiver closed, want 0 (dropped)", tx.Len())
	}
	if err := tx.Send(t.Context(), 3); err != channel.ErrClosed {
		t.Fatalf("Send with no receiver left = %v, want ErrClosed", err)
	}
	if err := tx.TrySend(3); err != channel.ErrClosed {
		t.Fatalf("TrySend with no receiver left = %v, want ErrClosed", err)
	}
	if err := tx.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOnReceiversClosed: a producer that is not sending learns that every
// receiver left; stop keeps the callback from running.
func TestOnReceiversClosed(t *testing.T) {
	tx, rx := channel.New[int](1)
	rx2 := rx.Clone()
	calls := 0
	tx.OnReceiversClosed(func() { calls++ })
	stop := tx.OnReceiversClosed(func() { t.Error("a stopped callback ran") })
	if !stop() || stop() {
		t.Fatal("stop did not report true once, then false")
	}
	rx.Close()
	if calls != 0 {
		t.Fatal("callback ran while a receiver was left")
	}
	rx2.Close()
	if calls != 1 {
		t.Fatalf("callback ran %d times after the last receiver closed, want 1", calls)
	}
	tx.OnReceiversClosed(func() { calls++ }) // already gone: at once
	if calls != 2 {
		t.Fatal("a callback registered after the receivers left did not run at once")
	}
	tx.OnReceiversClosed(nil)()
}

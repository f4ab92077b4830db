package channel_test

// Many goroutines at once: every value received exactly once, each
// sender's values in order at each receiver, and futures whose Cancel
// races with a hand-over keep the rule (Cancel true moved nothing).

import (
	"context"
	"sync"
	"testing"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/channel"
)

type item struct{ sender, seq int }

func TestManySendersManyReceivers(t *testing.T) {
	const senders, receivers, each = 4, 4, 2000
	for _, capacity := range []int{0, 1, 16, channel.Unbounded} {
		tx, rx := channel.New[item](capacity)
		var wg sync.WaitGroup
		for s := range senders {
			h := tx.Clone()
			wg.Go(func() {
				defer h.Close()
				for i := range each {
					if err := h.Send(t.Context(), item{s, i}); err != nil {
						t.Errorf("Send = %v", err)
						return
					}
				}
			})
		}
		tx.Close()
		got := make([][]item, receivers)
		for r := range receivers {
			h := rx.Clone()
			wg.Go(func() {
				defer h.Close()
				for v, err := range h.All(t.Context()) {
					if err != nil {
						t.Errorf("Recv = %v", err)
						return
					}
					got[r] = append(got[r], v)
				}
			})
		}
		rx.Close()
		wg.Wait()
		seen := make(map[item]bool)
		for r, vs := range got {
			last := map[int]int{}
			for _, v := range vs {
				if seen[v] {
					t.Fatalf("capacity %d: %v received twice", capacity, v)
				}
				seen[v] = true
				if l, ok := last[v.sender]; ok && v.seq <= l {
					t.Fatalf("capacity %d: receiver %d got sender %d's %d after %d", capacity, r, v.sender, v.seq, l)
				}
				last[v.sender] = v.seq
			}
		}
		if len(seen) != senders*each {
			t.Fatalf("capacity %d: %d values received, want %d", capacity, len(seen), senders*each)
		}
	}
}

// TestAsyncCancelRacesHandOver: RecvAsync and SendAsync futures cancelled
// while the other side hands over. A Cancel that returned true moved no
// value; one that returned false left the value in the future (receive) or
// in the channel (send). Counted at the end, every value is seen once.
func TestAsyncCancelRacesHandOver(t *testing.T) {
	const n = 3000
	for _, capacity := range []int{0, 4} {
		tx, rx := channel.New[int](capacity)
		received := make(map[int]int)
		all := make(chan struct{})
		var mu sync.Mutex
		note := func(v int) {
			mu.Lock()
			received[v]++
			if len(received) == n && received[v] == 1 {
				close(all)
			}
			mu.Unlock()
		}
		var wg sync.WaitGroup
		// Receivers through futures, cancelled at random moments.
		wg.Go(func() {
			for range n {
				f := rx.RecvAsync()
				if !f.Cancel() {
					if v, err := f.Await(t.Context()); err == nil {
						note(v)
					}
				}
			}
		})
		// Senders through futures, cancelled at random moments; a value
		// whose send was cancelled is sent again, blocking.
		wg.Go(func() {
			for i := range n {
				f := tx.SendAsync(i)
				if f.Cancel() {
					if err := tx.Send(t.Context(), i); err != nil {
						t.Errorf("Send = %v", err)
					}
				} else if _, err := f.Await(t.Context()); err != nil {
					t.Errorf("SendAsync = %v", err)
				}
			}
		})
		// A plain receiver too, so that sends complete, until every value
		// has been seen.
		ctx, stop := context.WithCancel(t.Context())
		wg.Go(func() {
			for {
				v, err := rx.Recv(ctx)
				if err != nil {
					return
				}
				note(v)
			}
		})
		<-all
		stop()
		wg.Wait()
		for v := range n {
			if received[v] != 1 {
				t.Fatalf("capacity %d: value %d received %d times", capacity, v, received[v])
			}
		}
		if v, err := rx.TryRecv(); err != channel.ErrEmpty {
			t.Fatalf("capacity %d: a value left over: %v, %v", capacity, v, err)
		}
	}
}

// TestCancelledFutureLeavesValue: a RecvAsync cancelled before any value
// came takes nothing; the next receive gets the value.
func TestCancelledFutureLeavesValue(t *testing.T) {
	tx, rx := channel.New[int](0)
	f := rx.RecvAsync()
	if !f.Cancel() {
		t.Fatal("Cancel of a pending RecvAsync returned false")
	}
	if err := tx.TrySend(1); err != channel.ErrFull {
		t.Fatalf("TrySend after the only receiver cancelled = %v, want ErrFull", err)
	}
	sf := tx.SendAsync(2)
	g := rx.RecvAsync()
	if v, err := g.Await(t.Context()); v != 2 || err != nil {
		t.Fatalf("RecvAsync = %v, %v", v, err)
	}
	if sf.Cancel() {
		t.Fatal("Cancel of a delivered SendAsync returned true")
	}
	if sf.State() != async.Fulfilled {
		t.Fatalf("delivered SendAsync is %v", sf.State())
	}
}

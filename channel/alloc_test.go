package channel_test

import (
	"testing"

	"github.com/velalang/runtime/channel"
)

// TestNoAllocationPerValue: Send and Recv that do not wait, TrySend,
// TryRecv and a SendAsync that delivers at once allocate nothing, for a
// bounded and (once grown) an unbounded channel.
func TestNoAllocationPerValue(t *testing.T) {
	for _, capacity := range []int{64, channel.Unbounded} {
		tx, rx := channel.New[int](capacity)
		ctx := t.Context()
		allocs := testing.AllocsPerRun(1000, func() {
			tx.Send(ctx, 1)
			tx.TrySend(2)
			tx.SendAsync(3)
			rx.Recv(ctx)
			rx.TryRecv()
			rx.TryRecv()
		})
		if allocs != 0 {
			t.Errorf("capacity %d: %v allocations per round, want 0", capacity, allocs)
		}
	}
}

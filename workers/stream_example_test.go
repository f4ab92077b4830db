package workers_test

import (
	"context"
	"fmt"

	"github.com/velalang/runtime/channel"
	"github.com/velalang/runtime/workers"
)

// A pipeline: a worker produces numbers into a channel, Map squares them on
// the pool (in input order, at most MaxWorkers at a time), and the caller
// consumes the results as they come.
func ExampleMap() {
	ctx := context.Background()
	nums := workers.Stream(ctx, func(ctx context.Context, out *channel.Sender[int]) error {
		for i := 1; i <= 5; i++ {
			if err := out.Send(ctx, i); err != nil {
				return err // every consumer left
			}
		}
		return nil
	})
	squares := workers.Map(ctx, nums, func(_ context.Context, n int) (int, error) {
		return n * n, nil
	})
	for sq, err := range squares.All(ctx) {
		if err != nil {
			fmt.Println("failed:", err)
			break
		}
		fmt.Print(sq, " ")
	}
	fmt.Println()
	// Output: 1 4 9 16 25
}

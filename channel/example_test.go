package channel_test

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/channel"
)

// A producer goroutine, a stage and a consumer, joined by channels. The
// producer learns when nobody listens any more, and a failure reaches the
// consumer after the values sent before it.
func Example_pipeline() {
	ctx := context.Background()
	words := channel.FromSeq(ctx, slices.Values([]string{"go", "vela", "loop"}), 2)

	tx, upper := channel.New[string](2)
	go func() {
		defer tx.Close()
		for w, err := range words.All(ctx) {
			if err != nil {
				tx.CloseWithError(err)
				return
			}
			if tx.Send(ctx, strings.ToUpper(w)) != nil {
				words.Close() // nobody listens: stop the producer too
				return
			}
		}
	}()

	for w, err := range upper.All(ctx) {
		fmt.Println(w, err)
	}
	// Output:
	// GO <nil>
	// VELA <nil>
	// LOOP <nil>
}

// An event loop consuming a channel fed by a goroutine: fn runs on the
// loop, one value at a time, and Run returns once the channel is closed and
// drained.
func ExampleOnEach() {
	loop := async.NewLoop()
	tx, rx := channel.New[int](16)
	go func() {
		defer tx.Close()
		for i := 1; i <= 5; i++ {
			tx.Send(context.Background(), i*i)
		}
	}()
	sum := 0
	done := channel.OnEach(loop, rx, func(v int) { sum += v })
	if err := loop.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println(sum, done.State())
	// Output: 55 fulfilled
}

// Select takes from whichever channel has a value; the case that did not
// fire took nothing.
func ExampleSelect() {
	ctx := context.Background()
	_, jobs := channel.New[string](1)
	txUrgent, urgent := channel.New[string](1)
	txUrgent.Send(ctx, "fire alarm")

	var job, alarm string
	i, err := channel.Select(ctx, channel.RecvCase(jobs, &job), channel.RecvCase(urgent, &alarm))
	fmt.Println(i, alarm, err)
	// Output: 1 fire alarm <nil>
}

package workloads

import (
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// golang.org/x/sync/errgroup, as its documentation shows: a Group (with
// SetLimit for a bound), Go with closures that write their result into a
// slice at their index, Wait for the first error. A Group is meant to be
// used for one batch; it has no per-task handle, cancel or timeout.

func init() {
	add("RoundTrip", Errgroup, "", egRoundTrip)
	add("FanOut", Errgroup, "SetLimit+slice", egFanOut)
	add("Blocking", Errgroup, "SetLimit+slice", func(b *testing.B) { blocking1k(b, egBlocking) })
	add("BlockingAnts", Errgroup, "SetLimit+slice", func(b *testing.B) { blockingAnts(b, egBlocking) })
	add("CPUSpeedup", Errgroup, "SetLimit+slice", egSpeedup)
	add("PoolStartup", Errgroup, "SetLimit", egStartup)
	for _, id := range []string{"CancelRunning", "CancelQueued"} {
		na(id, Errgroup, "no per-task cancel (only the whole group's context, on first error)")
	}
	na("TimeoutLateness", Errgroup, "no timeout: Wait always waits for every function")
	na("QueuedMemory", Errgroup, "no queue: Go blocks the caller at the limit")
	na("LoopHandoff", Errgroup, "no event loop")
	na("LoopPost", Errgroup, "no event loop")
}

func egRoundTrip(b *testing.B) {
	b.ReportAllocs()
	var sum int
	for range b.N {
		var g errgroup.Group
		var v int
		g.Go(func() error { v = 1; return nil })
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		sum += v
	}
	if sum != b.N {
		b.Fatal("lost a result")
	}
}

func egFanOut(b *testing.B) {
	fanOutBench(b, func(tasks, rounds int) []int {
		out := make([]int, tasks)
		var g errgroup.Group
		g.SetLimit(gomaxprocs())
		for i := range tasks {
			g.Go(func() error {
				out[i] = fanWork(rounds, i)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			panic(err)
		}
		return out
	})
}

func egBlocking(tasks, limit int, d time.Duration) []int {
	out := make([]int, tasks)
	var g errgroup.Group
	g.SetLimit(limit)
	for i := range tasks {
		g.Go(func() error {
			time.Sleep(d)
			out[i] = i
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		panic(err)
	}
	return out
}

func egSpeedup(b *testing.B) {
	speedupBench(b, func(n, rounds int) []uint64 {
		out := make([]uint64, n)
		var g errgroup.Group
		g.SetLimit(gomaxprocs())
		for i := range n {
			g.Go(func() error {
				out[i] = spin(rounds, uint64(i))
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			panic(err)
		}
		return out
	})
}

func egStartup(b *testing.B) {
	startupBench(b, func(workers int) (int, func()) {
		var g errgroup.Group
		g.SetLimit(workers)
		var v int
		g.Go(func() error { v = 1; return nil })
		if err := g.Wait(); err != nil {
			panic(err)
		}
		return v, func() {}
	})
}

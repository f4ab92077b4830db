package workloads

import (
	"testing"
	"time"

	"github.com/sourcegraph/conc/iter"
	"github.com/sourcegraph/conc/pool"
)

// github.com/sourcegraph/conc, as its README recommends: pool.NewWithResults
// (.WithErrors, .WithMaxGoroutines) "if you want a concurrent task runner that
// collects task results", and iter.Map "if you want to concurrently map a
// slice". Pools are scoped: one per batch, Wait ends it. In v0.3.0 a result
// pool returns results in completion order, not input order; iter.Mapper
// keeps input order. No per-task handle, cancel or timeout.

func init() {
	add("RoundTrip", Conc, "ResultErrorPool", concRoundTrip)
	add("FanOut", Conc, "ResultErrorPool-unordered", concFanOutPool)
	add("FanOut", Conc, "iter.MapErr", concFanOutMap)
	add("Blocking", Conc, "ResultErrorPool", func(b *testing.B) { blocking1k(b, concBlocking) })
	add("BlockingAnts", Conc, "ResultErrorPool", func(b *testing.B) { blockingAnts(b, concBlocking) })
	add("CPUSpeedup", Conc, "iter.MapErr", concSpeedup)
	add("PoolStartup", Conc, "ResultErrorPool", concStartup)
	for _, id := range []string{"CancelRunning", "CancelQueued"} {
		na(id, Conc, "no per-task cancel (only the pool's context, on first error)")
	}
	na("TimeoutLateness", Conc, "no timeout: Wait always waits for every task")
	na("QueuedMemory", Conc, "no queue: Go blocks the caller at the limit")
	na("LoopHandoff", Conc, "no event loop")
	na("LoopPost", Conc, "no event loop")
}

func concRoundTrip(b *testing.B) {
	b.ReportAllocs()
	var sum int
	for range b.N {
		p := pool.NewWithResults[int]().WithErrors()
		p.Go(func() (int, error) { return 1, nil })
		res, err := p.Wait()
		if err != nil {
			b.Fatal(err)
		}
		sum += res[0]
	}
	if sum != b.N {
		b.Fatal("lost a result")
	}
}

func concFanOutPool(b *testing.B) {
	fanOutUnorderedBench(b, func(tasks, rounds int) []int {
		p := pool.NewWithResults[int]().WithErrors().WithMaxGoroutines(gomaxprocs())
		for i := range tasks {
			p.Go(func() (int, error) { return fanWork(rounds, i), nil })
		}
		out, err := p.Wait()
		if err != nil {
			panic(err)
		}
		return out
	})
}

func concFanOutMap(b *testing.B) {
	fanOutBench(b, func(tasks, rounds int) []int {
		in := make([]int, tasks)
		for i := range in {
			in[i] = i
		}
		m := iter.Mapper[int, int]{MaxGoroutines: gomaxprocs()}
		out, err := m.MapErr(in, func(i *int) (int, error) { return fanWork(rounds, *i), nil })
		if err != nil {
			panic(err)
		}
		return out
	})
}

func concBlocking(tasks, limit int, d time.Duration) []int {
	p := pool.NewWithResults[int]().WithErrors().WithMaxGoroutines(limit)
	for i := range tasks {
		p.Go(func() (int, error) {
			time.Sleep(d)
			return i, nil
		})
	}
	out, err := p.Wait()
	if err != nil {
		panic(err)
	}
	return out
}

func concSpeedup(b *testing.B) {
	speedupBench(b, func(n, rounds int) []uint64 {
		in := make([]int, n)
		for i := range in {
			in[i] = i
		}
		m := iter.Mapper[int, uint64]{MaxGoroutines: gomaxprocs()}
		out, err := m.MapErr(in, func(i *int) (uint64, error) { return spin(rounds, uint64(*i)), nil })
		if err != nil {
			panic(err)
		}
		return out
	})
}

func concStartup(b *testing.B) {
	startupBench(b, func(workers int) (int, func()) {
		p := pool.NewWithResults[int]().WithErrors().WithMaxGoroutines(workers)
		p.Go(func() (int, error) { return 1, nil })
		res, err := p.Wait()
		if err != nil {
			panic(err)
		}
		return res[0], func() {}
	})
}

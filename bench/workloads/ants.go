package workloads

import (
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/ants/v2"
)

// github.com/panjf2000/ants/v2, as its README and examples show: NewPool(n),
// Submit(func()) with a sync.WaitGroup to wait and results written into a
// slice, Release at the end. Fire-and-forget only: no task handle, no result,
// no per-task cancel or timeout, and no queue (Submit blocks the caller while
// every worker is busy).

func init() {
	add("RoundTrip", Ants, "Submit+WaitGroup", antsRoundTrip)
	add("FanOut", Ants, "Submit+WaitGroup+slice", antsFanOut)
	add("Blocking", Ants, "Submit+WaitGroup+slice", func(b *testing.B) { blocking1k(b, antsBlocking) })
	add("BlockingAnts", Ants, "Submit+WaitGroup+slice", func(b *testing.B) { blockingAnts(b, antsBlocking) })
	add("CPUSpeedup", Ants, "Submit+WaitGroup+slice", antsSpeedup)
	add("PoolStartup", Ants, "Submit+WaitGroup", antsStartup)
	for _, id := range []string{"CancelRunning", "CancelQueued"} {
		na(id, Ants, "no task handle, no cancel")
	}
	na("TimeoutLateness", Ants, "no timeout")
	na("QueuedMemory", Ants, "no queue: Submit blocks the caller while every worker is busy")
	na("LoopHandoff", Ants, "no event loop")
	na("LoopPost", Ants, "no event loop")
}

func antsRoundTrip(b *testing.B) {
	b.ReportAllocs()
	p := must(ants.NewPool(gomaxprocs()))
	defer p.Release()
	var sum int
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		var v int
		wg.Add(1)
		if err := p.Submit(func() { v = 1; wg.Done() }); err != nil {
			b.Fatal(err)
		}
		wg.Wait()
		sum += v
	}
	b.StopTimer()
	if sum != b.N {
		b.Fatal("lost a result")
	}
}

func antsFanOut(b *testing.B) {
	p := must(ants.NewPool(gomaxprocs()))
	defer p.Release()
	fanOutBench(b, func(tasks, rounds int) []int {
		out := make([]int, tasks)
		var wg sync.WaitGroup
		wg.Add(tasks)
		for i := range tasks {
			if err := p.Submit(func() {
				out[i] = fanWork(rounds, i)
				wg.Done()
			}); err != nil {
				panic(err)
			}
		}
		wg.Wait()
		return out
	})
}

func antsBlocking(tasks, limit int, d time.Duration) []int {
	p := must(ants.NewPool(limit))
	defer p.Release()
	out := make([]int, tasks)
	var wg sync.WaitGroup
	wg.Add(tasks)
	for i := range tasks {
		if err := p.Submit(func() {
			time.Sleep(d)
			out[i] = i
			wg.Done()
		}); err != nil {
			panic(err)
		}
	}
	wg.Wait()
	return out
}

func antsSpeedup(b *testing.B) {
	speedupBench(b, func(n, rounds int) []uint64 {
		p := must(ants.NewPool(gomaxprocs()))
		defer p.Release()
		out := make([]uint64, n)
		var wg sync.WaitGroup
		wg.Add(n)
		for i := range n {
			if err := p.Submit(func() {
				out[i] = spin(rounds, uint64(i))
				wg.Done()
			}); err != nil {
				panic(err)
			}
		}
		wg.Wait()
		return out
	})
}

func antsStartup(b *testing.B) {
	startupBench(b, func(workers int) (int, func()) {
		p := must(ants.NewPool(workers))
		var wg sync.WaitGroup
		var v int
		wg.Add(1)
		if err := p.Submit(func() { v = 1; wg.Done() }); err != nil {
			panic(err)
		}
		wg.Wait()
		return v, p.Release
	})
}

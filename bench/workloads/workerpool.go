package workloads

import (
	"sync"
	"testing"
	"time"

	"github.com/gammazero/workerpool"
)

// github.com/gammazero/workerpool, as its README shows: New(n), Do(func())
// for each task with results written into a slice, StopWait to wait for
// them all (so one pool per batch); DoWait to wait for a single task. An
// unbounded queue, fire-and-forget tasks: no handle, no result, no per-task
// cancel or timeout.

func init() {
	add("RoundTrip", Workerpool, "DoWait", wpRoundTrip)
	add("FanOut", Workerpool, "Do+StopWait+slice", wpFanOut)
	add("Blocking", Workerpool, "Do+StopWait+slice", func(b *testing.B) { blocking1k(b, wpBlocking) })
	add("BlockingAnts", Workerpool, "Do+StopWait+slice", func(b *testing.B) { blockingAnts(b, wpBlocking) })
	add("CPUSpeedup", Workerpool, "Do+StopWait+slice", wpSpeedup)
	add("PoolStartup", Workerpool, "DoWait", wpStartup)
	add("QueuedMemory", Workerpool, "Do+slice", wpQueued)
	for _, id := range []string{"CancelRunning", "CancelQueued"} {
		na(id, Workerpool, "no task handle, no cancel (Stop drops the whole queue)")
	}
	na("TimeoutLateness", Workerpool, "no timeout")
	na("LoopHandoff", Workerpool, "no event loop")
	na("LoopPost", Workerpool, "no event loop")
}

func wpRoundTrip(b *testing.B) {
	b.ReportAllocs()
	wp := workerpool.New(gomaxprocs())
	defer wp.StopWait()
	var sum int
	b.ResetTimer()
	for range b.N {
		var v int
		if err := wp.DoWait(func() { v = 1 }); err != nil {
			b.Fatal(err)
		}
		sum += v
	}
	b.StopTimer()
	if sum != b.N {
		b.Fatal("lost a result")
	}
}

func wpFanOut(b *testing.B) {
	fanOutBench(b, func(tasks, rounds int) []int {
		wp := workerpool.New(gomaxprocs())
		out := make([]int, tasks)
		for i := range tasks {
			if err := wp.Do(func() { out[i] = fanWork(rounds, i) }); err != nil {
				panic(err)
			}
		}
		wp.StopWait()
		return out
	})
}

func wpBlocking(tasks, limit int, d time.Duration) []int {
	wp := workerpool.New(limit)
	out := make([]int, tasks)
	for i := range tasks {
		if err := wp.Do(func() {
			time.Sleep(d)
			out[i] = i
		}); err != nil {
			panic(err)
		}
	}
	wp.StopWait()
	return out
}

func wpSpeedup(b *testing.B) {
	speedupBench(b, func(n, rounds int) []uint64 {
		wp := workerpool.New(gomaxprocs())
		out := make([]uint64, n)
		for i := range n {
			if err := wp.Do(func() { out[i] = spin(rounds, uint64(i)) }); err != nil {
				panic(err)
			}
		}
		wp.StopWait()
		return out
	})
}

func wpStartup(b *testing.B) {
	startupBench(b, func(workers int) (int, func()) {
		wp := workerpool.New(workers)
		var v int
		if err := wp.DoWait(func() { v = 1 }); err != nil {
			panic(err)
		}
		return v, wp.StopWait
	})
}

func wpQueued(b *testing.B) {
	queuedMemBench(b, func(n, workers int) queuedImpl {
		wp := workerpool.New(workers)
		out := make([]int, n)
		return queuedImpl{
			block: func(workers int, release <-chan struct{}, running *sync.WaitGroup) {
				for range workers {
					wp.Submit(func() { running.Done(); <-release })
				}
			},
			submit: func(n int) {
				for i := range n {
					if err := wp.Do(func() { out[i] = 1 }); err != nil {
						panic(err)
					}
				}
			},
			drain: wp.StopWait,
		}
	})
}

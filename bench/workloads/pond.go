package workloads

import (
	"sync"
	"testing"
	"time"

	"github.com/alitto/pond/v2"
)

// github.com/alitto/pond/v2, as its README recommends: NewResultPool[T] and
// SubmitErr for a task that returns a result or an error (a typed future,
// ResultTask, with Wait), a result group (pool.NewGroup, SubmitErr, Wait)
// for a batch whose results come back in input order, and Go for
// fire-and-forget. A task has no Cancel and no timeout of its own: only a
// group's or a pool's context can stop work, and a group's Wait still waits
// for every running task.

func init() {
	add("RoundTrip", Pond, "ResultPool.SubmitErr", pondRoundTrip)
	add("FanOut", Pond, "result-tasks", pondFanOutTasks)
	add("FanOut", Pond, "result-group", pondFanOutGroup)
	add("FanOut", Pond, "Go", pondFanOutGo)
	add("Blocking", Pond, "result-group", func(b *testing.B) { blocking1k(b, pondBlocking) })
	add("BlockingAnts", Pond, "result-group", func(b *testing.B) { blockingAnts(b, pondBlocking) })
	add("CPUSpeedup", Pond, "result-group", pondSpeedup)
	add("PoolStartup", Pond, "ResultPool", pondStartup)
	add("QueuedMemory", Pond, "result-tasks", pondQueuedTasks)
	add("QueuedMemory", Pond, "Go", pondQueuedGo)
	for _, id := range []string{"CancelRunning", "CancelQueued"} {
		na(id, Pond, "no per-task cancel (a task has no Cancel; only a group's or pool's context)")
	}
	na("TimeoutLateness", Pond, "no per-task timeout (a group's Wait waits for running tasks even after its context ends)")
	na("LoopHandoff", Pond, "no event loop")
	na("LoopPost", Pond, "no event loop")
}

func pondNoop() (int, error) { return 1, nil }

func pondRoundTrip(b *testing.B) {
	b.ReportAllocs()
	p := pond.NewResultPool[int](gomaxprocs())
	defer p.StopAndWait()
	var sum int
	b.ResetTimer()
	for range b.N {
		v, err := p.SubmitErr(pondNoop).Wait()
		if err != nil {
			b.Fatal(err)
		}
		sum += v
	}
	b.StopTimer()
	if sum != b.N {
		b.Fatal("lost a result")
	}
}

func pondFanOutTasks(b *testing.B) {
	p := pond.NewResultPool[int](gomaxprocs())
	defer p.StopAndWait()
	fanOutBench(b, func(tasks, rounds int) []int {
		ts := make([]pond.ResultTask[int], tasks)
		for i := range tasks {
			ts[i] = p.SubmitErr(func() (int, error) { return fanWork(rounds, i), nil })
		}
		out := make([]int, tasks)
		for i, t := range ts {
			v, err := t.Wait()
			if err != nil {
				panic(err)
			}
			out[i] = v
		}
		return out
	})
}

func pondFanOutGroup(b *testing.B) {
	p := pond.NewResultPool[int](gomaxprocs())
	defer p.StopAndWait()
	fanOutBench(b, func(tasks, rounds int) []int {
		g := p.NewGroup()
		for i := range tasks {
			g.SubmitErr(func() (int, error) { return fanWork(rounds, i), nil })
		}
		out, err := g.Wait()
		if err != nil {
			panic(err)
		}
		return out
	})
}

func pondFanOutGo(b *testing.B) {
	p := pond.NewPool(gomaxprocs())
	defer p.StopAndWait()
	fanOutBench(b, func(tasks, rounds int) []int {
		out := make([]int, tasks)
		var wg sync.WaitGroup
		wg.Add(tasks)
		for i := range tasks {
			if err := p.Go(func() {
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

func pondBlocking(tasks, limit int, d time.Duration) []int {
	p := pond.NewResultPool[int](limit)
	defer p.StopAndWait()
	g := p.NewGroup()
	for i := range tasks {
		g.SubmitErr(func() (int, error) {
			time.Sleep(d)
			return i, nil
		})
	}
	out, err := g.Wait()
	if err != nil {
		panic(err)
	}
	return out
}

func pondSpeedup(b *testing.B) {
	speedupBench(b, func(n, rounds int) []uint64 {
		p := pond.NewResultPool[uint64](gomaxprocs())
		defer p.StopAndWait()
		g := p.NewGroup()
		for i := range n {
			g.SubmitErr(func() (uint64, error) { return spin(rounds, uint64(i)), nil })
		}
		out, err := g.Wait()
		if err != nil {
			panic(err)
		}
		return out
	})
}

func pondStartup(b *testing.B) {
	startupBench(b, func(workers int) (int, func()) {
		p := pond.NewResultPool[int](workers)
		v, err := p.SubmitErr(pondNoop).Wait()
		if err != nil {
			panic(err)
		}
		return v, p.StopAndWait
	})
}

func pondQueuedTasks(b *testing.B) {
	queuedMemBench(b, func(n, workers int) queuedImpl {
		p := pond.NewResultPool[int](workers)
		ts := make([]pond.ResultTask[int], n)
		return queuedImpl{
			block: func(workers int, release <-chan struct{}, running *sync.WaitGroup) {
				for range workers {
					p.SubmitErr(func() (int, error) { running.Done(); <-release; return 0, nil })
				}
			},
			submit: func(n int) {
				for i := range n {
					ts[i] = p.SubmitErr(pondNoop)
				}
			},
			drain: func() {
				for _, t := range ts {
					if _, err := t.Wait(); err != nil {
						panic(err)
					}
				}
				p.StopAndWait()
			},
		}
	})
}

func pondQueuedGo(b *testing.B) {
	queuedMemBench(b, func(n, workers int) queuedImpl {
		p := pond.NewPool(workers)
		out := make([]int, n)
		return queuedImpl{
			block: func(workers int, release <-chan struct{}, running *sync.WaitGroup) {
				for range workers {
					p.Go(func() { running.Done(); <-release })
				}
			},
			submit: func(n int) {
				for i := range n {
					if err := p.Go(func() { out[i] = 1 }); err != nil {
						panic(err)
					}
				}
			},
			drain: p.StopAndWait,
		}
	})
}

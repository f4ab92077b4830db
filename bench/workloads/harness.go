package workloads

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// The harnesses below hold the parts of a workload that are the same for
// every library (sizes, timing, checks, metrics); each library passes only
// the code a user of that library would write.

// fanOutBench runs run b.N times. run must execute tasks tasks, task i
// computing fanWork(rounds, i), and return their results in input order.
func fanOutBench(b *testing.B, run func(tasks, rounds int) []int) {
	tasks, rounds := Sizes.FanOutTasks, spinRounds(Sizes.FanOutWork)
	pt := startPerTask(b)
	var out []int
	for range b.N {
		out = run(tasks, rounds)
	}
	pt.report(tasks)
	checkFanOut(b, out, tasks, rounds)
}

// fanWork is the body of a fan-out task.
func fanWork(rounds, i int) int { return int(spin(rounds, uint64(i))) }

func checkFanOut(b *testing.B, out []int, tasks, rounds int) {
	if len(out) != tasks {
		b.Fatalf("got %d results, want %d", len(out), tasks)
	}
	for _, i := range []int{0, tasks / 2, tasks - 1} {
		if out[i] != fanWork(rounds, i) {
			b.Fatalf("result %d is %d, want %d (not in input order?)", i, out[i], fanWork(rounds, i))
		}
	}
}

// fanOutUnorderedBench is fanOutBench for a library whose documented way of
// collecting results returns them in completion order; the check is on the
// multiset (sum) instead.
func fanOutUnorderedBench(b *testing.B, run func(tasks, rounds int) []int) {
	tasks, rounds := Sizes.FanOutTasks, spinRounds(Sizes.FanOutWork)
	pt := startPerTask(b)
	var out []int
	for range b.N {
		out = run(tasks, rounds)
	}
	pt.report(tasks)
	if len(out) != tasks {
		b.Fatalf("got %d results, want %d", len(out), tasks)
	}
	var got, want int
	for i, v := range out {
		got += v
		want += fanWork(rounds, i)
	}
	if got != want {
		b.Fatalf("results do not add up")
	}
}

// blockingBench runs run b.N times; run must execute tasks tasks of
// time.Sleep(d), at most limit at a time, task i returning i, and return
// the results in input order (or nil for libraries that have none to give).
// Peak memory is sampled throughout.
func blockingBench(b *testing.B, tasks, limit int, d time.Duration, run func(tasks, limit int, d time.Duration) []int) {
	pm := newPeakMem()
	pm.start()
	pt := startPerTask(b)
	var out []int
	for range b.N {
		out = run(tasks, limit, d)
	}
	pt.report(tasks)
	b.ReportMetric(float64(pm.end()), PeakHeap)
	if out != nil { // any order: some libraries collect in completion order
		sum := 0
		for _, v := range out {
			sum += v
		}
		if len(out) != tasks || sum != tasks*(tasks-1)/2 {
			b.Fatalf("bad results: len %d", len(out))
		}
	}
}

func blocking1k(b *testing.B, run func(tasks, limit int, d time.Duration) []int) {
	blockingBench(b, Sizes.BlockTasks, Sizes.BlockLimit, Sizes.BlockSleep, run)
}

func blockingAnts(b *testing.B, run func(tasks, limit int, d time.Duration) []int) {
	blockingBench(b, Sizes.AntsTasks, Sizes.AntsLimit, Sizes.AntsSleep, run)
}

// speedupBench times run (n tasks of spin(rounds), in parallel, results in
// order) and, with the timer stopped, the same work done serially on the
// calling goroutine, and reports serial/parallel as "speedup".
func speedupBench(b *testing.B, run func(n, rounds int) []uint64) {
	n := Sizes.CPUTasksPerP * runtime.GOMAXPROCS(0)
	rounds := spinRounds(Sizes.CPUWork)
	b.ReportAllocs()
	var serial, parallel time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		t0 := time.Now()
		for i := range n {
			sink.Add(spin(rounds, uint64(i)))
		}
		serial += time.Since(t0)
		b.StartTimer()
		t1 := time.Now()
		out := run(n, rounds)
		parallel += time.Since(t1)
		if len(out) != n || out[n-1] != spin(rounds, uint64(n-1)) {
			b.Fatalf("bad results")
		}
	}
	b.ReportMetric(float64(serial)/float64(parallel), Speedup)
}

// startupBench times once (create a pool of GOMAXPROCS workers, run one
// no-op task, return its result) and then, untimed, its teardown.
func startupBench(b *testing.B, once func(workers int) (result int, teardown func())) {
	w := runtime.GOMAXPROCS(0)
	s := newSamples(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := nowNs()
		v, teardown := once(w)
		s = append(s, nowNs()-t0)
		if v != 1 {
			b.Fatalf("result %d, want 1", v)
		}
		b.StopTimer()
		teardown()
		b.StartTimer()
	}
	b.StopTimer()
	s.report(b)
}

// queuedImpl is one library's side of the queued-memory workload.
type queuedImpl struct {
	// block occupies all workers workers with tasks that call
	// running.Done() and then wait for release.
	block func(workers int, release <-chan struct{}, running *sync.WaitGroup)
	// submit queues n no-op tasks (result 1), keeping what the library
	// gives back for each (its handle or result slot) in storage made by
	// the constructor, so that storage is not counted.
	submit func(n int)
	// drain waits, after release, for every task and stops the pool.
	drain func()
}

// queuedMemBench measures the live heap that n queued tasks hold.
func queuedMemBench(b *testing.B, newImpl func(n, workers int) queuedImpl) {
	n, w := Sizes.QueuedTasks, runtime.GOMAXPROCS(0)
	b.ReportAllocs()
	var bytes float64
	var submit time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		impl := newImpl(n, w)
		release := make(chan struct{})
		var running sync.WaitGroup
		running.Add(w)
		impl.block(w, release, &running)
		running.Wait()
		h0 := heapLive()
		b.StartTimer()
		t0 := time.Now()
		impl.submit(n)
		submit += time.Since(t0)
		b.StopTimer()
		h1 := heapLive()
		bytes += float64(int64(h1) - int64(h0))
		close(release)
		impl.drain()
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(bytes/float64(b.N)/float64(n), BPerTask)
	b.ReportMetric(float64(submit.Nanoseconds())/float64(b.N)/float64(n), NsPerTask)
}

// must panics on err: setup failures are bugs in the benchmark.
func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("workloads: setup: %v", err))
	}
	return v
}

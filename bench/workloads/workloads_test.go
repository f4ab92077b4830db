package workloads

import "testing"

// One benchmark per workload, one sub-benchmark per implementation:
//
//	go test -run '^$' -bench . -benchtime=1x ./...   (what CI runs)
//	go test -run '^$' -bench 'FanOut/vela' ./workloads

func run(b *testing.B, id string) {
	w := Get(id)
	for _, impl := range w.Impls {
		b.Run(impl.Name(), impl.Bench)
	}
}

func BenchmarkRoundTrip(b *testing.B)       { run(b, "RoundTrip") }
func BenchmarkFanOut(b *testing.B)          { run(b, "FanOut") }
func BenchmarkBlocking(b *testing.B)        { run(b, "Blocking") }
func BenchmarkBlockingAnts(b *testing.B)    { run(b, "BlockingAnts") }
func BenchmarkCPUSpeedup(b *testing.B)      { run(b, "CPUSpeedup") }
func BenchmarkCancelRunning(b *testing.B)   { run(b, "CancelRunning") }
func BenchmarkCancelQueued(b *testing.B)    { run(b, "CancelQueued") }
func BenchmarkTimeoutLateness(b *testing.B) { run(b, "TimeoutLateness") }
func BenchmarkPoolStartup(b *testing.B)     { run(b, "PoolStartup") }
func BenchmarkQueuedMemory(b *testing.B)    { run(b, "QueuedMemory") }
func BenchmarkLoopHandoff(b *testing.B)     { run(b, "LoopHandoff") }
func BenchmarkLoopPost(b *testing.B)        { run(b, "LoopPost") }
func BenchmarkBigBatch(b *testing.B)        { run(b, "BigBatch") }
func BenchmarkBatchCancel(b *testing.B)     { run(b, "BatchCancel") }

// TestRegistry checks that every workload has this library's implementation
// and that every other library either has one or says why not.
func TestRegistry(t *testing.T) {
	for _, w := range All {
		has := map[string]bool{}
		for _, impl := range w.Impls {
			has[impl.Lib] = true
		}
		if !has[Vela] {
			t.Errorf("%s: no vela implementation", w.ID)
		}
		for _, lib := range Libraries {
			if !has[lib] && w.NA[lib] == "" {
				t.Errorf("%s: %s has neither an implementation nor an n/a reason", w.ID, lib)
			}
			if has[lib] && w.NA[lib] != "" {
				t.Errorf("%s: %s has both an implementation and an n/a reason", w.ID, lib)
			}
		}
	}
}

// Package workloads holds the benchmark workloads of issue 3, written once
// per library, so that the testing.B benchmarks (workloads_test.go) and the
// side-by-side command (cmd/compare) measure the very same code.
//
// Every implementation is a plain func(*testing.B): it does its setup, calls
// b.ResetTimer, runs b.N operations and reports its extra metrics with
// b.ReportMetric. The registry (All) says, for each workload, which library
// has which implementation and why a library has none ("n/a").
package workloads

import (
	"cmp"
	"slices"
	"testing"
	"time"
)

// Library names, in the order tables show them. Vela is this library.
const (
	Vela       = "vela"
	Reference  = "reference"
	Errgroup   = "errgroup"
	Conc       = "conc"
	Pond       = "pond"
	Ants       = "ants"
	Workerpool = "workerpool"
)

// Libraries lists every library in table order.
var Libraries = []string{Vela, Reference, Errgroup, Conc, Pond, Ants, Workerpool}

// LibraryModule is the module each library comes from (for version lines).
var LibraryModule = map[string]string{
	Vela:       "github.com/velalang/runtime",
	Errgroup:   "golang.org/x/sync",
	Conc:       "github.com/sourcegraph/conc",
	Pond:       "github.com/alitto/pond/v2",
	Ants:       "github.com/panjf2000/ants/v2",
	Workerpool: "github.com/gammazero/workerpool",
}

func libRank(lib string) int {
	if i := slices.Index(Libraries, lib); i >= 0 {
		return i
	}
	return len(Libraries)
}

// Metric keys. The testing package's own ones, then ours (ReportMetric units).
const (
	NsPerOp     = "ns/op"
	BytesPerOp  = "B/op"
	AllocsPerOp = "allocs/op"
	NsPerTask   = "ns/task"
	BPerTask    = "B/task"
	AllocsTask  = "allocs/task"
	P50         = "p50-ns"
	P99         = "p99-ns"
	PeakHeap    = "peak-heap-B"
	Speedup     = "speedup"
)

// Impl is one library's implementation of a workload.
type Impl struct {
	Lib     string // one of Libraries
	Variant string // how the library is used, e.g. "SpawnAll" or "result group"
	Bench   func(b *testing.B)
}

// Name is the sub-benchmark name: lib, or lib-variant.
func (i Impl) Name() string {
	if i.Variant == "" {
		return i.Lib
	}
	return i.Lib + "-" + i.Variant
}

// Workload is one row group of the list.
type Workload struct {
	ID      string // stable key, also the testing.B name
	Number  string // "1", "3a", ... as in the issue
	Title   string
	Desc    string   // what is measured, one or two sentences
	Primary string   // metric the ratio column compares (lower is better)
	Metrics []string // columns shown, Primary first
	// BenchTime is the -test.benchtime the compare command uses for one
	// measurement ("1x" for heavy workloads).
	BenchTime string
	Impls     []Impl
	NA        map[string]string // library -> why it has no implementation
}

// Impl returns the implementation with the given name, or nil.
func (w *Workload) Impl(name string) *Impl {
	for i := range w.Impls {
		if w.Impls[i].Name() == name {
			return &w.Impls[i]
		}
	}
	return nil
}

// All is the registry, in the order. Each library's file adds its
// implementations and n/a reasons in an init function.
var All = []*Workload{
	{ID: "RoundTrip", Number: "1", Title: "Round trip",
		Desc:    "Spawn one no-op task and await its result, one at a time. Reference: `go func(){ ch <- v }(); <-ch`.",
		Primary: NsPerOp, Metrics: []string{NsPerOp, BytesPerOp, AllocsPerOp}, BenchTime: "300ms"},
	{ID: "FanOut", Number: "2", Title: "Fan-out",
		Desc:    "10,000 tasks of ~100 ns CPU each, submitted at once, results collected in input order, pool size GOMAXPROCS. Per task.",
		Primary: NsPerTask, Metrics: []string{NsPerTask, BPerTask, AllocsTask}, BenchTime: "300ms"},
	{ID: "Blocking", Number: "3a", Title: "Blocking, 10,000 × Sleep(1ms), limit 1,000",
		Desc:    "Wall time of the whole batch and peak heap (live heap objects plus goroutine stacks, above the idle baseline, sampled every 1ms).",
		Primary: NsPerOp, Metrics: []string{NsPerOp, PeakHeap, AllocsTask}, BenchTime: "200ms"},
	{ID: "BlockingAnts", Number: "3b", Title: "Blocking, ants-style: 100,000 × Sleep(10ms), limit 10,000",
		Desc:    "Wall time of the whole batch and peak heap, as in 3a.",
		Primary: NsPerOp, Metrics: []string{NsPerOp, PeakHeap, AllocsTask}, BenchTime: "1x"},
	{ID: "CPUSpeedup", Number: "4", Title: "CPU speedup",
		Desc:    "2 × GOMAXPROCS tasks of ~20 ms CPU each, pool size GOMAXPROCS: wall time, and speedup = the same work run serially (measured in the same iteration) / wall time.",
		Primary: NsPerOp, Metrics: []string{NsPerOp, Speedup}, BenchTime: "1x"},
	{ID: "CancelRunning", Number: "5a", Title: "Cancellation latency, running task",
		Desc:    "From Cancel() to Await returning, for a running task that watches its context.",
		Primary: P99, Metrics: []string{P50, P99, AllocsPerOp}, BenchTime: "200ms"},
	{ID: "CancelQueued", Number: "5b", Title: "Cancellation latency, queued task",
		Desc:    "From Cancel() to Await returning, for a task queued behind a busy worker.",
		Primary: P99, Metrics: []string{P50, P99, AllocsPerOp}, BenchTime: "200ms"},
	{ID: "TimeoutLateness", Number: "6", Title: "Timeout lateness",
		Desc:    "From the deadline (1 ms after Spawn) to Await returning, with a function that ignores its context.",
		Primary: P99, Metrics: []string{P50, P99, AllocsPerOp}, BenchTime: "300ms"},
	{ID: "PoolStartup", Number: "7", Title: "Pool startup",
		Desc:    "From creating a pool (size GOMAXPROCS) until the first task's result is in hand; tearing the pool down is not timed.",
		Primary: P50, Metrics: []string{P50, P99, BytesPerOp, AllocsPerOp}, BenchTime: "200ms"},
	{ID: "QueuedMemory", Number: "8", Title: "Memory per queued task",
		Desc:    "1,000,000 tasks waiting behind GOMAXPROCS busy workers: live heap bytes per waiting task after a GC (the caller's own slice of handles not counted), and submit time per task.",
		Primary: BPerTask, Metrics: []string{BPerTask, NsPerTask}, BenchTime: "1x"},
	{ID: "LoopHandoff", Number: "9a", Title: "Loop hand-off",
		Desc:    "From a worker's function returning to an `On` continuation running on a running Loop.",
		Primary: P99, Metrics: []string{P50, P99, AllocsPerOp}, BenchTime: "200ms"},
	{ID: "LoopPost", Number: "9b", Title: "Loop Post throughput",
		Desc:    "GOMAXPROCS goroutines Post callbacks to a running Loop; time per callback run.",
		Primary: NsPerOp, Metrics: []string{NsPerOp, BytesPerOp, AllocsPerOp}, BenchTime: "200ms"},
}

// Get returns the workload with the given ID, or nil.
func Get(id string) *Workload {
	for _, w := range All {
		if w.ID == id {
			return w
		}
	}
	return nil
}

// add registers an implementation; init functions call it.
func add(id, lib, variant string, fn func(b *testing.B)) {
	w := Get(id)
	if w == nil {
		panic("workloads: unknown workload " + id)
	}
	w.Impls = append(w.Impls, Impl{Lib: lib, Variant: variant, Bench: fn})
	slices.SortStableFunc(w.Impls, func(a, b Impl) int { return cmp.Compare(libRank(a.Lib), libRank(b.Lib)) })
}

// na records why a library has no implementation of a workload.
func na(id, lib, why string) {
	w := Get(id)
	if w == nil {
		panic("workloads: unknown workload " + id)
	}
	if w.NA == nil {
		w.NA = map[string]string{}
	}
	w.NA[lib] = why
}

// SizeConfig holds the sizes of the workloads. The compare command changes
// Sizes through its flags before running anything.
type SizeConfig struct {
	FanOutTasks  int           // 2: tasks per batch
	FanOutWork   time.Duration // 2: CPU per task
	BlockTasks   int           // 3a
	BlockLimit   int           // 3a
	BlockSleep   time.Duration // 3a
	AntsTasks    int           // 3b
	AntsLimit    int           // 3b
	AntsSleep    time.Duration // 3b
	CPUWork      time.Duration // 4: CPU per task
	CPUTasksPerP int           // 4: tasks per GOMAXPROCS
	Timeout      time.Duration // 6
	QueuedTasks  int           // 8
}

// DefaultSizes are the sizes.
func DefaultSizes() SizeConfig {
	return SizeConfig{
		FanOutTasks: 10_000, FanOutWork: 100 * time.Nanosecond,
		BlockTasks: 10_000, BlockLimit: 1_000, BlockSleep: time.Millisecond,
		AntsTasks: 100_000, AntsLimit: 10_000, AntsSleep: 10 * time.Millisecond,
		CPUWork: 20 * time.Millisecond, CPUTasksPerP: 2,
		Timeout:     time.Millisecond,
		QueuedTasks: 1_000_000,
	}
}

// Sizes is what the workloads use.
var Sizes = DefaultSizes()

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
	"fmt"
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
	Desc    func(s SizeConfig) string // what is measured, for the given sizes
	Primary string                    // metric the ratio column compares (lower is better)
	Metrics []string                  // columns shown, Primary first
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
		Desc: func(s SizeConfig) string {
			return "Spawn one no-op task and await its result, one at a time. Reference: `go func(){ ch <- v }(); <-ch`."
		},
		Primary: NsPerOp, Metrics: []string{NsPerOp, BytesPerOp, AllocsPerOp}, BenchTime: "100ms"},
	{ID: "FanOut", Number: "2", Title: "Fan-out",
		Desc: func(s SizeConfig) string {
			return fmt.Sprintf("%s tasks of ~%v CPU each, submitted at once, results collected in input order, pool size GOMAXPROCS. Figures per task.", n(s.FanOutTasks), s.FanOutWork)
		},
		Primary: NsPerTask, Metrics: []string{NsPerTask, BPerTask, AllocsTask}, BenchTime: "100ms"},
	{ID: "Blocking", Number: "3a", Title: "Blocking",
		Desc: func(s SizeConfig) string {
			return fmt.Sprintf("%s tasks of time.Sleep(%v), at most %s at a time: wall time of the whole batch, and peak heap (live heap objects plus goroutine stacks above the idle baseline, sampled every millisecond).", n(s.BlockTasks), s.BlockSleep, n(s.BlockLimit))
		},
		Primary: NsPerOp, Metrics: []string{NsPerOp, PeakHeap, AllocsTask}, BenchTime: "100ms"},
	{ID: "BlockingAnts", Number: "3b", Title: "Blocking, ants-style",
		Desc: func(s SizeConfig) string {
			return fmt.Sprintf("The ants-style run: %s tasks of time.Sleep(%v), at most %s at a time; figures as in 3a.", n(s.AntsTasks), s.AntsSleep, n(s.AntsLimit))
		},
		Primary: NsPerOp, Metrics: []string{NsPerOp, PeakHeap, AllocsTask}, BenchTime: "1x"},
	{ID: "CPUSpeedup", Number: "4", Title: "CPU speedup",
		Desc: func(s SizeConfig) string {
			return fmt.Sprintf("%d × GOMAXPROCS tasks of ~%v CPU each, pool size GOMAXPROCS: wall time, and speedup = the same work run serially (measured in the same iteration) / wall time.", s.CPUTasksPerP, s.CPUWork)
		},
		Primary: NsPerOp, Metrics: []string{NsPerOp, Speedup}, BenchTime: "1x"},
	{ID: "CancelRunning", Number: "5a", Title: "Cancellation latency, running task",
		Desc: func(s SizeConfig) string {
			return "From Cancel() to Await returning, for a running task that watches its context. Reference: cancel() of a goroutine's context until its answer is received."
		},
		Primary: P99, Metrics: []string{P50, P99, AllocsPerOp}, BenchTime: "100ms"},
	{ID: "CancelQueued", Number: "5b", Title: "Cancellation latency, queued task",
		Desc: func(s SizeConfig) string {
			return "From Cancel() to Await returning, for a task queued behind a busy worker."
		},
		Primary: P99, Metrics: []string{P50, P99, AllocsPerOp}, BenchTime: "100ms"},
	{ID: "TimeoutLateness", Number: "6", Title: "Timeout lateness",
		Desc: func(s SizeConfig) string {
			return fmt.Sprintf("From the deadline (%v after Spawn) to Await returning, with a function that ignores its context. Reference: select on a goroutine's answer and a context.WithTimeout.", s.Timeout)
		},
		Primary: P99, Metrics: []string{P50, P99, AllocsPerOp}, BenchTime: "100ms"},
	{ID: "PoolStartup", Number: "7", Title: "Pool startup",
		Desc: func(s SizeConfig) string {
			return "From creating a pool (size GOMAXPROCS) until the first task's result is in hand; tearing the pool down is not timed."
		},
		Primary: P50, Metrics: []string{P50, P99, BytesPerOp, AllocsPerOp}, BenchTime: "300x"},
	{ID: "QueuedMemory", Number: "8", Title: "Memory per queued task",
		Desc: func(s SizeConfig) string {
			return fmt.Sprintf("%s no-op tasks waiting behind GOMAXPROCS busy workers: live heap bytes per waiting task after a GC (the caller's own slice of handles or result slots is not counted), and submit time per task.", n(s.QueuedTasks))
		},
		Primary: BPerTask, Metrics: []string{BPerTask, NsPerTask}, BenchTime: "1x"},
	{ID: "LoopHandoff", Number: "9a", Title: "Loop hand-off",
		Desc: func(s SizeConfig) string {
			return "From a worker's function returning to an `On` continuation running on a running Loop. Reference: a goroutine sending on a channel to a running consumer goroutine."
		},
		Primary: P99, Metrics: []string{P50, P99, AllocsPerOp}, BenchTime: "100ms"},
	{ID: "LoopPost", Number: "9b", Title: "Loop Post throughput",
		Desc: func(s SizeConfig) string {
			return "GOMAXPROCS goroutines Post callbacks to a running Loop; time per callback run. Reference: a buffered `chan func()` drained by one goroutine."
		},
		Primary: NsPerOp, Metrics: []string{NsPerOp, BytesPerOp, AllocsPerOp}, BenchTime: "100ms"},
	{ID: "BigBatch", Number: "10", Title: "One big batch",
		Desc: func(s SizeConfig) string {
			return fmt.Sprintf("%s no-op functions (task i returns i), at most GOMAXPROCS at a time, results in input order, under a cancellable parent context. Figures per task; peak heap above the baseline taken after the input slice was built, minus the 8 B per task of the result slice.", n(s.BigTasks))
		},
		Primary: NsPerTask, Metrics: []string{NsPerTask, PeakHeap, AllocsTask}, BenchTime: "1x"},
	{ID: "BatchCancel", Number: "11", Title: "Cancelling a big batch",
		Desc: func(s SizeConfig) string {
			return fmt.Sprintf("A batch of %s functions that wait for their context, at most GOMAXPROCS at a time; once GOMAXPROCS of them run, the parent context is cancelled (or the batch's future, where named). Latency from cancel() returning to the caller holding the batch's answer; `late-runs` counts functions started after cancel() returned.", n(s.CancelBatchTasks))
		},
		Primary: P99, Metrics: []string{P50, P99, LateRuns}, BenchTime: "20x"},
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
	FanOutTasks      int           // 2: tasks per batch
	FanOutWork       time.Duration // 2: CPU per task
	BlockTasks       int           // 3a
	BlockLimit       int           // 3a
	BlockSleep       time.Duration // 3a
	AntsTasks        int           // 3b
	AntsLimit        int           // 3b
	AntsSleep        time.Duration // 3b
	CPUWork          time.Duration // 4: CPU per task
	CPUTasksPerP     int           // 4: tasks per GOMAXPROCS
	Timeout          time.Duration // 6
	QueuedTasks      int           // 8
	BigTasks         int           // 10
	CancelBatchTasks int           // 11
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
		BigTasks:    1_000_000, CancelBatchTasks: 100_000,
	}
}

// Sizes is what the workloads use.
var Sizes = DefaultSizes()

// n formats a count with thousands separators.
func n(v int) string {
	s := fmt.Sprint(v)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

package workloads

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alitto/pond/v2"
	"github.com/sourcegraph/conc/pool"
	"golang.org/x/sync/errgroup"

	"github.com/velalang/runtime/workers"
)

// The batch workloads: one very large batch of no-op functions (its cost
// per task and the memory it holds), and the cancellation of a large batch
// (how soon the caller gets its answer, and whether queued functions still
// run). Every library gets the same input: a slice of functions of the
// Worker API's shape, built before the clock and the memory baseline start,
// and a parent context that can be cancelled.

func init() {
	add("BigBatch", Vela, "SpawnAll", func(b *testing.B) { bigBatchBench(b, velaBigBatch) })
	add("BigBatch", Vela, "SpawnAll, context.Background", func(b *testing.B) { bigBatchBench(b, velaBigBatchBackground) })
	add("BigBatch", Vela, "SpawnAll, WithTimeout", func(b *testing.B) { bigBatchBench(b, velaBigBatch, workers.WithTimeout(time.Minute)) })
	add("BigBatch", Vela, "SpawnAll, WithRunTimeout", func(b *testing.B) { bigBatchBench(b, velaBigBatch, workers.WithRunTimeout(time.Minute)) })
	add("BigBatch", Errgroup, "WithContext+SetLimit", func(b *testing.B) { bigBatchBench(b, egBigBatch) })
	add("BigBatch", Conc, "ContextPool", func(b *testing.B) { bigBatchBench(b, concBigBatch) })
	add("BigBatch", Pond, "result-group", func(b *testing.B) { bigBatchBench(b, pondBigBatch) })

	add("BatchCancel", Vela, "parent cancel", func(b *testing.B) { batchCancelBench(b, velaBatchCancel(false)) })
	add("BatchCancel", Vela, "Future.Cancel", func(b *testing.B) { batchCancelBench(b, velaBatchCancel(true)) })
	add("BatchCancel", Errgroup, "WithContext+SetLimit", func(b *testing.B) { batchCancelBench(b, egBatchCancel) })
	add("BatchCancel", Conc, "ContextPool", func(b *testing.B) { batchCancelBench(b, concBatchCancel) })
	for _, id := range []string{"BigBatch", "BatchCancel"} {
		na(id, Reference, "a bounded batch is what the libraries are for; errgroup is the standard one")
		na(id, Ants, "no result collection or context: a batch is hand-written around Submit")
		na(id, Workerpool, "no result collection or context: a batch is hand-written around Submit")
	}
	na("BatchCancel", Pond, "a group's Wait waits for every submitted task, so the cancel latency is the batch's run time")
}

// LateRuns is the metric of functions started after the batch was cancelled.
const LateRuns = "late-runs"

// batchFn is the input every library gets.
type batchFn = func(context.Context) (int, error)

// bigBatchBench runs run b.N times over Sizes.BigTasks no-op functions.
func bigBatchBench(b *testing.B, run func(ctx context.Context, fns []batchFn, opts ...workers.Option) []int, opts ...workers.Option) {
	tasks := Sizes.BigTasks
	fns := make([]batchFn, tasks)
	for i := range fns {
		fns[i] = func(context.Context) (int, error) { return i, nil }
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pm := newPeakMem()
	pm.start()
	pt := startPerTask(b)
	var out []int
	for range b.N {
		out = run(ctx, fns, opts...)
	}
	pt.report(tasks)
	peak := int64(pm.end()) - int64(8*tasks)
	b.ReportMetric(float64(max(peak, 0)), PeakHeap)
	if len(out) != tasks || out[0] != 0 || out[tasks/2] != tasks/2 || out[tasks-1] != tasks-1 {
		b.Fatalf("bad results (len %d)", len(out))
	}
}

func velaBigBatch(ctx context.Context, fns []batchFn, opts ...workers.Option) []int {
	p := velaPool(workers.Config{MaxWorkers: gomaxprocs()})
	defer velaStop(p)
	out, err := workers.SpawnAll(ctx, fns, append(opts, workers.OnPool(p))...).Await(ctx)
	if err != nil {
		panic(err)
	}
	return out
}

// velaBigBatchBackground is velaBigBatch under context.Background, which
// can never end, for the cost of a cancellable parent beside it.
func velaBigBatchBackground(_ context.Context, fns []batchFn, opts ...workers.Option) []int {
	return velaBigBatch(context.Background(), fns, opts...)
}

func egBigBatch(ctx context.Context, fns []batchFn, _ ...workers.Option) []int {
	out := make([]int, len(fns))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(gomaxprocs())
	for i, fn := range fns {
		g.Go(func() (err error) { out[i], err = fn(gctx); return err })
	}
	if err := g.Wait(); err != nil {
		panic(err)
	}
	return out
}

func concBigBatch(ctx context.Context, fns []batchFn, _ ...workers.Option) []int {
	out := make([]int, len(fns))
	p := pool.New().WithContext(ctx).WithCancelOnError().WithMaxGoroutines(gomaxprocs())
	for i, fn := range fns {
		p.Go(func(ctx context.Context) (err error) { out[i], err = fn(ctx); return err })
	}
	if err := p.Wait(); err != nil {
		panic(err)
	}
	return out
}

func pondBigBatch(ctx context.Context, fns []batchFn, _ ...workers.Option) []int {
	p := pond.NewResultPool[int](gomaxprocs(), pond.WithContext(ctx))
	defer p.StopAndWait()
	g := p.NewGroupContext(ctx)
	for _, fn := range fns {
		g.SubmitErr(func() (int, error) { return fn(ctx) })
	}
	out, err := g.Wait()
	if err != nil {
		panic(err)
	}
	return out
}

// batchRun is one library's cancellable batch: start submits fns under ctx
// (returning at once, whatever the library's submission does) and returns
// stop, which cancels the batch the library's way, wait, which returns when
// the caller holds the batch's answer, and teardown, which releases what
// start made (not timed).
type batchRun func(ctx context.Context, cancel context.CancelFunc, fns []batchFn) (stop, wait, teardown func())

// batchCancelBench measures, b.N times, the latency from stop() returning
// to wait() returning, for a batch of Sizes.CancelBatchTasks functions that
// wait for their context, cancelled once GOMAXPROCS of them run.
func batchCancelBench(b *testing.B, start batchRun) {
	tasks, w := Sizes.CancelBatchTasks, gomaxprocs()
	s := newSamples(b)
	var late atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		var cancelled atomic.Bool
		running := make(chan struct{}, w)
		fns := make([]batchFn, tasks)
		for i := range fns {
			fns[i] = func(ctx context.Context) (int, error) {
				if cancelled.Load() {
					late.Add(1)
				}
				select {
				case running <- struct{}{}:
				default:
				}
				<-ctx.Done()
				return i, ctx.Err()
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		stop, wait, teardown := start(ctx, cancel, fns)
		for range w {
			<-running
		}
		b.StartTimer()
		stop()
		cancelled.Store(true)
		t0 := nowNs()
		wait()
		s = append(s, nowNs()-t0)
		b.StopTimer()
		teardown()
		cancel()
		b.StartTimer()
	}
	b.StopTimer()
	s.report(b)
	b.ReportMetric(float64(late.Load())/float64(b.N), LateRuns)
}

func velaBatchCancel(futureCancel bool) batchRun {
	return func(ctx context.Context, cancel context.CancelFunc, fns []batchFn) (func(), func(), func()) {
		p := velaPool(workers.Config{MaxWorkers: gomaxprocs()})
		f := workers.SpawnAll(ctx, fns, workers.OnPool(p))
		stop := cancel
		if futureCancel {
			stop = func() { f.Cancel() }
		}
		return stop, func() {
			if _, err := f.Await(context.Background()); err == nil {
				panic("workloads: a cancelled batch succeeded")
			}
		}, func() { velaStop(p) }
	}
}

func egBatchCancel(ctx context.Context, cancel context.CancelFunc, fns []batchFn) (func(), func(), func()) {
	done := make(chan error, 1)
	go func() {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(gomaxprocs())
		for _, fn := range fns {
			g.Go(func() error { _, err := fn(gctx); return err })
		}
		done <- g.Wait()
	}()
	return cancel, func() {
		if <-done == nil {
			panic("workloads: a cancelled batch succeeded")
		}
	}, func() {}
}

func concBatchCancel(ctx context.Context, cancel context.CancelFunc, fns []batchFn) (func(), func(), func()) {
	done := make(chan error, 1)
	go func() {
		p := pool.New().WithContext(ctx).WithCancelOnError().WithMaxGoroutines(gomaxprocs())
		for _, fn := range fns {
			p.Go(func(ctx context.Context) error { _, err := fn(ctx); return err })
		}
		done <- p.Wait()
	}()
	return cancel, func() {
		if <-done == nil {
			panic("workloads: a cancelled batch succeeded")
		}
	}, func() {}
}

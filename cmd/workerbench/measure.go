package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// A step is one measurement: it fills one row of the table.
type step struct {
	id   string
	what func(config) string // what it does, for the progress line
	run  func(config, *row) error
}

var steps = []step{
	{"spawn", func(c config) string { return fmt.Sprintf("%d × Spawn+Await of a no-op", c.N) }, measureSpawn},
	{"throughput", func(c config) string {
		return fmt.Sprintf("%d batches of %d tiny tasks", c.Rounds, c.Tasks)
	}, measureThroughput},
	{"cancel_running", func(c config) string { return fmt.Sprintf("%d running tasks cancelled", c.N) }, measureCancelRunning},
	{"cancel_queued", func(c config) string { return fmt.Sprintf("%d queued tasks cancelled", c.N) }, measureCancelQueued},
	{"startup", func(c config) string { return fmt.Sprintf("%d × NewPool until a first result", c.StartupSamples) }, measureStartup},
	{"timeout", func(c config) string {
		return fmt.Sprintf("%d tasks ignoring ctx, WithTimeout(%v)", c.TimeoutSamples, c.Timeout)
	}, measureTimeout},
	{"speedup", func(c config) string {
		return fmt.Sprintf("%d rounds of %d tasks × %d ms CPU, serial, pool, goroutines", c.Rounds, 2*runtime.GOMAXPROCS(0), c.CPUMs)
	}, measureSpeedup},
	{"loop_lateness", func(c config) string {
		return fmt.Sprintf("%d ticks of a %v Loop.AfterFunc ticker beside a saturated pool", c.Ticks, loopTick)
	}, measureLoopLateness},
	{"chan_throughput", func(c config) string {
		return fmt.Sprintf("%d rounds of %d ints from a worker through a channel of capacity 64", c.Rounds, c.Tasks)
	}, measureChanThroughput},
	{"chan_latency", func(c config) string {
		return fmt.Sprintf("%d values sent to an idle loop's OnEach, one at a time", c.N)
	}, measureChanLatency},
}

// measureAll runs every step in order, writing one progress line per step
// to progress, and returns the results.
func measureAll(cfg config, progress io.Writer) (*results, error) {
	res := &results{Machine: thisMachine(), Config: cfg}
	fmt.Fprintf(progress, "workerbench: %s\n", res.Machine)
	t0 := time.Now()
	for i, s := range steps {
		r := newRow(s.id)
		fmt.Fprintf(progress, "[%d/%d] %s: %s … ", i+1, len(steps), r.Metric, s.what(cfg))
		runtime.GC() // start each step without the previous one's garbage
		st := time.Now()
		if err := s.run(cfg, &r); err != nil {
			fmt.Fprintln(progress, "failed")
			return nil, fmt.Errorf("%s: %w", r.Metric, err)
		}
		r.judge()
		fmt.Fprintf(progress, "%s (%.1f s)\n", r.measured(), time.Since(st).Seconds())
		for _, p := range r.Problems {
			fmt.Fprintf(progress, "      PROBLEM: %s\n", p)
		}
		res.Rows = append(res.Rows, r)
	}
	res.Seconds = time.Since(t0).Seconds()
	return res, nil
}

func noop(context.Context) (int, error) { return 1, nil }

// newPool makes a pool; cfg is always valid here.
func newPool(cfg workers.Config) *workers.Pool {
	p, err := workers.NewPool(cfg)
	if err != nil {
		panic(err)
	}
	return p
}

// shutdown waits for p's goroutines to exit, as a program should before it
// reports.
func shutdown(p *workers.Pool) error {
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		return fmt.Errorf("pool shutdown: %w", err)
	}
	return nil
}

// measureSpawn: Spawn and Await a no-op on the default pool, one at a time,
// exactly as a newcomer writes it.
func measureSpawn(cfg config, r *row) error {
	for range min(cfg.N/10+1, 1000) { // warm up
		if _, err := workers.Spawn(bg, noop).Await(bg); err != nil {
			return err
		}
	}
	ds := make([]time.Duration, cfg.N)
	sum := 0
	for i := range ds {
		t0 := time.Now()
		v, err := workers.Spawn(bg, noop).Await(bg)
		ds[i] = time.Since(t0)
		if err != nil {
			return err
		}
		sum += v
	}
	if sum != cfg.N {
		return fmt.Errorf("lost results: %d of %d", sum, cfg.N)
	}
	r.Samples = cfg.N
	r.P50, r.P99 = p50p99(ds)
	return nil
}

// tiny is the work of a throughput task: a 64-step LCG, about 0.1 µs.
func tiny(x uint64) uint64 {
	for range 64 {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

// measureThroughput: a batch of tiny tasks submitted at once on a pool of
// GOMAXPROCS workers, every result awaited; tasks per second from the first
// Spawn to the last result, median over the rounds.
func measureThroughput(cfg config, r *row) error {
	p := newPool(workers.Config{})
	on := workers.OnPool(p)
	fns := make([]func(context.Context) (uint64, error), cfg.Tasks)
	var want uint64
	for i := range fns {
		fns[i] = func(context.Context) (uint64, error) { return tiny(uint64(i)), nil }
		want += tiny(uint64(i))
	}
	futs := make([]*async.Future[uint64], cfg.Tasks)
	batch := func(n int) (time.Duration, error) {
		var sum uint64
		t0 := time.Now()
		for i := range n {
			futs[i] = workers.Spawn(bg, fns[i], on)
		}
		for i := range n {
			v, err := futs[i].Await(bg)
			if err != nil {
				return 0, err
			}
			sum += v
		}
		d := time.Since(t0)
		if n == cfg.Tasks && sum != want {
			return 0, errors.New("wrong sum of results")
		}
		clear(futs)
		return d, nil
	}
	if _, err := batch(min(cfg.Tasks, 1000)); err != nil { // warm up
		return err
	}
	rates := make([]float64, cfg.Rounds)
	for i := range rates {
		runtime.GC()
		d, err := batch(cfg.Tasks)
		if err != nil {
			return err
		}
		rates[i] = float64(cfg.Tasks) / d.Seconds()
	}
	r.Samples = cfg.Rounds
	r.P50 = quantile(rates, 0.5)
	r.Note = fmt.Sprintf("%d tasks of ~0.1 µs on %d workers, best batch %s",
		cfg.Tasks, p.MaxWorkers(), fmtRate(rates[len(rates)-1]))
	return shutdown(p)
}

// measureCancelRunning: a running task that watches its context, a
// goroutine blocked in Await on it, then Cancel; the time until that Await
// returns, and until the function itself returns.
func measureCancelRunning(cfg config, r *row) error {
	p := newPool(workers.Config{})
	on := workers.OnPool(p)
	started, stopped := make(chan struct{}, 1), make(chan time.Time, 1)
	fn := func(ctx context.Context) (int, error) {
		started <- struct{}{}
		<-ctx.Done()
		stopped <- time.Now()
		return 0, ctx.Err()
	}
	ds, stops := make([]time.Duration, cfg.N), make([]time.Duration, cfg.N)
	for i := range ds {
		f := workers.Spawn(bg, fn, on)
		if _, err := within(started, "the task did not start"); err != nil {
			return err
		}
		t0, d, err := timeAwait(f, func() { f.Cancel() })
		if !errors.Is(err, async.ErrCancelled) {
			return fmt.Errorf("after Cancel, Await returned %v, want ErrCancelled", err)
		}
		t1, err := within(stopped, "the cancelled function did not see its context end")
		if err != nil {
			return err
		}
		ds[i], stops[i] = d, t1.Sub(t0)
	}
	// The same with the parent context cancelled instead: the future settles
	// on the goroutine of the parent's AfterFunc, after cancel() returns.
	parent := make([]time.Duration, cfg.N)
	for i := range parent {
		pctx, pcancel := context.WithCancel(bg)
		f := workers.Spawn(pctx, fn, on)
		if _, err := within(started, "the task did not start"); err != nil {
			pcancel()
			return err
		}
		var returned time.Time
		t0, d, err := timeAwait(f, func() { pcancel(); returned = time.Now() })
		if !errors.Is(err, async.ErrCancelled) || !errors.Is(err, context.Canceled) {
			return fmt.Errorf("after the parent's cancel, Await returned %v, want ErrCancelled and context.Canceled", err)
		}
		if _, err := within(stopped, "the function did not see its parent end"); err != nil {
			return err
		}
		parent[i] = max(t0.Add(d).Sub(returned), 0)
	}
	r.Samples = cfg.N
	r.P50, r.P99 = p50p99(ds)
	s50, s99 := p50p99(stops)
	c50, c99 := p50p99(parent)
	r.Extra = map[string]float64{"fn_return_p50_ns": s50, "fn_return_p99_ns": s99,
		"parent_cancel_p50_ns": c50, "parent_cancel_p99_ns": c99}
	r.Note = fmt.Sprintf("the cancelled function saw ctx.Done and returned p50 %s, p99 %s after Cancel; "+
		"with the parent context cancelled instead, Await returned p50 %s, p99 %s after cancel() returned",
		fmtNs(s50), fmtNs(s99), fmtNs(c50), fmtNs(c99))
	return shutdown(p)
}

// measureCancelQueued: one worker kept busy, a task waiting behind it with
// a goroutine blocked in Await on it, then Cancel; the time until that
// Await returns. A cancelled queued task must never run.
func measureCancelQueued(cfg config, r *row) error {
	p := newPool(workers.Config{MaxWorkers: 1})
	on := workers.OnPool(p)
	running, release := make(chan struct{}), make(chan struct{})
	blocker := workers.Spawn(bg, func(context.Context) (int, error) {
		close(running)
		<-release
		return 0, nil
	}, on)
	if _, err := within(running, "the blocking task did not start"); err != nil {
		return err
	}
	var ran atomic.Int64
	fn := func(context.Context) (int, error) { ran.Add(1); return 0, nil }
	ds := make([]time.Duration, cfg.N)
	for i := range ds {
		f := workers.Spawn(bg, fn, on)
		if q := p.QueuedCount(); q != 1 {
			close(release)
			return fmt.Errorf("QueuedCount = %d, want 1", q)
		}
		_, d, err := timeAwait(f, func() { f.Cancel() })
		if !errors.Is(err, async.ErrCancelled) {
			close(release)
			return fmt.Errorf("after Cancel, Await returned %v, want ErrCancelled", err)
		}
		ds[i] = d
	}
	close(release)
	if _, err := blocker.Await(bg); err != nil {
		return err
	}
	if err := shutdown(p); err != nil {
		return err
	}
	if n := ran.Load(); n != 0 {
		return fmt.Errorf("%d cancelled queued tasks ran", n)
	}
	r.Samples = cfg.N
	r.P50, r.P99 = p50p99(ds)
	return nil
}

// measureStartup: NewPool, Spawn a no-op on it and Await the result, with
// a fresh pool each time (shut down after the clock stops).
func measureStartup(cfg config, r *row) error {
	ds := make([]time.Duration, cfg.StartupSamples)
	for i := range ds {
		t0 := time.Now()
		p, err := workers.NewPool(workers.Config{})
		if err != nil {
			return err
		}
		_, err = workers.Spawn(bg, noop, workers.OnPool(p)).Await(bg)
		ds[i] = time.Since(t0)
		if err != nil {
			return err
		}
		if err := shutdown(p); err != nil {
			return err
		}
	}
	r.Samples = cfg.StartupSamples
	r.P50, r.P99 = p50p99(ds)
	return nil
}

// measureTimeout: a task that ignores its context and overruns its
// timeout; lateness is from the deadline (Spawn time plus the timeout, taken
// just before Spawn) to Await returning, one task at a time. The pool has spare workers, so no
// task waits in the queue behind the functions still overrunning. A future
// that the late result fulfilled instead of the timeout is a missed
// timeout: it counts with its lateness and fails the row.
func measureTimeout(cfg config, r *row) error {
	p := newPool(workers.Config{MaxWorkers: 64})
	on, limit := workers.OnPool(p), workers.WithTimeout(cfg.Timeout)
	overrun := cfg.Timeout + 2*time.Millisecond
	ds := make([]time.Duration, cfg.TimeoutSamples)
	missed := 0
	for i := range ds {
		// The deadline counts from Spawn. On a loaded machine a task may time
		// out before a worker gets to start it, and then it never runs, so
		// the deadline is taken here rather than from inside the function.
		deadline := time.Now().Add(cfg.Timeout)
		f := workers.Spawn(bg, func(ctx context.Context) (int, error) {
			time.Sleep(overrun) // ignores ctx
			return 1, nil
		}, on, limit)
		_, err := f.Await(bg)
		t1 := time.Now()
		switch {
		case errors.Is(err, workers.ErrTimeout):
		case err == nil:
			missed++
		default:
			return fmt.Errorf("after the timeout, Await returned %v, want ErrTimeout", err)
		}
		ds[i] = max(t1.Sub(deadline), 0)
	}
	if err := shutdown(p); err != nil {
		return err
	}
	r.Samples = cfg.TimeoutSamples
	r.P50, r.P99 = p50p99(ds) // sorts ds
	r.Extra = map[string]float64{"max_ns": float64(ds[len(ds)-1]), "missed": float64(missed)}
	r.Note = fmt.Sprintf("each function slept %v past a %v timeout; max lateness %s",
		overrun-cfg.Timeout, cfg.Timeout, fmtNs(r.Extra["max_ns"]))
	n := uint64(cfg.TimeoutSamples)
	// A task that timed out before it started never ran, so it is not Late.
	if st := p.Stats(); st.TimedOut+st.Completed != n || st.Late > st.TimedOut || st.Completed != uint64(missed) {
		r.problem(fmt.Sprintf("Stats disagree: TimedOut %d + Completed %d of %d, Late %d",
			st.TimedOut, st.Completed, n, st.Late))
	}
	if missed > 0 {
		r.problem(fmt.Sprintf("%d of %d timeouts missed: the function's result, returned at least %v "+
			"after the deadline, fulfilled the future instead of the *TimeoutError", missed, n, overrun-cfg.Timeout))
	}
	return nil
}

// loopTick is the period of the ticker of measureLoopLateness.
const loopTick = 10 * time.Millisecond

// measureLoopLateness: an event loop runs a 10 ms ticker (AfterFunc
// re-armed from its own callback) while a pool of GOMAXPROCS workers, the
// default size, is saturated with CPU-bound functions; lateness is how long
// after its due time each tick runs on the loop. The same is measured with
// one worker fewer, which leaves a core to the loop: the note gives it, and
// the README's sizing advice rests on it.
func measureLoopLateness(cfg config, r *row) error {
	procs := runtime.GOMAXPROCS(0)
	ds, err := tickerLateness(cfg.Ticks, procs)
	if err != nil {
		return err
	}
	r.Samples = cfg.Ticks
	r.P50, r.P99 = p50p99(ds)
	r.Note = fmt.Sprintf("%d workers spinning", procs)
	if procs > 1 {
		fewer, err := tickerLateness(cfg.Ticks, procs-1)
		if err != nil {
			return err
		}
		f50, f99 := p50p99(fewer)
		r.Extra = map[string]float64{"one_worker_fewer_p50_ns": f50, "one_worker_fewer_p99_ns": f99}
		r.Note += fmt.Sprintf("; with MaxWorkers = GOMAXPROCS-1 = %d: p50 %s, p99 %s", procs-1, fmtNs(f50), fmtNs(f99))
	}
	return nil
}

// tickerLateness saturates a pool of n workers with spinning functions and
// returns the lateness of ticks ticks of a loopTick ticker on a Loop.
func tickerLateness(ticks, n int) ([]time.Duration, error) {
	p := newPool(workers.Config{MaxWorkers: n})
	ctx, cancel := context.WithCancel(bg)
	spinning := make(chan struct{}, 2*n)
	fns := make([]func(context.Context) (uint64, error), 2*n)
	for i := range fns {
		fns[i] = func(ctx context.Context) (uint64, error) {
			spinning <- struct{}{}
			x := uint64(i)
			for ctx.Err() == nil {
				x = tiny(x)
			}
			return x, nil
		}
	}
	batch := workers.SpawnAll(ctx, fns, workers.OnPool(p))
	for range n { // every worker is busy before the first tick is armed
		if _, err := within(spinning, "the spinning functions did not start"); err != nil {
			cancel()
			return nil, err
		}
	}
	loop := async.NewLoop()
	ds := make([]time.Duration, 0, ticks)
	var tick func()
	due := time.Now().Add(loopTick)
	tick = func() {
		ds = append(ds, max(time.Since(due), 0))
		if len(ds) < ticks {
			due = time.Now().Add(loopTick)
			loop.AfterFunc(loopTick, tick)
		}
	}
	loop.AfterFunc(loopTick, tick)
	err := loop.Run(bg)
	loop.Close()
	cancel()
	if _, berr := batch.Await(bg); !errors.Is(berr, async.ErrCancelled) {
		return nil, fmt.Errorf("the spinning batch ended with %v, want ErrCancelled", berr)
	}
	if serr := shutdown(p); serr != nil {
		return nil, serr
	}
	if err != nil {
		return nil, fmt.Errorf("loop: %w", err)
	}
	return ds, nil
}

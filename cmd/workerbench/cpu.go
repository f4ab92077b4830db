package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/velalang/runtime/workers"
)

// collatzBase is where the speedup tasks' numbers start: far enough out
// that every task's numbers take about as many steps.
const collatzBase = 1_000_000_000

// collatz returns the total number of Collatz steps of the count numbers
// from start on: branchy integer work that the compiler can neither fold
// nor vectorise, and whose result the caller checks.
func collatz(start, count uint64) uint64 {
	var steps uint64
	for n := start; n < start+count; n++ {
		for x := n; x != 1; steps++ {
			if x&1 == 0 {
				x >>= 1
			} else {
				x = 3*x + 1
			}
		}
	}
	return steps
}

// calibrate returns how many numbers collatz takes about cpuMs milliseconds
// of CPU to go through, timed on the calling goroutine.
func calibrate(cpuMs int) (count uint64) {
	target := time.Duration(cpuMs) * time.Millisecond
	enough := min(target/2, 5*time.Millisecond)
	for count = 64; ; count *= 4 {
		t0 := time.Now()
		steps := collatz(collatzBase, count)
		d := time.Since(t0)
		if steps < count { // every number takes at least one step; this also keeps the work
			panic("workerbench: collatz is broken")
		}
		if d >= enough {
			return max(1, uint64(float64(count)*float64(target)/float64(d)))
		}
	}
}

// measureSpeedup: 2×GOMAXPROCS tasks of cfg.CPUMs of CPU each, run serially
// on this goroutine and as a SpawnAll batch on a pool of GOMAXPROCS workers;
// the speedup is the median over the rounds of serial time over pool time.
// Each round also runs the batch on plain goroutines, the physical
// reference: when the machine is busy, that speedup falls too, and the
// note tells the two apart. Every run must agree on the sum of the results.
func measureSpeedup(cfg config, r *row) error {
	count := calibrate(cfg.CPUMs)
	k := 2 * runtime.GOMAXPROCS(0)
	fns := make([]func(context.Context) (uint64, error), k)
	for i := range fns {
		start := collatzBase + uint64(i)*count
		fns[i] = func(context.Context) (uint64, error) { return collatz(start, count), nil }
	}
	p := newPool(workers.Config{})
	runs := [3]func() ([]uint64, error){
		func() ([]uint64, error) { // serial
			vs := make([]uint64, k)
			for i, fn := range fns {
				vs[i], _ = fn(bg)
			}
			return vs, nil
		},
		func() ([]uint64, error) { // the pool
			return workers.SpawnAll(bg, fns, workers.OnPool(p)).Await(bg)
		},
		func() ([]uint64, error) { // plain goroutines
			vs := make([]uint64, k)
			var wg sync.WaitGroup
			for i, fn := range fns {
				wg.Go(func() { vs[i], _ = fn(bg) })
			}
			wg.Wait()
			return vs, nil
		},
	}
	var times [3][]time.Duration
	speedups, refs := make([]float64, cfg.Rounds), make([]float64, cfg.Rounds)
	var checksum uint64
	have := false
	for i := range speedups {
		var d [3]time.Duration
		for j := range runs {
			j := (i + j) % len(runs) // rotate, so that no run always goes first
			t0 := time.Now()
			vs, err := runs[j]()
			d[j] = time.Since(t0)
			if err != nil {
				return err
			}
			var sum uint64
			for _, v := range vs {
				sum += v
			}
			if !have {
				checksum, have = sum, true
			} else if sum != checksum {
				return fmt.Errorf("results differ between runs: %d != %d", sum, checksum)
			}
			times[j] = append(times[j], d[j])
		}
		speedups[i] = float64(d[0]) / float64(d[1])
		refs[i] = float64(d[0]) / float64(d[2])
	}
	if err := shutdown(p); err != nil {
		return err
	}
	r.Samples = cfg.Rounds
	r.P50 = quantile(speedups, 0.5)
	r.Extra = map[string]float64{
		"serial_ns": float64(quantile(times[0], 0.5)), "pool_ns": float64(quantile(times[1], 0.5)),
		"goroutines_ns": float64(quantile(times[2], 0.5)), "goroutines_speedup": quantile(refs, 0.5),
		"tasks": float64(k), "collatz_steps": float64(checksum),
	}
	r.Note = fmt.Sprintf("%d tasks × %d ms of CPU (%d Collatz steps in all): serial %s, pool of %d %s, "+
		"plain goroutines %s (%s×), medians",
		k, cfg.CPUMs, checksum, fmtNs(r.Extra["serial_ns"]), p.MaxWorkers(), fmtNs(r.Extra["pool_ns"]),
		fmtNs(r.Extra["goroutines_ns"]), fmtFloat(r.Extra["goroutines_speedup"]))
	if r.Extra["goroutines_speedup"] < r.spec.limit {
		r.Note += "; plain goroutines miss the target too, so other work is taking this machine's cores"
	}
	return nil
}

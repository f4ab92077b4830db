package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/velalang/runtime/bench/workloads"
)

// measurement is one testing.Benchmark run: metric -> value. nil: it failed.
type measurement map[string]float64

// cell gathers every run of one implementation of one workload.
type cell struct {
	runs   []measurement
	ratios []float64 // per round: primary / vela's (mean of the runs just before and after)
	failed int
}

// results: workload ID -> implementation name -> cell.
type results map[string]map[string]*cell

func (r results) cell(w *workloads.Workload, impl *workloads.Impl) *cell {
	m := r[w.ID]
	if m == nil {
		m = map[string]*cell{}
		r[w.ID] = m
	}
	c := m[impl.Name()]
	if c == nil {
		c = &cell{}
		m[impl.Name()] = c
	}
	return c
}

// baseline is the vela implementation that ratios divide by: the first one.
func baseline(w *workloads.Workload) *workloads.Impl {
	for i := range w.Impls {
		if w.Impls[i].Lib == workloads.Vela {
			return &w.Impls[i]
		}
	}
	return nil
}

// others are the implementations, other than the baseline, to run.
func others(w *workloads.Workload, keep map[string]bool) []*workloads.Impl {
	base := baseline(w)
	var o []*workloads.Impl
	for i := range w.Impls {
		if impl := &w.Impls[i]; impl != base && keep[impl.Lib] {
			o = append(o, impl)
		}
	}
	return o
}

// run measures the plan: each round, for each workload, vela's baseline,
// then a peer, then the baseline again, then the next peer, ..., ending with
// the baseline; the order of the peers rotates from round to round.
func run(plan []*workloads.Workload, keep map[string]bool, rounds int, benchtime string) results {
	total := 0
	for _, w := range plan {
		total += rounds * (2*len(others(w, keep)) + 1)
	}
	res := results{}
	step, start := 0, time.Now()
	measure := func(round int, w *workloads.Workload, impl *workloads.Impl) measurement {
		bt := w.BenchTime
		if benchtime != "" && bt != "1x" {
			bt = benchtime
		}
		t0 := time.Now()
		m := benchmark(impl.Bench, bt)
		took := time.Since(t0)
		c := res.cell(w, impl)
		if m == nil {
			c.failed++
		} else {
			c.runs = append(c.runs, m)
		}
		step++
		eta := time.Duration(float64(time.Since(start)) / float64(step) * float64(total-step)).Round(time.Second)
		fmt.Fprintf(os.Stderr, "[%3d/%d, eta %v] round %d/%d  %-15s %-36s %-20s (%.1fs)\n",
			step, total, eta, round+1, rounds, w.ID, impl.Name(), short(w.Primary, m), took.Seconds())
		return m
	}
	for round := range rounds {
		for _, w := range plan {
			base := baseline(w)
			peers := others(w, keep)
			if len(peers) > 0 {
				k := round % len(peers)
				peers = append(peers[k:len(peers):len(peers)], peers[:k]...)
			}
			before := measure(round, w, base)
			for _, p := range peers {
				m := measure(round, w, p)
				after := measure(round, w, base)
				if m != nil && before != nil && after != nil {
					if b := (before[w.Primary] + after[w.Primary]) / 2; b > 0 {
						c := res.cell(w, p)
						c.ratios = append(c.ratios, m[w.Primary]/b)
					}
				}
				before = after
			}
		}
	}
	return res
}

// benchmark runs fn through testing.Benchmark with the given -benchtime.
func benchmark(fn func(*testing.B), benchtime string) measurement {
	if err := flag.Set("test.benchtime", benchtime); err != nil {
		fatalf("benchtime %q: %v", benchtime, err)
	}
	r := testing.Benchmark(fn)
	if r.N == 0 {
		return nil // the benchmark failed (b.Fatal) or was skipped
	}
	n := float64(r.N)
	m := measurement{
		workloads.NsPerOp:     float64(r.T.Nanoseconds()) / n,
		workloads.BytesPerOp:  float64(r.MemBytes) / n,
		workloads.AllocsPerOp: float64(r.MemAllocs) / n,
	}
	for k, v := range r.Extra {
		m[k] = v
	}
	return m
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medianOf is the median of one metric over c's runs; ok is false if no run
// reported it.
func (c *cell) medianOf(metric string) (float64, bool) {
	var xs []float64
	for _, m := range c.runs {
		if v, ok := m[metric]; ok {
			xs = append(xs, v)
		}
	}
	return median(xs), len(xs) > 0
}

func short(metric string, m measurement) string {
	if m == nil {
		return "FAILED"
	}
	return label(metric) + " " + format(metric, m[metric])
}

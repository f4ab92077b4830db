package main

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"time"

	"github.com/velalang/runtime/async"
)

// bg is the context of every Spawn and Await here: context.Background, the
// cheapest path, since nothing here needs to give up waiting.
var bg = context.Background()

// quantile returns the q-quantile (0 < q ≤ 1) of xs by the nearest-rank
// method: the smallest sample with at least q of the samples at or below it.
// It sorts xs.
func quantile[T int64 | float64 | time.Duration](xs []T, q float64) T {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	i := int(q*float64(len(xs))+0.999999999) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

// p50p99 returns the median and the 99th percentile of ds, in ns.
func p50p99(ds []time.Duration) (p50, p99 float64) {
	return float64(quantile(ds, 0.50)), float64(quantile(ds, 0.99))
}

// timeAwait measures the latency that a goroutine blocked in f.Await sees:
// it starts a waiter, gives it time to block, then calls trigger (a Cancel,
// say) and returns when trigger started and how long after that the
// waiter's Await returned, with the error Await returned.
func timeAwait[T any](f *async.Future[T], trigger func()) (start time.Time, d time.Duration, err error) {
	type woke struct {
		at  time.Time
		err error
	}
	ready, done := make(chan struct{}), make(chan woke, 1)
	go func() {
		close(ready)
		_, err := f.Await(bg)
		done <- woke{time.Now(), err}
	}()
	<-ready
	spin(20 * time.Microsecond) // the waiter parks in Await meanwhile
	start = time.Now()
	trigger()
	w, err := within(done, "Await did not return")
	if err != nil {
		return start, 0, err
	}
	return start, w.at.Sub(start), w.err
}

// spin yields the processor until d has passed: a pause far finer than
// time.Sleep, which lets another goroutine run and block.
func spin(d time.Duration) {
	for t0 := time.Now(); time.Since(t0) < d; {
		runtime.Gosched()
	}
}

// within receives from ch, or fails after 10 seconds with an error that
// says what did not happen: a stuck library fails the run instead of
// hanging it.
func within[T any](ch <-chan T, failure string) (T, error) {
	select {
	case v := <-ch:
		return v, nil
	case <-time.After(10 * time.Second):
		var zero T
		return zero, errors.New(failure + " within 10 s")
	}
}

package main

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/channel"
	"github.com/velalang/runtime/workers"
)

// measureChanThroughput: a worker sends cfg.Tasks ints through a channel
// of capacity 64 to a goroutine that receives them; messages per second,
// the median of cfg.Rounds rounds.
func measureChanThroughput(cfg config, r *row) error {
	p := newPool(workers.Config{MaxWorkers: 1})
	defer shutdown(p)
	ctx := context.Background()
	rates := make([]float64, 0, cfg.Rounds)
	for range cfg.Rounds {
		start := time.Now()
		rx := workers.Stream(ctx, func(ctx context.Context, out *channel.Sender[int]) error {
			for i := range cfg.Tasks {
				if err := out.Send(ctx, i); err != nil {
					return err
				}
			}
			return nil
		}, workers.OnPool(p))
		n := 0
		for v, err := range rx.All(ctx) {
			if err != nil {
				return err
			}
			if v != n {
				r.problem(fmt.Sprintf("received %d where %d was due", v, n))
			}
			n++
		}
		if n != cfg.Tasks {
			r.problem(fmt.Sprintf("received %d of %d values", n, cfg.Tasks))
		}
		rates = append(rates, float64(n)/time.Since(start).Seconds())
	}
	slices.Sort(rates)
	r.Samples = len(rates)
	r.P50 = quantile(rates, 0.5)
	r.P99 = quantile(rates, 0.99)
	return nil
}

// measureChanLatency: a worker sends cfg.N values, each once the loop's
// OnEach fn has seen the one before, so that every value finds the loop
// idle; the latency is from Send to fn.
func measureChanLatency(cfg config, r *row) error {
	p := newPool(workers.Config{MaxWorkers: 1})
	defer shutdown(p)
	ctx := context.Background()
	l := async.NewLoop()
	var seen atomic.Int64
	start := time.Now()
	rx := workers.Stream(ctx, func(ctx context.Context, out *channel.Sender[time.Duration]) error {
		for i := range cfg.N {
			for seen.Load() < int64(i) {
				runtime.Gosched()
			}
			if err := out.Send(ctx, time.Since(start)); err != nil {
				return err
			}
		}
		return nil
	}, workers.OnPool(p))
	lat := make([]time.Duration, 0, cfg.N)
	done := channel.OnEach(l, rx, func(sent time.Duration) {
		lat = append(lat, time.Since(start)-sent)
		seen.Add(1)
	})
	if err := l.Run(ctx); err != nil {
		return err
	}
	if _, err := done.Await(ctx); err != nil {
		return err
	}
	if len(lat) != cfg.N {
		r.problem(fmt.Sprintf("fn saw %d of %d values", len(lat), cfg.N))
	}
	r.Samples = len(lat)
	r.P50, r.P99 = p50p99(lat)
	return nil
}

package workers_test

import (
	"context"
	"testing"
	"time"

	"github.com/velalang/runtime/workers"
)

func noop(context.Context) (int, error) { return 1, nil }

// BenchmarkRoundTrip spawns one no-op task and awaits it, one at a time.
func BenchmarkRoundTrip(b *testing.B) { roundTrip(b, workers.Config{}) }

// BenchmarkRoundTripIdle is BenchmarkRoundTrip on a pool whose worker
// waits for the next task instead of exiting.
func BenchmarkRoundTripIdle(b *testing.B) { roundTrip(b, workers.Config{IdleTimeout: time.Second}) }

func roundTrip(b *testing.B, cfg workers.Config) {
	p, err := workers.NewPool(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	on := workers.OnPool(p)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := workers.Spawn(ctx, noop, on).Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
	_ = p.Shutdown(ctx)
}

// BenchmarkRoundTripReference is the physical floor: a goroutine and a
// channel per task.
func BenchmarkRoundTripReference(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ch := make(chan int, 1)
		go func() { ch <- 1 }()
		<-ch
	}
}

// BenchmarkFanOut submits 10,000 small tasks at once and awaits them all.
func BenchmarkFanOut(b *testing.B) {
	p, _ := workers.NewPool(workers.Config{})
	ctx := context.Background()
	on := workers.OnPool(p)
	fns := make([]func(context.Context) (int, error), 10000)
	for i := range fns {
		fns[i] = noop
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := workers.SpawnAll(ctx, fns, on).Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(fns)), "ns/task")
	_ = p.Shutdown(ctx)
}

// BenchmarkBatch1M submits one SpawnAll of a million no-op tasks and awaits
// it: the cost per task of the batch's cursor, claims and records.
func BenchmarkBatch1M(b *testing.B) {
	p, _ := workers.NewPool(workers.Config{})
	ctx := context.Background()
	on := workers.OnPool(p)
	fns := make([]func(context.Context) (int, error), 1_000_000)
	for i := range fns {
		fns[i] = noop
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := workers.SpawnAll(ctx, fns, on).Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(fns)), "ns/task")
	_ = p.Shutdown(ctx)
}

package channels

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smallnest/chanx"
	"github.com/sourcegraph/conc/stream"
	"golang.org/x/sync/errgroup"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/channel"
	"github.com/velalang/runtime/workers"
)

// One sender, one receiver: b.N ints through the channel.

func spscVela(b *testing.B, capacity int) {
	ctx := context.Background()
	tx, rx := channel.New[int](capacity)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := rx.Recv(ctx); err != nil {
				return
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		tx.Send(ctx, i)
	}
	tx.Close()
	<-done
}

func spscNative(b *testing.B, capacity int) {
	ch := make(chan int, capacity)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range ch {
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ch <- i
	}
	close(ch)
	<-done
}

func BenchmarkSPSC64(b *testing.B) {
	b.Run("vela", func(b *testing.B) { spscVela(b, 64) })
	b.Run("native", func(b *testing.B) { spscNative(b, 64) })
}

func BenchmarkRendezvous(b *testing.B) {
	b.Run("vela", func(b *testing.B) { spscVela(b, 0) })
	b.Run("native", func(b *testing.B) { spscNative(b, 0) })
}

// Four senders, four receivers, capacity 128: b.N values in all.

func BenchmarkMPMC4x4(b *testing.B) {
	const k = 4
	b.Run("vela", func(b *testing.B) {
		ctx := context.Background()
		tx, rx := channel.New[int](128)
		var wg sync.WaitGroup
		b.ReportAllocs()
		b.ResetTimer()
		for range k {
			r := rx.Clone()
			wg.Go(func() {
				for {
					if _, err := r.Recv(ctx); err != nil {
						return
					}
				}
			})
		}
		var senders sync.WaitGroup
		for s := range k {
			h := tx.Clone()
			senders.Go(func() {
				defer h.Close()
				for i := s; i < b.N; i += k {
					h.Send(ctx, i)
				}
			})
		}
		tx.Close()
		senders.Wait()
		wg.Wait()
	})
	b.Run("native", func(b *testing.B) {
		ch := make(chan int, 128)
		var wg sync.WaitGroup
		b.ReportAllocs()
		b.ResetTimer()
		for range k {
			wg.Go(func() {
				for range ch {
				}
			})
		}
		var senders sync.WaitGroup
		for s := range k {
			senders.Go(func() {
				for i := s; i < b.N; i += k {
					ch <- i
				}
			})
		}
		senders.Wait()
		close(ch)
		wg.Wait()
	})
}

// Unbounded: b.N values sent, then received; the heap in use after the
// drain (and a GC) is reported as drained-heap-B.

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func reportDrained(b *testing.B, before uint64, keep any) {
	after := heapInUse()
	runtime.KeepAlive(keep)
	d := int64(after) - int64(before)
	b.ReportMetric(float64(max(d, 0)), "drained-heap-B")
}

func BenchmarkUnbounded(b *testing.B) {
	b.Run("vela", func(b *testing.B) {
		ctx := context.Background()
		before := heapInUse()
		tx, rx := channel.New[int](channel.Unbounded)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			tx.Send(ctx, i)
		}
		for range b.N {
			rx.Recv(ctx)
		}
		b.StopTimer()
		reportDrained(b, before, rx)
	})
	b.Run("chanx", func(b *testing.B) {
		ctx := context.Background()
		before := heapInUse()
		ch := chanx.NewUnboundedChan[int](ctx, 64)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			ch.In <- i
		}
		for range b.N {
			<-ch.Out
		}
		b.StopTimer()
		reportDrained(b, before, ch)
		close(ch.In)
	})
	b.Run("mutex-slice", func(b *testing.B) {
		before := heapInUse()
		q := &sliceQueue{}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			q.push(i)
		}
		for range b.N {
			q.pop()
		}
		b.StopTimer()
		reportDrained(b, before, q)
	})
}

// sliceQueue is the queue Go code often writes by hand: a slice under a
// mutex, popped from the front.
type sliceQueue struct {
	mu sync.Mutex
	s  []int
}

func (q *sliceQueue) push(v int) {
	q.mu.Lock()
	q.s = append(q.s, v)
	q.mu.Unlock()
}

func (q *sliceQueue) pop() int {
	q.mu.Lock()
	v := q.s[0]
	q.s = q.s[1:]
	q.mu.Unlock()
	return v
}

// A worker streaming into the loop through OnEach: values per second, and
// the latency from Send to fn (p50, p99) measured on every 64th value.

func BenchmarkStreamToLoop(b *testing.B) {
	ctx := context.Background()
	l := async.NewLoop()
	var lat []time.Duration
	n := b.N
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	rx := workers.Stream(ctx, func(ctx context.Context, out *channel.Sender[int64]) error {
		for i := range n {
			var v int64
			if i%64 == 0 {
				v = time.Since(start).Nanoseconds()
			}
			if err := out.Send(ctx, v); err != nil {
				return err
			}
		}
		return nil
	}, workers.WithBuffer(1024))
	i := 0
	channel.OnEach(l, rx, func(v int64) {
		if i%64 == 0 {
			lat = append(lat, time.Since(start)-time.Duration(v))
		}
		i++
	})
	if err := l.Run(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if i != n {
		b.Fatalf("fn saw %d values, want %d", i, n)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "values/s")
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// Map over 100k values with a function of about 1µs, in input order,
// against a hand-written errgroup pipeline and conc's stream.

const mapValues = 100_000

func spin(v int) int {
	// about a microsecond of arithmetic
	x := v
	for range 300 {
		x = x*1664525 + 1013904223
	}
	return x
}

func BenchmarkMap(b *testing.B) {
	ctx := context.Background()
	b.Run("vela", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			in := channel.FromSeq(ctx, func(yield func(int) bool) {
				for i := range mapValues {
					if !yield(i) {
						return
					}
				}
			}, 64)
			out := workers.Map(ctx, in, func(_ context.Context, v int) (int, error) { return spin(v), nil })
			n := 0
			for _, err := range out.All(ctx) {
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != mapValues {
				b.Fatalf("%d results", n)
			}
		}
	})
	b.Run("errgroup", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if n := errgroupPipeline(ctx); n != mapValues {
				b.Fatalf("%d results", n)
			}
		}
	})
	b.Run("conc-stream", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			s := stream.New().WithMaxGoroutines(runtime.GOMAXPROCS(0))
			n := 0
			for i := range mapValues {
				s.Go(func() stream.Callback {
					r := spin(i)
					return func() { _ = r; n++ }
				})
			}
			s.Wait()
			if n != mapValues {
				b.Fatalf("%d results", n)
			}
		}
	})
}

// errgroupPipeline is the ordered pipeline written by hand with errgroup:
// a producer, GOMAXPROCS workers writing results into slots of a window,
// and the consumer reading them in order. It returns how many results the
// consumer read.
func errgroupPipeline(ctx context.Context) int {
	workers := runtime.GOMAXPROCS(0)
	type job struct {
		v   int
		res chan int
	}
	g, ctx := errgroup.WithContext(ctx)
	jobs := make(chan job, workers)
	order := make(chan chan int, workers)
	g.Go(func() error {
		defer close(jobs)
		defer close(order)
		for i := range mapValues {
			j := job{i, make(chan int, 1)}
			select {
			case order <- j.res:
			case <-ctx.Done():
				return ctx.Err()
			}
			jobs <- j
		}
		return nil
	})
	for range workers {
		g.Go(func() error {
			for j := range jobs {
				j.res <- spin(j.v)
			}
			return nil
		})
	}
	n := 0
	for res := range order {
		<-res
		n++
	}
	g.Wait()
	return n
}

// The latency from Send to fn when the loop is idle: the producer sends
// the next value only once fn has seen the previous one, so every value
// wakes the loop.
func BenchmarkSendToLoopLatency(b *testing.B) {
	ctx := context.Background()
	l := async.NewLoop()
	tx, rx := channel.New[int64](64)
	var seen atomic.Int64
	lat := make([]time.Duration, 0, b.N)
	start := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		defer tx.Close()
		for i := range b.N {
			for seen.Load() < int64(i) {
				runtime.Gosched()
			}
			tx.Send(ctx, time.Since(start).Nanoseconds())
		}
	}()
	channel.OnEach(l, rx, func(v int64) {
		lat = append(lat, time.Since(start)-time.Duration(v))
		seen.Add(1)
	})
	if err := l.Run(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

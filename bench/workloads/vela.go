package workloads

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// This library: a Pool, Spawn returning an *async.Future per task (Await,
// Cancel), SpawnAll for a batch with results in input order, WithTimeout,
// and async.Loop with On and Post.

func init() {
	add("RoundTrip", Vela, "Spawn+Await", func(b *testing.B) { velaRoundTrip(b, 0) })
	add("RoundTrip", Vela, "Spawn+Await, IdleTimeout", func(b *testing.B) { velaRoundTrip(b, velaIdle) })
	add("RoundTrip", Vela, "Spawn+Await, cancellable ctx", func(b *testing.B) { velaRoundTripWith(b, true) })
	add("RoundTrip", Vela, "Spawn+Await, WithTimeout", func(b *testing.B) { velaRoundTripWith(b, false, workers.WithTimeout(time.Hour)) })
	add("RoundTrip", Vela, "Spawn+Await, WithRunTimeout", func(b *testing.B) { velaRoundTripWith(b, false, workers.WithRunTimeout(time.Hour)) })
	add("FanOut", Vela, "SpawnAll", func(b *testing.B) { velaFanOutAll(b, 0) })
	add("FanOut", Vela, "SpawnAll, IdleTimeout", func(b *testing.B) { velaFanOutAll(b, velaIdle) })
	add("FanOut", Vela, "Spawn+Await", velaFanOutSpawn)
	add("Blocking", Vela, "SpawnAll", func(b *testing.B) { blocking1k(b, velaBlocking(0)) })
	add("Blocking", Vela, "SpawnAll, IdleTimeout", func(b *testing.B) { blocking1k(b, velaBlocking(velaIdle)) })
	add("BlockingAnts", Vela, "SpawnAll", func(b *testing.B) { blockingAnts(b, velaBlocking(0)) })
	add("BlockingAnts", Vela, "SpawnAll, IdleTimeout", func(b *testing.B) { blockingAnts(b, velaBlocking(velaIdle)) })
	add("CPUSpeedup", Vela, "SpawnAll", velaSpeedup)
	add("CancelRunning", Vela, "Cancel", velaCancelRunning)
	add("CancelQueued", Vela, "Cancel", velaCancelQueued)
	add("TimeoutLateness", Vela, "WithTimeout", velaTimeout)
	add("PoolStartup", Vela, "NewPool+Spawn", velaStartup)
	add("QueuedMemory", Vela, "Spawn", velaQueued)
	add("LoopHandoff", Vela, "On", func(b *testing.B) { velaHandoff(b, 0) })
	add("LoopHandoff", Vela, "On, IdleTimeout", func(b *testing.B) { velaHandoff(b, velaIdle) })
	add("LoopPost", Vela, "Post", velaPost)
}

var bg = context.Background()

// velaIdle is the Config.IdleTimeout of the variants whose workers wait for
// the next task instead of exiting when the queue is empty.
const velaIdle = time.Second

func velaNoop(context.Context) (int, error) { return 1, nil }

func velaPool(cfg workers.Config) *workers.Pool { return must(workers.NewPool(cfg)) }

// velaStop shuts p down and waits for its goroutines; a failure is a bug.
func velaStop(p *workers.Pool) {
	ctx, cancel := context.WithTimeout(bg, time.Minute)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		panic("workloads: vela Shutdown: " + err.Error())
	}
}

func velaRoundTrip(b *testing.B, idle time.Duration) {
	velaRoundTripOn(b, workers.Config{IdleTimeout: idle}, bg)
}

// velaRoundTripWith is the round trip with a cancellable parent context or
// with options, for their cost beside the plain case.
func velaRoundTripWith(b *testing.B, cancellable bool, opts ...workers.Option) {
	ctx := bg
	if cancellable {
		c, cancel := context.WithCancel(bg)
		defer cancel()
		ctx = c
	}
	velaRoundTripOn(b, workers.Config{}, ctx, opts...)
}

func velaRoundTripOn(b *testing.B, cfg workers.Config, ctx context.Context, opts ...workers.Option) {
	b.ReportAllocs()
	p := velaPool(cfg)
	defer velaStop(p)
	opts = append(opts, workers.OnPool(p))
	var sum int
	b.ResetTimer()
	for range b.N {
		v, err := workers.Spawn(ctx, velaNoop, opts...).Await(bg)
		if err != nil {
			b.Fatal(err)
		}
		sum += v
	}
	b.StopTimer()
	if sum != b.N {
		b.Fatal("lost a result")
	}
}

func velaFanOutSpawn(b *testing.B) {
	p := velaPool(workers.Config{MaxWorkers: gomaxprocs()})
	defer velaStop(p)
	on := workers.OnPool(p)
	fanOutBench(b, func(tasks, rounds int) []int {
		fs := make([]*async.Future[int], tasks)
		for i := range tasks {
			fs[i] = workers.Spawn(bg, func(context.Context) (int, error) { return fanWork(rounds, i), nil }, on)
		}
		out := make([]int, tasks)
		for i, f := range fs {
			v, err := f.Await(bg)
			if err != nil {
				panic(err)
			}
			out[i] = v
		}
		return out
	})
}

func velaFanOutAll(b *testing.B, idle time.Duration) {
	p := velaPool(workers.Config{MaxWorkers: gomaxprocs(), IdleTimeout: idle})
	defer velaStop(p)
	on := workers.OnPool(p)
	fanOutBench(b, func(tasks, rounds int) []int {
		fns := make([]func(context.Context) (int, error), tasks)
		for i := range fns {
			fns[i] = func(context.Context) (int, error) { return fanWork(rounds, i), nil }
		}
		out, err := workers.SpawnAll(bg, fns, on).Await(bg)
		if err != nil {
			panic(err)
		}
		return out
	})
}

func velaBlocking(idle time.Duration) func(tasks, limit int, d time.Duration) []int {
	return func(tasks, limit int, d time.Duration) []int {
		p := velaPool(workers.Config{MaxWorkers: limit, IdleTimeout: idle})
		defer velaStop(p)
		fns := make([]func(context.Context) (int, error), tasks)
		for i := range fns {
			fns[i] = func(context.Context) (int, error) {
				time.Sleep(d)
				return i, nil
			}
		}
		out, err := workers.SpawnAll(bg, fns, workers.OnPool(p)).Await(bg)
		if err != nil {
			panic(err)
		}
		return out
	}
}

func velaSpeedup(b *testing.B) {
	speedupBench(b, func(n, rounds int) []uint64 {
		p := velaPool(workers.Config{MaxWorkers: gomaxprocs()})
		defer velaStop(p)
		fns := make([]func(context.Context) (uint64, error), n)
		for i := range fns {
			fns[i] = func(context.Context) (uint64, error) { return spin(rounds, uint64(i)), nil }
		}
		out, err := workers.SpawnAll(bg, fns, workers.OnPool(p)).Await(bg)
		if err != nil {
			panic(err)
		}
		return out
	})
}

// velaCancelRunning: the task signals that it runs, then watches its
// context; latency from Cancel to Await returning.
func velaCancelRunning(b *testing.B) {
	b.ReportAllocs()
	p := velaPool(workers.Config{})
	defer velaStop(p)
	on := workers.OnPool(p)
	started := make(chan struct{}, 1)
	fn := func(ctx context.Context) (int, error) {
		started <- struct{}{}
		<-ctx.Done()
		return 0, ctx.Err()
	}
	velaCancelLatency(b, func() *async.Future[int] {
		f := workers.Spawn(bg, fn, on)
		<-started
		return f
	})
}

// velaCancelLatency samples, b.N times, the time from Cancel() to Await
// returning on the future that next hands over.
func velaCancelLatency(b *testing.B, next func() *async.Future[int]) {
	s := newSamples(b)
	b.ResetTimer()
	for range b.N {
		f := next()
		t0 := nowNs()
		f.Cancel()
		_, err := f.Await(bg)
		s = append(s, nowNs()-t0)
		if !errors.Is(err, async.ErrCancelled) {
			b.Fatalf("err = %v, want ErrCancelled", err)
		}
	}
	b.StopTimer()
	s.report(b)
}

// velaCancelQueued: one worker, kept busy; each task waits in the queue and
// is cancelled there.
func velaCancelQueued(b *testing.B) {
	b.ReportAllocs()
	p := velaPool(workers.Config{MaxWorkers: 1})
	defer velaStop(p)
	on := workers.OnPool(p)
	release, running := make(chan struct{}), make(chan struct{})
	blocker := workers.Spawn(bg, func(context.Context) (int, error) {
		close(running)
		<-release
		return 0, nil
	}, on)
	<-running
	defer func() { close(release); _, _ = blocker.Await(bg) }()
	velaCancelLatency(b, func() *async.Future[int] { return workers.Spawn(bg, velaNoop, on) })
}

// velaTimeout: a function that ignores its context and blocks until
// released (after the measurement); lateness from Spawn+timeout to Await
// returning.
func velaTimeout(b *testing.B) {
	b.ReportAllocs()
	p := velaPool(workers.Config{})
	defer velaStop(p)
	on, d := workers.OnPool(p), Sizes.Timeout
	opt := workers.WithTimeout(d)
	s := newSamples(b)
	b.ResetTimer()
	for range b.N {
		release := make(chan struct{})
		t0 := nowNs()
		f := workers.Spawn(bg, func(context.Context) (int, error) { <-release; return 1, nil }, on, opt)
		_, err := f.Await(bg)
		s = append(s, nowNs()-t0-int64(d))
		close(release)
		if !errors.Is(err, workers.ErrTimeout) {
			b.Fatalf("err = %v, want ErrTimeout", err)
		}
	}
	b.StopTimer()
	s.report(b)
}

func velaStartup(b *testing.B) {
	startupBench(b, func(w int) (int, func()) {
		p := velaPool(workers.Config{MaxWorkers: w})
		v, err := workers.Spawn(bg, velaNoop, workers.OnPool(p)).Await(bg)
		if err != nil {
			panic(err)
		}
		return v, func() { velaStop(p) }
	})
}

func velaQueued(b *testing.B) {
	queuedMemBench(b, func(n, w int) queuedImpl {
		p := velaPool(workers.Config{MaxWorkers: w})
		on := workers.OnPool(p)
		fs := make([]*async.Future[int], n)
		return queuedImpl{
			block: func(w int, release <-chan struct{}, running *sync.WaitGroup) {
				for range w {
					workers.Spawn(bg, func(context.Context) (int, error) { running.Done(); <-release; return 0, nil }, on)
				}
			},
			submit: func(n int) {
				for i := range n {
					fs[i] = workers.Spawn(bg, velaNoop, on)
				}
			},
			drain: func() {
				for _, f := range fs {
					if _, err := f.Await(bg); err != nil {
						panic(err)
					}
				}
				velaStop(p)
			},
		}
	})
}

// runningLoop starts l.Run on its own goroutine, kept alive by a far timer
// until stop is called; stop closes the loop and waits for Run to return.
func runningLoop() (l *async.Loop, stop func()) {
	l = async.NewLoop()
	keep := l.AfterFunc(time.Hour, func() {})
	done := make(chan error, 1)
	go func() { done <- l.Run(bg) }()
	return l, func() {
		keep()
		l.Close()
		<-done
	}
}

// velaHandoff: the worker's function records the time as its result; the On
// continuation on the running loop measures the delay.
func velaHandoff(b *testing.B, idle time.Duration) {
	b.ReportAllocs()
	p := velaPool(workers.Config{IdleTimeout: idle})
	defer velaStop(p)
	on := workers.OnPool(p)
	l, stop := runningLoop()
	defer stop()
	got := make(chan int64, 1)
	fn := func(context.Context) (int64, error) { return nowNs(), nil }
	cont := func(t int64, err error) {
		if err != nil {
			panic(err)
		}
		got <- nowNs() - t
	}
	s := newSamples(b)
	b.ResetTimer()
	for range b.N {
		async.On(l, workers.Spawn(bg, fn, on), cont)
		s = append(s, <-got)
	}
	b.StopTimer()
	s.report(b)
}

func velaPost(b *testing.B) {
	b.ReportAllocs()
	l, stop := runningLoop()
	defer stop()
	postBench(b, l.Post)
}

package workloads

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

// The reference: plain goroutines, channels, sync.WaitGroup and context,
// the physical floor that every library is built on. It is not a pool: it
// has no concurrency limit and no queue, so it has no row where a limit or a
// queue is the point.

func init() {
	add("RoundTrip", Reference, "go+chan", refRoundTrip)
	add("FanOut", Reference, "goroutines+WaitGroup", refFanOut)
	add("CPUSpeedup", Reference, "goroutines+WaitGroup", refSpeedup)
	add("CancelRunning", Reference, "goroutine+context", refCancelRunning)
	add("TimeoutLateness", Reference, "goroutine+context.WithTimeout", refTimeout)
	add("LoopHandoff", Reference, "goroutine+chan", refHandoff)
	add("LoopPost", Reference, "chan func()", refPost)
	na("Blocking", Reference, "not a pool (no concurrency limit)")
	na("BlockingAnts", Reference, "not a pool (no concurrency limit)")
	na("CancelQueued", Reference, "no queue")
	na("PoolStartup", Reference, "no pool")
	na("QueuedMemory", Reference, "no queue")
}

func refRoundTrip(b *testing.B) {
	b.ReportAllocs()
	ch := make(chan int)
	var sum int
	for range b.N {
		go func() { ch <- 1 }()
		sum += <-ch
	}
	if sum != b.N {
		b.Fatal("lost a result")
	}
}

func refFanOut(b *testing.B) {
	fanOutBench(b, func(tasks, rounds int) []int {
		out := make([]int, tasks)
		var wg sync.WaitGroup
		wg.Add(tasks)
		for i := range tasks {
			go func() {
				defer wg.Done()
				out[i] = fanWork(rounds, i)
			}()
		}
		wg.Wait()
		return out
	})
}

func refSpeedup(b *testing.B) {
	speedupBench(b, func(n, rounds int) []uint64 {
		out := make([]uint64, n)
		var wg sync.WaitGroup
		wg.Add(n)
		for i := range n {
			go func() {
				defer wg.Done()
				out[i] = spin(rounds, uint64(i))
			}()
		}
		wg.Wait()
		return out
	})
}

// refCancelRunning: a goroutine watching its context; latency from cancel()
// to the caller receiving the goroutine's answer.
func refCancelRunning(b *testing.B) {
	b.ReportAllocs()
	s := newSamples(b)
	started := make(chan struct{}, 1)
	res := make(chan error, 1)
	for range b.N {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			started <- struct{}{}
			<-ctx.Done()
			res <- ctx.Err()
		}()
		<-started
		t0 := nowNs()
		cancel()
		err := <-res
		s = append(s, nowNs()-t0)
		if err == nil {
			b.Fatal("no error")
		}
	}
	b.StopTimer()
	s.report(b)
}

// refTimeout: a goroutine that ignores its context, awaited with a select on
// the result and ctx.Done of a context.WithTimeout; lateness from the
// deadline to the select returning.
func refTimeout(b *testing.B) {
	b.ReportAllocs()
	d := Sizes.Timeout
	s := newSamples(b)
	for range b.N {
		release := make(chan struct{})
		res := make(chan int, 1)
		t0 := nowNs()
		ctx, cancel := context.WithTimeout(context.Background(), d)
		go func() {
			<-release
			res <- 1
		}()
		select {
		case <-res:
			b.Fatal("finished before its deadline")
		case <-ctx.Done():
		}
		s = append(s, nowNs()-t0-int64(d))
		cancel()
		close(release)
	}
	b.StopTimer()
	s.report(b)
}

// refHandoff: a goroutine's result sent on a channel to a running consumer
// goroutine (the "loop"); latency from the send to the consumer's code.
func refHandoff(b *testing.B) {
	b.ReportAllocs()
	s := newSamples(b)
	ch := make(chan int64)
	got := make(chan int64)
	go func() {
		for t := range ch {
			got <- nowNs() - t
		}
		close(got)
	}()
	b.ResetTimer()
	for range b.N {
		go func() { ch <- nowNs() }()
		s = append(s, <-got)
	}
	b.StopTimer()
	close(ch)
	<-got
	s.report(b)
}

// refPost: GOMAXPROCS producers send callbacks on a buffered channel to one
// consumer goroutine that runs them.
func refPost(b *testing.B) {
	b.ReportAllocs()
	ch := make(chan func(), 1024)
	done := make(chan struct{})
	go func() {
		for fn := range ch {
			fn()
		}
		close(done)
	}()
	postBench(b, func(fn func()) bool { ch <- fn; return true })
	close(ch)
	<-done
}

// postBench: b.N callbacks posted by GOMAXPROCS goroutines through post,
// each counting on the consumer; the op ends when the consumer has run all.
func postBench(b *testing.B, post func(func()) bool) {
	producers := runtime.GOMAXPROCS(0)
	var count int // consumer-side only
	all := make(chan struct{})
	n := b.N
	cb := func() {
		count++
		if count == n {
			close(all)
		}
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	for p := range producers {
		k := n / producers
		if p < n%producers {
			k++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range k {
				if !post(cb) {
					panic("post refused")
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-all:
	case <-time.After(time.Minute):
		b.Fatal("callbacks lost")
	}
	b.StopTimer()
}

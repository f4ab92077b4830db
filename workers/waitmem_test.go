package workers_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// 100,000 tasks due later or waiting to retry cost no goroutine, and at
// most 128 bytes each beyond the same tasks in the queue (with the same
// options): a wait is an entry of the pool's deadline heap, not a timer or
// a goroutine. The test logs the figures BENCHMARKS.md quotes.
func TestWaitingTasksMemory(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a heap measurement of 100,000 tasks; the race detector inflates it")
	}
	const n = 100_000
	ctx := context.Background()
	retry := workers.WithRetry(workers.RetryPolicy{MaxAttempts: 2, Backoff: time.Hour, MaxBackoff: time.Hour})
	fail := func(context.Context) (int, error) { return 0, errors.New("try later") }

	measure := func(name string, spawn func(p *workers.Pool, i int) *async.Future[int], wait func(p *workers.Pool) bool) float64 {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		release, _ := fillPool(t, p)
		goroutines := runtime.NumGoroutine()
		futs := make([]*async.Future[int], n)
		before := liveHeap()
		for i := range futs {
			futs[i] = spawn(p, i)
		}
		if wait != nil {
			release()
			release = func() {}
			for !wait(p) {
				time.Sleep(time.Millisecond)
			}
		}
		after := liveHeap()
		if wait != nil {
			if ts := p.Tasks(); len(ts) < n*99/100 || ts[0].State != workers.TaskRetrying {
				t.Errorf("%s: %d tasks, the first %v; want about %d waiting to retry", name, len(ts), ts[0].State, n)
			}
		}
		if g := runtime.NumGoroutine(); g > goroutines {
			t.Errorf("%s: %d goroutines, %d before the tasks", name, g, goroutines)
		}
		per := float64(int64(after)-int64(before)) / n
		t.Logf("%s: %.0f B per task", name, per)
		p.CancelAll()
		release()
		shutdown(t, p)
		runtime.KeepAlive(futs)
		return per
	}
	plain := measure("queued, no options", func(p *workers.Pool, i int) *async.Future[int] {
		return workers.Spawn(ctx, returns(i), workers.OnPool(p))
	}, nil)
	queued := measure("queued, WithRetry", func(p *workers.Pool, i int) *async.Future[int] {
		return workers.Spawn(ctx, fail, workers.OnPool(p), retry)
	}, nil)
	due := measure("due later, WithRetry and WithDelay", func(p *workers.Pool, i int) *async.Future[int] {
		return workers.Spawn(ctx, fail, workers.OnPool(p), retry, workers.WithDelay(time.Hour))
	}, nil)
	retrying := measure("waiting to retry, WithRetry", func(p *workers.Pool, i int) *async.Future[int] {
		return workers.Spawn(ctx, fail, workers.OnPool(p), retry)
	}, func(p *workers.Pool) bool {
		// With full jitter over an hour, a few of 100,000 waits are short:
		// those tasks have made their second and last call.
		s := p.Stats()
		return s.Active == 0 && s.Workers == 0 && s.Queued+int(s.Failed) == n
	})
	for name, per := range map[string]float64{"due later": due, "waiting to retry": retrying} {
		if per-queued > 128 {
			t.Errorf("%s: %.0f B per task, %.0f more than queued with the same options; want at most 128 more", name, per, per-queued)
		}
	}
	t.Logf("beyond a queued task with the same options: due %+.0f B, retrying %+.0f B; the options' record costs %.0f B over a plain queued task", due-queued, retrying-queued, queued-plain)
}

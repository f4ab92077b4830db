package workers_test

// Config.IdleTimeout: a worker that has no task waits that long for one
// before it exits, counts as room in a bounded queue, and is retired by
// Shutdown, Resize and Close.

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/workers"
)

func TestIdleWorkerWaitsThenExits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := workers.NewPool(workers.Config{MaxWorkers: 2, IdleTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		first := workerOf(t, p)
		synctest.Wait()
		if s := p.Stats(); s.Workers != 1 || s.Idle != 1 {
			t.Fatalf("after one task: Workers=%d Idle=%d, want 1 and 1 (the worker waits for work)", s.Workers, s.Idle)
		}
		time.Sleep(500 * time.Millisecond)
		if again := workerOf(t, p); again != first {
			t.Errorf("a task on a pool with a waiting worker ran on %q, want the waiting %q", again, first)
		}
		synctest.Wait()
		start := time.Now()
		for p.Stats().Workers != 0 {
			time.Sleep(10 * time.Millisecond)
		}
		if d := time.Since(start); d < time.Second-10*time.Millisecond || d > time.Second+10*time.Millisecond {
			t.Errorf("the idle worker exited %v after its last task, want the IdleTimeout of 1s", d)
		}
		if s := p.Stats(); s.Idle != 0 || s.Completed != 2 {
			t.Errorf("at rest: Idle=%d Completed=%d, want 0 and 2", s.Idle, s.Completed)
		}
		shutdown(t, p)
	})
}

func TestIdleWorkersRetireOnShutdownResizeAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, _ := workers.NewPool(workers.Config{MaxWorkers: 3, IdleTimeout: time.Hour})
		release := make(chan struct{})
		var fs []interface {
			Await(context.Context) (int, error)
		}
		for range 3 {
			fs = append(fs, workers.Spawn(context.Background(), func(context.Context) (int, error) { <-release; return 1, nil }, workers.OnPool(p)))
		}
		synctest.Wait()
		close(release)
		for _, f := range fs {
			if _, err := f.Await(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if s := p.Stats(); s.Idle != 3 {
			t.Fatalf("Idle = %d, want 3", s.Idle)
		}
		if err := p.Resize(1); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if s := p.Stats(); s.Workers != 1 || s.Idle != 1 {
			t.Errorf("after Resize(1): Workers=%d Idle=%d, want 1 and 1", s.Workers, s.Idle)
		}
		start := time.Now()
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("Shutdown waited %v for an idle worker, want 0: idle workers retire at once", d)
		}
		if s := p.Stats(); s.Workers != 0 || s.Idle != 0 {
			t.Errorf("after Shutdown: Workers=%d Idle=%d, want 0", s.Workers, s.Idle)
		}

		q, _ := workers.NewPool(workers.Config{MaxWorkers: 1, IdleTimeout: time.Hour})
		workerOf(t, q)
		synctest.Wait()
		q.Close()
		synctest.Wait()
		if s := q.Stats(); s.Workers != 0 {
			t.Errorf("after Close: Workers=%d, want 0", s.Workers)
		}
	})
}

func TestIdleWorkerCountsAsRoomInABoundedQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, _ := workers.NewPool(workers.Config{MaxWorkers: 1, QueueSize: 1, IdleTimeout: time.Hour})
		workerOf(t, p)
		synctest.Wait()
		gate := make(chan struct{})
		block := func(context.Context) (int, error) { <-gate; return 0, nil }
		a := workers.Spawn(context.Background(), block, workers.OnPool(p)) // to the waiting worker
		b := workers.Spawn(context.Background(), block, workers.OnPool(p)) // to the queue
		c := workers.Spawn(context.Background(), block, workers.OnPool(p)) // refused
		if _, err := c.Await(context.Background()); !errors.Is(err, workers.ErrQueueFull) {
			t.Errorf("third Spawn: %v, want ErrQueueFull", err)
		}
		close(gate)
		for _, f := range []interface {
			Await(context.Context) (int, error)
		}{a, b} {
			if _, err := f.Await(context.Background()); err != nil {
				t.Errorf("Await: %v", err)
			}
		}
		shutdown(t, p)
	})
}

func TestNegativeIdleTimeout(t *testing.T) {
	if _, err := workers.NewPool(workers.Config{IdleTimeout: -time.Second}); !errors.Is(err, workers.ErrInvalidArgument) {
		t.Fatalf("NewPool with a negative IdleTimeout: %v, want ErrInvalidArgument", err)
	}
}

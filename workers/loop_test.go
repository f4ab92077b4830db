package workers_test

// A worker's result delivered to an event loop: Loop.On, Run waiting for a
// blocked worker, RunUntilComplete with a timeout.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// A worker's result reaches an async.On continuation on the loop, and Run
// does not return while that continuation still waits on a worker, even
// with nothing else to do; continuations may Spawn more work, and Spawn
// never blocks the loop.
func TestLoopOnReceivesWorkerResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		l := async.NewLoop()
		defer l.Close()
		var got []string // touched only on the loop goroutine
		start := time.Now()
		l.Post(func() {
			f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
				time.Sleep(time.Second)
				return 42, nil
			}, workers.OnPool(p))
			// The pool's only worker is busy: this one queues, and Spawn
			// still returns at once.
			g := workers.Spawn(context.Background(), func(context.Context) (int, error) {
				time.Sleep(time.Second)
				return 0, errBoom
			}, workers.OnPool(p))
			async.On(l, f, func(v int, err error) {
				got = append(got, fmt.Sprintf("f=%d,%v@%v", v, err, time.Since(start)))
			})
			async.On(l, g, func(_ int, err error) {
				got = append(got, fmt.Sprintf("g=%v@%v", errors.Is(err, errBoom), time.Since(start)))
				h := workers.Spawn(context.Background(), func(context.Context) (string, error) {
					time.Sleep(time.Second)
					return "h", nil
				}, workers.OnPool(p))
				async.On(l, h, func(v string, err error) {
					got = append(got, fmt.Sprintf("%s=%v@%v", v, err, time.Since(start)))
				})
			})
		})
		if err := l.Run(context.Background()); err != nil {
			t.Fatalf("Run = %v", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("Run returned after %v, want 3s (when the last continuation ran)", d)
		}
		want := []string{"f=42,<nil>@1s", "g=true@2s", "h=<nil>@3s"}
		if !slices.Equal(got, want) {
			t.Errorf("continuations ran as %q, want %q", got, want)
		}
		synctest.Wait()
		shutdown(t, p)
	})
}

// Run waits for an On continuation whose worker is blocked, however long,
// and returns only once the continuation ran.
func TestLoopRunWaitsForBlockedWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		l := async.NewLoop()
		defer l.Close()
		release := make(chan struct{})
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			<-release
			return 9, nil
		}, workers.OnPool(p))
		ran := false
		async.On(l, f, func(v int, err error) { ran = v == 9 && err == nil })
		start := time.Now()
		go func() {
			time.Sleep(time.Hour)
			close(release)
		}()
		if err := l.Run(context.Background()); err != nil {
			t.Fatalf("Run = %v", err)
		}
		if !ran {
			t.Error("Run returned before the On continuation ran")
		}
		if d := time.Since(start); d != time.Hour {
			t.Errorf("Run returned after %v, want 1h", d)
		}
		synctest.Wait()
		shutdown(t, p)
	})
}

// RunUntilComplete returns a worker's timeout error exactly at the
// deadline.
func TestLoopRunUntilCompleteTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		l := async.NewLoop()
		defer l.Close()
		release := make(chan struct{})
		start := time.Now()
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) {
			<-release
			return 0, nil
		}, workers.OnPool(p), workers.WithTimeout(time.Second))
		_, err := async.RunUntilComplete(l, f)
		wantTimeout(t, err, "", time.Second)
		if d := time.Since(start); d != time.Second {
			t.Errorf("RunUntilComplete returned after %v, want 1s", d)
		}
		close(release)
		synctest.Wait()
		shutdown(t, p)
	})
}

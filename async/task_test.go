package async_test

// Tasks spawned on a Loop: polled on the loop's goroutine, woken by a
// settle, wakes coalesced, never polled after done.

import (
	"context"
	"sync"
	"testing"

	"github.com/velalang/runtime/async"
)

func TestSpawnTaskWokenBySettle(t *testing.T) {
	l := async.NewLoop()
	p, f := async.NewPromise[int]()
	task := &futureTask{f: f, polled: make(chan struct{}), loop: goid()}
	l.Spawn(task)
	if task.polls != 0 {
		t.Fatal("Spawn polled the task on the caller instead of the loop")
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		<-task.polled // the task is waiting on f
		p.Resolve(5)
	})
	if err := l.Run(context.Background()); err != nil {
		t.Fatalf("Run = %v", err)
	}
	wg.Wait()
	if task.polls != 2 || task.got != (async.Result[int]{5, nil}) {
		t.Fatalf("task polled %d times and got %+v; want 2 polls and {5 <nil>}", task.polls, task.got)
	}
}

// TestSpawnWakesCoalesce: wakes that arrive before the next poll count as
// one; a wake after a poll has started brings another poll.
func TestSpawnWakesCoalesce(t *testing.T) {
	l := async.NewLoop()
	polls := 0
	finish := false
	l.Spawn(funcTask(func(w async.Waker) bool {
		polls++
		switch polls {
		case 1:
			w.Wake()
			w.Wake()
			w.Wake()
		case 2:
			l.Post(func() {
				finish = true
				w.Wake()
			})
		}
		return finish
	}))
	if err := l.Run(context.Background()); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if polls != 3 {
		t.Fatalf("task polled %d times, want 3 (three wakes before a poll are one)", polls)
	}
}

func TestSpawnNeverPolledAfterDone(t *testing.T) {
	l := async.NewLoop()
	polls := 0
	var waker async.Waker
	l.Spawn(funcTask(func(w async.Waker) bool { polls++; waker = w; return true }))
	if err := l.Run(context.Background()); err != nil || polls != 1 {
		t.Fatalf("Run = %v, polls = %d", err, polls)
	}
	waker.Wake() // a late wake
	if err := l.Run(context.Background()); err != nil || polls != 1 {
		t.Fatalf("after a late wake: Run = %v, polls = %d; want nil, 1", err, polls)
	}
}

func TestSpawnFromManyGoroutines(t *testing.T) {
	const n = 400
	l := async.NewLoop()
	done := 0
	gate, gateF := async.NewPromise[int]()
	async.On(l, gateF, func(int, error) {})
	runErr := make(chan error, 1)
	go func() { runErr <- l.Run(context.Background()) }()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { l.Spawn(funcTask(func(async.Waker) bool { done++; return true })) })
	}
	wg.Wait()
	gate.Resolve(0)
	if err := <-runErr; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if done != n {
		t.Fatalf("%d tasks ran, want %d", done, n)
	}
}

func TestSpawnNilAndClosed(t *testing.T) {
	l := async.NewLoop()
	l.Spawn(nil)
	if err := l.Run(context.Background()); err != nil {
		t.Fatalf("Run after Spawn(nil) = %v, want nil at once", err)
	}
	l.Close()
	l.Spawn(funcTask(func(async.Waker) bool { t.Error("task polled on a closed loop"); return true }))
}

func TestPanicInTaskUnwindsRun(t *testing.T) {
	l := async.NewLoop()
	polls := 0
	l.Spawn(funcTask(func(async.Waker) bool { polls++; panic("task panic") }))
	func() {
		defer func() {
			if r := recover(); r != "task panic" {
				t.Fatalf("recovered %v", r)
			}
		}()
		l.Run(context.Background())
	}()
	// A task whose Poll panicked is over: it is not polled again and does
	// not keep Run from returning.
	if err := l.Run(context.Background()); err != nil || polls != 1 {
		t.Fatalf("Run after the panic = %v with %d polls; want nil, 1", err, polls)
	}
}

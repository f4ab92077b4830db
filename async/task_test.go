package async

import (
	"context"
	"sync"
	"testing"
)

// futureTask is a Task that waits for a future, the way a coroutine would.
type futureTask struct {
	f      *Future[int]
	polls  int
	got    Result[int]
	polled chan struct{} // closed after the first poll
	loop   uint64        // the goroutine that runs the loop
}

func (t *futureTask) Poll(w Waker) bool {
	if goid() != t.loop {
		panic("task polled off the loop goroutine")
	}
	t.polls++
	r := t.f.Poll(w)
	if t.polls == 1 {
		close(t.polled)
	}
	if !r.IsReady() {
		return false
	}
	t.got = Result[int]{r.Value(), r.Err()}
	return true
}

func TestSpawnTaskWokenBySettle(t *testing.T) {
	l := NewLoop()
	p, f := NewPromise[int]()
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
	if task.polls != 2 || task.got != (Result[int]{5, nil}) {
		t.Fatalf("task polled %d times and got %+v; want 2 polls and {5 <nil>}", task.polls, task.got)
	}
}

// funcTask adapts a function to a Task.
type funcTask func(Waker) bool

func (f funcTask) Poll(w Waker) bool { return f(w) }

// TestSpawnWakesCoalesce: wakes that arrive before the next poll count as
// one; a wake after a poll has started brings another poll.
func TestSpawnWakesCoalesce(t *testing.T) {
	l := NewLoop()
	polls := 0
	finish := false
	l.Spawn(funcTask(func(w Waker) bool {
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
	l := NewLoop()
	polls := 0
	var waker Waker
	l.Spawn(funcTask(func(w Waker) bool { polls++; waker = w; return true }))
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
	l := NewLoop()
	done := 0
	gate, gateF := NewPromise[int]()
	On(l, gateF, func(int, error) {})
	runErr := make(chan error, 1)
	go func() { runErr <- l.Run(context.Background()) }()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { l.Spawn(funcTask(func(Waker) bool { done++; return true })) })
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
	l := NewLoop()
	l.Spawn(nil)
	if err := l.Run(context.Background()); err != nil {
		t.Fatalf("Run after Spawn(nil) = %v, want nil at once", err)
	}
	l.Close()
	l.Spawn(funcTask(func(Waker) bool { t.Error("task polled on a closed loop"); return true }))
}

func TestPanicInTaskUnwindsRun(t *testing.T) {
	l := NewLoop()
	polls := 0
	l.Spawn(funcTask(func(Waker) bool { polls++; panic("task panic") }))
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

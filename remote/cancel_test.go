package remote_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
)

// withdrawn waits until the queue holds only n tasks: the cancelled ones
// are deleted. (A worker that takes a task within the cancel's transit
// time starts it, and then sees it cancelled; see the delivery note.)
func withdrawn(t *testing.T, e *env, n uint64) {
	t.Helper()
	eventually(t, "the withdrawn tasks to leave the queue", func() bool { return remote.QueuedTasks(e.c) == n })
}

// onlyStarts checks that the next function to start is want: the tasks
// queued before it were removed and never ran.
func onlyStarts(t *testing.T, e *env, want string) {
	t.Helper()
	f := remote.Spawn[string](context.Background(), e.c, "block", want)
	if got := wait(t, e.h.started, "the probe to start"); got != want {
		t.Fatalf("%q started; want only the probe %q (a withdrawn task ran)", got, want)
	}
	e.h.release <- struct{}{}
	if _, err := await(t, f); err != nil {
		t.Fatal(err)
	}
}

func TestTimeoutSettlesAtDeadlineAndEndsTheFunction(t *testing.T) {
	e := newEnv(t, remote.Config{})
	const d = 150 * time.Millisecond
	start := time.Now()
	f := remote.Spawn[string](context.Background(), e.c, "block", "a", workers.WithTimeout(d), workers.WithName("resize"))
	wait(t, e.h.started, "the function to start")
	_, err := await(t, f)
	late := time.Since(start) - d
	var te *workers.TimeoutError
	if !errors.As(err, &te) || te.Name != "resize" || te.Timeout != d || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want *workers.TimeoutError{resize, %v}", err, d)
	}
	if late < 0 || late > 2*time.Second {
		t.Fatalf("settled %v after the deadline", late)
	}
	if cause := wait(t, e.h.ended, "the function's context to end"); cause == nil {
		t.Fatal("the function's context ended without a cause")
	}
}

func TestTimeoutOfAQueuedTaskNeverRuns(t *testing.T) {
	e := newEnv(t, remote.Config{Slots: 1})
	busy := remote.Spawn[string](context.Background(), e.c, "block", "busy")
	wait(t, e.h.started, "the busy function to start")
	f := remote.Spawn[string](context.Background(), e.c, "block", "late", workers.WithTimeout(50*time.Millisecond))
	if _, err := await(t, f); !errors.Is(err, workers.ErrTimeout) {
		t.Fatalf("err = %v; want a timeout", err)
	}
	withdrawn(t, e, 1)
	e.h.release <- struct{}{}
	if _, err := await(t, busy); err != nil {
		t.Fatal(err)
	}
	onlyStarts(t, e, "probe")
}

func TestCancelRunningEndsItsContext(t *testing.T) {
	e := newEnv(t, remote.Config{})
	f := remote.Spawn[string](context.Background(), e.c, "block", "a")
	wait(t, e.h.started, "the function to start")
	if !f.Cancel() {
		t.Fatal("Cancel of a pending future returned false")
	}
	if _, ok := f.Result(); !ok {
		t.Fatal("the future is not settled when Cancel returns")
	}
	if _, err := await(t, f); !errors.Is(err, async.ErrCancelled) {
		t.Fatalf("err = %v; want ErrCancelled", err)
	}
	wait(t, e.h.ended, "the function's context to end")
	// The worker's slot is free again.
	withdrawn(t, e, 0)
	onlyStarts(t, e, "probe")
}

func TestCancelQueuedNeverRuns(t *testing.T) {
	e := newEnv(t, remote.Config{Slots: 1})
	busy := remote.Spawn[string](context.Background(), e.c, "block", "busy")
	wait(t, e.h.started, "the busy function to start")
	f := remote.Spawn[string](context.Background(), e.c, "block", "queued")
	f.Cancel()
	withdrawn(t, e, 1)
	e.h.release <- struct{}{}
	if _, err := await(t, busy); err != nil {
		t.Fatal(err)
	}
	onlyStarts(t, e, "probe")
}

func TestContextEndCancelsWithCause(t *testing.T) {
	e := newEnv(t, remote.Config{})
	ctx, cancel := context.WithCancelCause(context.Background())
	f := remote.Spawn[string](ctx, e.c, "block", "a")
	wait(t, e.h.started, "the function to start")
	why := errors.New("user left")
	cancel(why)
	_, err := await(t, f)
	if !errors.Is(err, async.ErrCancelled) || !errors.Is(err, why) {
		t.Fatalf("err = %v; want ErrCancelled wrapping the cause", err)
	}
	wait(t, e.h.ended, "the function's context to end")

	// A context that has already ended: the task is never sent.
	g := remote.Spawn[string](ctx, e.c, "block", "never")
	if _, err := await(t, g); !errors.Is(err, why) {
		t.Fatalf("Spawn with an ended ctx: err = %v", err)
	}
	withdrawn(t, e, 0)
	onlyStarts(t, e, "probe")
}

func TestSpawnAllValuesInOrder(t *testing.T) {
	e := newEnv(t, remote.Config{})
	args := make([]pair, 50)
	for i := range args {
		args[i] = pair{i, i}
	}
	vals, err := await(t, remote.SpawnAll[int](context.Background(), e.c, "add", args))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if v != 2*i {
			t.Fatalf("vals[%d] = %d, want %d", i, v, 2*i)
		}
	}
	empty, err := await(t, remote.SpawnAll[int](context.Background(), e.c, "add", []pair{}))
	if err != nil || len(empty) != 0 {
		t.Fatalf("SpawnAll of nothing = %v, %v", empty, err)
	}
	// An argument the codec refuses: nothing is sent.
	_, err = await(t, remote.SpawnAll[int](context.Background(), e.c, "text", []any{"a", func() {}}))
	if !errors.Is(err, remote.ErrCodec) {
		t.Fatalf("SpawnAll with an unencodable argument: err = %v", err)
	}
}

func TestSpawnAllFailFastCancelsRunningSiblings(t *testing.T) {
	e := newEnv(t, remote.Config{Slots: 2})
	f := remote.SpawnAll[string](context.Background(), e.c, "blockOrFail", []string{"a", "bad"})
	_, err := await(t, f)
	var re *remote.RemoteError
	if !errors.As(err, &re) || re.Message != "bad input" {
		t.Fatalf("err = %v; want the failing sibling's *RemoteError", err)
	}
	wait(t, e.h.ended, "the running sibling's context to end")
}

func TestSpawnAllFailureRemovesQueuedSiblings(t *testing.T) {
	e := newEnv(t, remote.Config{Slots: 1})
	busy := remote.Spawn[string](context.Background(), e.c, "block", "busy")
	wait(t, e.h.started, "the busy function to start")
	args := []string{"q1", "q2", "q3"}
	f := remote.SpawnAll[string](context.Background(), e.c, "block", args, workers.WithTimeout(50*time.Millisecond))
	if _, err := await(t, f); !errors.Is(err, workers.ErrTimeout) {
		t.Fatalf("err = %v; want the first sibling's timeout", err)
	}
	withdrawn(t, e, 1)
	e.h.release <- struct{}{}
	if _, err := await(t, busy); err != nil {
		t.Fatal(err)
	}
	onlyStarts(t, e, "probe")
}

func TestSpawnAllCancelCancelsEveryTask(t *testing.T) {
	e := newEnv(t, remote.Config{Slots: 2})
	f := remote.SpawnAll[string](context.Background(), e.c, "block", []string{"a", "b", "c"})
	wait(t, e.h.started, "a first task to start")
	wait(t, e.h.started, "a second task to start")
	f.Cancel()
	if _, err := await(t, f); !errors.Is(err, async.ErrCancelled) {
		t.Fatalf("err = %v", err)
	}
	for i := range 2 {
		wait(t, e.h.ended, fmt.Sprintf("running task %d to end", i))
	}
	withdrawn(t, e, 0)
	onlyStarts(t, e, "probe")
}

func TestRunTimeoutCountsFromTheStart(t *testing.T) {
	e := newEnv(t, remote.Config{})
	const d = 100 * time.Millisecond
	_, err := await(t, remote.Spawn[string](context.Background(), e.c, "block", "a", workers.WithRunTimeout(d)))
	var te *workers.TimeoutError
	if !errors.As(err, &te) || !te.Run || te.Timeout != d || te.Name != "block" {
		t.Fatalf("err = %#v; want a *workers.TimeoutError with Run", err)
	}
	wait(t, e.h.ended, "the function's context to end")
}

func TestSpawnAllNamesEachTask(t *testing.T) {
	e := newEnv(t, remote.Config{Slots: 1})
	names := workers.WithNames(func(i int) string { return fmt.Sprintf("job-%d", i) })
	_, err := await(t, remote.SpawnAll[string](context.Background(), e.c, "block", []string{"a"}, names, workers.WithTimeout(50*time.Millisecond)))
	var te *workers.TimeoutError
	if !errors.As(err, &te) || te.Name != "job-0" {
		t.Fatalf("err = %v; want the timeout of job-0", err)
	}
}

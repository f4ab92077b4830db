package remote_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
)

// flaky is a registry whose "flaky" function fails its first calls for
// each argument: flaky(n) fails n times, then returns n.
func flaky(calls *sync.Map) *remote.Registry {
	reg := remote.NewRegistry()
	must(remote.Register(reg, "flaky", func(_ context.Context, n int) (int, error) {
		v, _ := calls.LoadOrStore(n, new(atomic.Int32))
		k := v.(*atomic.Int32).Add(1)
		if int(k) <= n {
			return 0, errors.New("not yet")
		}
		return n, nil
	}))
	must(remote.Register(reg, "never", func(_ context.Context, n int) (int, error) {
		v, _ := calls.LoadOrStore(n, new(atomic.Int32))
		v.(*atomic.Int32).Add(1)
		return 0, workers.Permanent(errors.New("hopeless"))
	}))
	return reg
}

func callsOf(calls *sync.Map, n int) int32 {
	v, ok := calls.Load(n)
	if !ok {
		return 0
	}
	return v.(*atomic.Int32).Load()
}

func TestRetryInTheServer(t *testing.T) {
	srv, c, cfg := queueOnly(t, "retry")
	_ = srv
	var calls sync.Map
	w, err := remote.Serve(context.Background(), cfg, flaky(&calls))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(context.Background()) })
	ctx := context.Background()
	p := workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3, Backoff: 10 * time.Millisecond})
	if v, err := await(t, remote.Spawn[int](ctx, c, "flaky", 2, p)); err != nil || v != 2 || callsOf(&calls, 2) != 3 {
		t.Fatalf("flaky(2) with 3 attempts = %v, %v after %d calls", v, err, callsOf(&calls, 2))
	}
	var re *remote.RemoteError
	if _, err := await(t, remote.Spawn[int](ctx, c, "flaky", 5, p)); !errors.As(err, &re) || re.Message != "not yet" || callsOf(&calls, 5) != 3 {
		t.Fatalf("flaky(5) with 3 attempts: %v after %d calls", err, callsOf(&calls, 5))
	}
	if _, err := await(t, remote.Spawn[int](ctx, c, "never", 7, p)); !errors.As(err, &re) || re.Message != "hopeless" || callsOf(&calls, 7) != 1 {
		t.Fatalf("Permanent: %v after %d calls", err, callsOf(&calls, 7))
	}
	if v, err := await(t, remote.SpawnAll[int](ctx, c, "flaky", []int{1, 1, 1}, p)); err != nil || len(v) != 3 {
		t.Fatalf("SpawnAll with retries = %v, %v", v, err)
	}
	bad := workers.WithRetry(workers.RetryPolicy{MaxAttempts: 2, Retryable: func(error) bool { return true }})
	if _, err := await(t, remote.Spawn[int](ctx, c, "flaky", 1, bad)); !errors.Is(err, workers.ErrInvalidArgument) {
		t.Fatalf("Retryable: %v; want ErrInvalidArgument", err)
	}
}

func TestDelayInTheServer(t *testing.T) {
	e := newEnv(t, remote.Config{})
	const d = 300 * time.Millisecond
	start := time.Now()
	f := remote.Spawn[int](context.Background(), e.c, "add", pair{1, 1}, workers.WithDelay(d), workers.WithTimeout(5*time.Second))
	if v, err := await(t, f); err != nil || v != 2 {
		t.Fatalf("= %v, %v", v, err)
	}
	if took := time.Since(start); took < d {
		t.Fatalf("a task delayed %v ran after %v", d, took)
	}
}

// A retry waiting out its backoff survives the SIGKILL of the worker that
// ran the failed call: another worker runs the next attempt, once.
func TestRetryBackoffSurvivesTheWorkersSIGKILL(t *testing.T) {
	srv, c, cfg := listeningEnv(t, remote.Config{Queue: "backoff", AckWait: time.Second})
	ch := startChild(t, srv.URL(), "backoff", time.Second, 1)
	path := filepath.Join(t.TempDir(), "calls")
	// The backoff before the second call is drawn from (0, 2s]: the test
	// kills the worker once the retry is queued, which is during the
	// backoff unless the draw was under a few milliseconds.
	f := remote.Spawn[string](context.Background(), c, "failFirst", path,
		workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3, Backoff: 2 * time.Second, MaxBackoff: 2 * time.Second}))
	if l := wait(t, ch.lines, "the first call to fail"); l != "failed" {
		t.Fatalf("worker said %q", l)
	}
	// The failed attempt (sequence 1) is acknowledged and the next one
	// (sequence 2) queued.
	eventually(t, "the retry to be queued", func() bool { return remote.FirstQueued(c) == 2 })
	ch.kill(t)
	serveInProcess(t, cfg)
	if v, err := await(t, f); err != nil || v != "ok" {
		t.Fatalf("= %q, %v", v, err)
	}
	b, _ := os.ReadFile(path)
	if n := strings.Count(string(b), "call"); n != 2 {
		t.Fatalf("%d calls; want the failed one and one retry", n)
	}
}

// A delayed task in a server with a store survives its restart, and runs
// once when due.
func TestDelayedTaskSurvivesAServerRestart(t *testing.T) {
	r := startRestartable(t, t.TempDir())
	cfg := remote.Config{URL: r.srv.URL(), Queue: "later", AckWait: time.Second}
	var calls sync.Map
	w, err := remote.Serve(context.Background(), cfg, flaky(&calls))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(context.Background()) })
	c := dialURL(t, cfg)
	const d = 1500 * time.Millisecond
	start := time.Now()
	f := remote.Spawn[int](context.Background(), c, "flaky", 0, workers.WithDelay(d))
	eventually(t, "the worker to hand the early task back to the server", func() bool { return remote.AckPending(c) == 1 })
	r.restart(t)
	if v, err := await(t, f); err != nil || v != 0 {
		t.Fatalf("= %v, %v", v, err)
	}
	if took := time.Since(start); took < d {
		t.Fatalf("ran after %v; due after %v", took, d)
	}
	if n := callsOf(&calls, 0); n != 1 {
		t.Fatalf("%d calls", n)
	}
}

// A delayed task outlives its client: the client's process goes away and
// a new one dials before the task is due; the work happens once.
func TestDelayedTaskOutlivesItsClient(t *testing.T) {
	srv, c, cfg := listeningEnv(t, remote.Config{Queue: "orphan"})
	_ = srv
	var calls sync.Map
	w, err := remote.Serve(context.Background(), cfg, flaky(&calls))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(context.Background()) })
	remote.Spawn[int](context.Background(), c, "flaky", 0, workers.WithDelay(500*time.Millisecond))
	eventually(t, "the task to be queued", func() bool { return remote.QueuedTasks(c) == 1 })
	remote.DropConnection(c)
	again := dialURLOrServer(t, cfg)
	eventually(t, "the delayed task to run", func() bool { return callsOf(&calls, 0) == 1 })
	eventually(t, "the queue to empty", func() bool { return remote.QueuedTasks(again) == 0 })
	if n := callsOf(&calls, 0); n != 1 {
		t.Fatalf("%d calls", n)
	}
}

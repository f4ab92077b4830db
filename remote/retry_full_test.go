package remote_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
)

// A call that fails when the queue holds MaxQueued tasks (its own message
// among them) cannot queue its next attempt: the task fails at once with
// the call's error and workers.ErrQueueFull, as a Spawn beyond the bound
// does; the function ran once, nothing stays queued. Before, the worker
// gave the attempt back, ran it again MaxDeliver times, and the future
// failed with ErrWorkerLost (or, NotIdempotent, after one more run).
func TestRetryRefusedByMaxQueuedFailsWithQueueFull(t *testing.T) {
	for _, name := range []string{"flaky", "flakyOnce"} {
		t.Run(name, func(t *testing.T) {
			srv, err := remote.StartServer(remote.ServerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Shutdown)
			cfg := remote.Config{Server: srv, MaxQueued: 1, AckWait: 2 * time.Second}
			var calls sync.Map
			reg := flaky(&calls)
			must(remote.Register(reg, "flakyOnce", func(_ context.Context, n int) (int, error) {
				v, _ := calls.LoadOrStore(n, new(atomic.Int32))
				v.(*atomic.Int32).Add(1)
				return 0, errors.New("not yet")
			}, remote.NotIdempotent()))
			w, err := remote.Serve(context.Background(), cfg, reg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = w.Shutdown(context.Background()) })
			c := dialURL(t, cfg)
			p := workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3, Backoff: 10 * time.Millisecond})
			_, err = await(t, remote.Spawn[int](context.Background(), c, name, 5, p))
			var re *remote.RemoteError
			if !errors.Is(err, workers.ErrQueueFull) || !errors.As(err, &re) || re.Message != "not yet" {
				t.Fatalf("= %v; want the call's RemoteError and ErrQueueFull", err)
			}
			t.Logf("%v", err)
			if !strings.Contains(err.Error(), "not yet") || !strings.Contains(err.Error(), "queue full") {
				t.Errorf("error text %q", err)
			}
			if n := callsOf(&calls, 5); n != 1 {
				t.Errorf("the function ran %d times; want once", n)
			}
			eventually(t, "the queue to empty", func() bool { return remote.QueuedTasks(c) == 0 })
			// With room for the next attempt, the retries run. Room means
			// three: the failed attempt, the one before it (the server
			// removes an acknowledged message asynchronously, so under
			// load it may still count when the next is published; that
			// made a bound of 2 fail about once in a full -race run),
			// and the next.
			cfg.MaxQueued = 3
			c2 := dialURL(t, cfg)
			if v, err := await(t, remote.Spawn[int](context.Background(), c2, "flaky", 2, p)); err != nil || v != 2 {
				t.Fatalf("with room to retry: = %v, %v", v, err)
			}
		})
	}
}

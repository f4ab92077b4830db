package remote_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
)

// queueOnly is a server and a client without a worker.
func queueOnly(t *testing.T, queue string) (*remote.Server, *remote.Client, remote.Config) {
	t.Helper()
	srv, err := remote.StartServer(remote.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	cfg := remote.Config{Server: srv, Queue: queue}
	c, err := remote.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return srv, c, cfg
}

// Withdrawing a big batch is one purge, not one delete per task: the
// future settles at once, the queue empties (the Withdraw benchmark measures how fast), and a
// worker started later runs none of it (it ran thousands before).
func TestWithdrawingABigBatchIsOnePurge(t *testing.T) {
	const n = 5000
	srv, c, cfg := queueOnly(t, "big")
	calls := countRequests(t, srv, "$JS.API.STREAM.MSG.DELETE.", "$JS.API.STREAM.PURGE.")
	args := make([]pair, n)
	f := remote.SpawnAll[int](context.Background(), c, "add", args)
	eventually(t, "the batch to be queued", func() bool { return remote.QueuedTasks(c) == n })
	start := time.Now()
	f.Cancel()
	took := time.Since(start)
	if f.State() != async.Cancelled {
		t.Fatalf("state after Cancel = %v", f.State())
	}
	eventually(t, "the queue to empty", func() bool { return remote.QueuedTasks(c) == 0 })
	if got := calls(); got > 2 {
		t.Fatalf("%d delete or purge requests for one batch", got)
	}
	t.Logf("Cancel of %d tasks took %v", n, took)
	w := serveInProcess(t, cfg)
	if v, err := await(t, remote.Spawn[int](context.Background(), c, "add", pair{2, 3})); err != nil || v != 5 {
		t.Fatalf("probe = %v, %v", v, err)
	}
	if got := w.Stats().Completed; got != 1 {
		t.Fatalf("the worker ran %d tasks; want only the probe", got)
	}
}

// Client.Close withdraws every pending task with one purge, whatever the
// number of batches.
func TestCloseWithdrawsEverythingWithOnePurge(t *testing.T) {
	const n = 2000
	srv, c, cfg := queueOnly(t, "closing")
	calls := countRequests(t, srv, "$JS.API.STREAM.MSG.DELETE.", "$JS.API.STREAM.PURGE.")
	fs := make([]*async.Future[int], n)
	for i := range fs {
		fs[i] = remote.Spawn[int](context.Background(), c, "add", pair{i, i})
	}
	eventually(t, "the tasks to be queued", func() bool { return remote.QueuedTasks(c) == n })
	probe := dialURLOrServer(t, cfg)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if r, _ := f.Result(); !errors.Is(r.Err, workers.ErrPoolClosed) {
			t.Fatalf("pending future after Close: %v", r.Err)
		}
	}
	eventually(t, "the queue to empty", func() bool { return remote.QueuedTasks(probe) == 0 })
	if got := calls(); got > 1 {
		t.Fatalf("%d delete or purge requests for Close", got)
	}
}

func dialURLOrServer(t *testing.T, cfg remote.Config) *remote.Client {
	t.Helper()
	c, err := remote.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

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

// Single Spawns share their client's subject, so each is withdrawn by its
// stream sequence: cancelling some of many queued tasks, right after Spawn
// (mostly before the server's acknowledgement has come) or once queued,
// removes exactly those, with one delete each and no purge, and a worker
// started later runs all the others and none of them.
func TestWithdrawingSingleSpawnsDeletesOnlyThem(t *testing.T) {
	const n = 400
	srv, c, cfg := queueOnly(t, "singles")
	calls := countRequests(t, srv, "$JS.API.STREAM.MSG.DELETE.", "$JS.API.STREAM.PURGE.")
	ctx := context.Background()
	fs := make([]*async.Future[int], n)
	for i := range fs {
		fs[i] = remote.Spawn[int](ctx, c, "add", pair{i, 1})
		if i%4 == 0 {
			fs[i].Cancel()
		}
	}
	eventually(t, "the tasks cancelled at once to leave", func() bool { return remote.QueuedTasks(c) == n-n/4 })
	for i := 1; i < n; i += 4 {
		fs[i].Cancel()
	}
	eventually(t, "the queued tasks cancelled to leave", func() bool { return remote.QueuedTasks(c) == n/2 })
	eventually(t, "one delete per withdrawn task", func() bool { return calls() == n/2 })
	w := serveInProcess(t, cfg)
	for i, f := range fs {
		if i%4 <= 1 {
			if f.State() != async.Cancelled {
				t.Fatalf("task %d: %v after Cancel", i, f.State())
			}
			continue
		}
		if v, err := await(t, f); err != nil || v != i+1 {
			t.Fatalf("task %d = %v, %v", i, v, err)
		}
	}
	eventually(t, "the queue to empty", func() bool { return remote.QueuedTasks(c) == 0 })
	if got := w.Stats().Completed; got != n/2 {
		t.Fatalf("the worker ran %d tasks; want the %d not withdrawn", got, n/2)
	}
	if got := calls(); got != n/2 {
		t.Fatalf("%d delete or purge requests; want %d", got, n/2)
	}
}

// A single Spawn withdrawn before its acknowledgement, which is then lost,
// is sent again until an acknowledgement tells its sequence, and deleted:
// nothing stays queued.
func TestWithdrawnSingleSpawnWhoseAcknowledgementIsLostLeaves(t *testing.T) {
	_, c, _ := queueOnly(t, "lostack")
	remote.DropAcks(c, 1)
	f := remote.Spawn[int](context.Background(), c, "add", pair{1, 2})
	f.Cancel()
	if f.State() != async.Cancelled {
		t.Fatalf("state after Cancel = %v", f.State())
	}
	eventually(t, "the task to be queued", func() bool { return remote.QueuedTasks(c) == 1 })
	eventually(t, "the task sent again, acknowledged and deleted", func() bool { return remote.QueuedTasks(c) == 0 })
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

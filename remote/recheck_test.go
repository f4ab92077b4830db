package remote_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/remote"
)

// adminJS is a JetStream handle on a plain connection to url.
func adminJS(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// After a reconnection the client checks its pending tasks with a few
// requests whatever their number (it made one per task, in series, and
// could leave futures pending): the tasks that left the queue while it was
// away are rejected with ErrResultLost, the others stay pending.
func TestReconnectCheckCostsAFewRequestsWhateverThePending(t *testing.T) {
	const answered, waiting = 20, 2000
	r := startRestartable(t, t.TempDir())
	url := r.srv.URL()
	c := dialURL(t, remote.Config{URL: url, Queue: "recheck"})
	gone := make([]*async.Future[int], answered)
	for i := range gone {
		gone[i] = remote.Spawn[int](context.Background(), c, "add", pair{i, 0})
	}
	eventually(t, "the first tasks to be stored", func() bool { return remote.QueuedTasks(c) == answered })
	stay := make([]*async.Future[int], waiting)
	for i := range stay {
		stay[i] = remote.Spawn[int](context.Background(), c, "add", pair{i, 1})
	}
	eventually(t, "all tasks to be stored", func() bool { return remote.QueuedTasks(c) == answered+waiting })
	// The first tasks leave the queue, as if a worker had answered them
	// while the client was away.
	st, err := adminJS(t, url).Stream(context.Background(), "VELA_recheck")
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= answered; seq++ {
		if err := st.DeleteMsg(context.Background(), seq); err != nil {
			t.Fatal(err)
		}
	}
	r.restart(t)
	for i, f := range gone {
		if _, err := await(t, f); !errors.Is(err, remote.ErrResultLost) {
			t.Fatalf("task %d that left the queue: %v; want ErrResultLost", i, err)
		}
	}
	info, err := adminJS(t, url).AccountInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.API.Total > 30 {
		t.Fatalf("%d JetStream API requests since the restart for %d pending tasks", info.API.Total, answered+waiting)
	}
	for i, f := range stay {
		if f.State() != async.Pending {
			t.Fatalf("task %d still queued settled: %v", i, f.State())
		}
	}
}

// A task whose publish acknowledgement is lost is sent again after the
// reconnection, with the same Nats-Msg-Id: the server keeps one copy and
// the function runs once (before, the task was taken for lost).
func TestTaskWhoseAcknowledgementIsLostRunsOnce(t *testing.T) {
	r := startRestartable(t, t.TempDir())
	url := r.srv.URL()
	cfg := remote.Config{URL: url, Queue: "once"}
	c := dialURL(t, cfg)
	remote.DropAcks(c, 1)
	f := remote.Spawn[int](context.Background(), c, "count", 7)
	eventually(t, "the task to be stored", func() bool { return remote.QueuedTasks(c) == 1 })
	r.restart(t)
	// Reconnected, not just connected: right after the restart the client
	// may not have noticed it lost the old server, and a reply published
	// before it is back is lost by design (ErrResultLost), which is not
	// what this test is about.
	eventually(t, "the client to reconnect", func() bool { return remote.Reconnected(c) })

	var runs atomic.Int32
	reg := remote.NewRegistry()
	must(remote.Register(reg, "count", func(_ context.Context, n int) (int, error) { runs.Add(1); return n, nil }))
	w, err := remote.Serve(context.Background(), cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(context.Background()) })
	if v, err := await(t, f); err != nil || v != 7 {
		t.Fatalf("= %v, %v; want 7", v, err)
	}
	// A second copy would run now: a probe queued after it runs after it.
	if v, err := await(t, remote.Spawn[int](context.Background(), c, "count", 8)); err != nil || v != 8 {
		t.Fatalf("probe = %v, %v", v, err)
	}
	if n := runs.Load(); n != 2 {
		t.Fatalf("the function ran %d times for the task and the probe; want 2", n)
	}
}

// A task lost on its way to the stream, its client still connected (a
// stream leader that fell before storing it), is sent again after 2s
// without an acknowledgement: it runs, once (it stayed pending for ever
// before).
func TestTaskLostOnTheWayIsSentAgain(t *testing.T) {
	e := newEnv(t, remote.Config{})
	remote.DropPublishes(e.c, 1)
	start := time.Now()
	if v, err := await(t, remote.Spawn[int](context.Background(), e.c, "add", pair{3, 4})); err != nil || v != 7 {
		t.Fatalf("= %v, %v", v, err)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Fatalf("answered after %v, before any resend", took)
	}
	if got := e.w.Stats().Completed; got != 1 {
		t.Fatalf("%d runs", got)
	}
}

// Every task carries its id as Nats-Msg-Id, a single Spawn's and a
// SpawnAll member's, and so does a task sent again because its
// acknowledgement did not come: the server keeps one copy.
func TestEveryTaskCarriesItsIDAsNatsMsgID(t *testing.T) {
	srv, c, _ := queueOnly(t, "msgid")
	tasks := stealTask(t, srv)
	check := func(what string) string {
		t.Helper()
		m := wait(t, tasks, what)
		id, _, _, ok := remote.TaskEnvelope(m.Subject, m.Data)
		if !ok || m.Header.Get("Nats-Msg-Id") != id {
			t.Fatalf("%s: Nats-Msg-Id %q, id %q", what, m.Header.Get("Nats-Msg-Id"), id)
		}
		return id
	}
	remote.DropAcks(c, 1) // the next acknowledgement: the single Spawn's
	remote.Spawn[int](context.Background(), c, "add", pair{3, 4})
	first := check("a single Spawn")
	remote.SpawnAll[int](context.Background(), c, "add", []pair{{1, 2}})
	check("a SpawnAll member")
	if again := check("the single Spawn sent again, its acknowledgement lost"); again != first {
		t.Fatalf("sent again as %q, first as %q", again, first)
	}
	eventually(t, "the two tasks queued once each", func() bool { return remote.QueuedTasks(c) == 2 })
}

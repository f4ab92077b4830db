package remote_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
)

// freePort returns a loopback port that was free a moment ago, so that a
// server can be restarted on the same one.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// restartable is a server with a listener on a fixed port that can be
// stopped and started again with the same store.
type restartable struct {
	cfg remote.ServerConfig
	srv *remote.Server
}

func startRestartable(t *testing.T, dir string) *restartable {
	t.Helper()
	r := &restartable{cfg: remote.ServerConfig{Dir: dir, Port: freePort(t)}}
	r.start(t)
	t.Cleanup(func() { r.srv.Shutdown() })
	return r
}

func (r *restartable) start(t *testing.T) {
	t.Helper()
	srv, err := remote.StartServer(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.srv = srv
}

func (r *restartable) restart(t *testing.T) {
	t.Helper()
	r.srv.Shutdown()
	r.start(t)
}

func dialURL(t *testing.T, cfg remote.Config) *remote.Client {
	t.Helper()
	c, err := remote.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestFileStoreRestartKeepsQueuedTasksAndReconnects(t *testing.T) {
	r := startRestartable(t, t.TempDir())
	url := r.srv.URL()
	queued := dialURL(t, remote.Config{URL: url, Queue: "q1"})
	served := dialURL(t, remote.Config{URL: url, Queue: "q2"})
	serveInProcess(t, remote.Config{URL: url, Queue: "q2"}) // a worker that must reconnect

	// A task queued with no worker for it.
	f := remote.Spawn[int](context.Background(), queued, "add", pair{1, 2})
	eventually(t, "the task to be stored", func() bool { return remote.QueuedTasks(queued) == 1 })

	r.restart(t)
	eventually(t, "the clients to reconnect", func() bool { return remote.Connected(queued) && remote.Connected(served) })

	// The stored task survived: a worker started now runs it.
	serveInProcess(t, remote.Config{URL: url, Queue: "q1"})
	if v, err := await(t, f); err != nil || v != 3 {
		t.Fatalf("queued task = %v, %v; want 3", v, err)
	}
	// The worker that was there before the restart serves again.
	if v, err := await(t, remote.Spawn[int](context.Background(), served, "add", pair{2, 2})); err != nil || v != 4 {
		t.Fatalf("after the restart = %v, %v; want 4", v, err)
	}
}

func TestMemoryRestartRejectsLostTasks(t *testing.T) {
	r := startRestartable(t, "")
	url := r.srv.URL()
	c := dialURL(t, remote.Config{URL: url, Queue: "mem"})
	f := remote.Spawn[int](context.Background(), c, "add", pair{1, 2})
	eventually(t, "the task to be stored", func() bool { return remote.QueuedTasks(c) == 1 })
	r.restart(t) // a memory store: the task is gone
	if _, err := await(t, f); !errors.Is(err, remote.ErrResultLost) {
		t.Fatalf("err = %v; want ErrResultLost", err)
	}
	// The client set the queue up again: new tasks run.
	serveInProcess(t, remote.Config{URL: url, Queue: "mem"})
	if v, err := await(t, remote.Spawn[int](context.Background(), c, "add", pair{2, 2})); err != nil || v != 4 {
		t.Fatalf("after the restart = %v, %v; want 4", v, err)
	}
}

func TestCloseAndShutdownWhileTheServerIsAway(t *testing.T) {
	r := startRestartable(t, "")
	url := r.srv.URL()
	c, err := remote.Dial(context.Background(), remote.Config{URL: url, Queue: "away"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := remote.Serve(context.Background(), remote.Config{URL: url, Queue: "away"}, testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	f := remote.Spawn[int](context.Background(), c, "sleep", time.Hour)
	eventually(t, "the task to start", func() bool { return w.Stats().Active == 1 })
	r.srv.Shutdown() // and not started again
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = w.Shutdown(ctx)
	}()
	wait(t, done, "Close and Shutdown")
	if _, err := await(t, f); !errors.Is(err, workers.ErrPoolClosed) {
		t.Fatalf("err = %v; want ErrPoolClosed", err)
	}
	r.start(t) // for the cleanup's Shutdown
}

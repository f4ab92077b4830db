package remote_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/velalang/runtime/remote"
)

// env is an embedded server with a Worker and a Client on one queue.
type env struct {
	srv *remote.Server
	w   *remote.Worker
	c   *remote.Client
	cfg remote.Config
	h   *hooks
}

// newEnv starts a server without a listener, a worker serving the test
// registry (with blocking functions driven through env.h) and a client.
// Everything is stopped when the test ends.
func newEnv(t *testing.T, cfg remote.Config) *env {
	t.Helper()
	srv, err := remote.StartServer(remote.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	cfg.Server = srv
	e := &env{srv: srv, cfg: cfg, h: &hooks{
		started: make(chan string, 100),
		release: make(chan struct{}),
		ended:   make(chan error, 100),
	}}
	e.w = e.serve(t, cfg)
	e.c = e.dial(t, cfg)
	return e
}

func (e *env) serve(t *testing.T, cfg remote.Config) *remote.Worker {
	t.Helper()
	w, err := remote.Serve(context.Background(), cfg, testRegistryWith(e.h))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Worker.Shutdown: %v", err)
		}
	})
	return w
}

func (e *env) dial(t *testing.T, cfg remote.Config) *remote.Client {
	t.Helper()
	c, err := remote.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// wait returns the next value of ch, failing the test if none comes in
// a generous time (a "did happen" check).
func wait[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// await waits for f with a generous bound.
func await[T any](t *testing.T, f interface {
	Await(context.Context) (T, error)
}) (T, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return f.Await(ctx)
}

// eventually polls cond until it holds, failing after a generous bound.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// connect opens a plain NATS connection to srv, in-process, as a third
// party would.
func connect(t *testing.T, srv *remote.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// countRequests counts the JetStream API requests on subjects starting
// with any of prefixes, seen by a connection to srv.
func countRequests(t *testing.T, srv *remote.Server, prefixes ...string) func() int64 {
	t.Helper()
	nc := connect(t, srv)
	var n atomic.Int64
	if _, err := nc.Subscribe("$JS.API.>", func(m *nats.Msg) {
		for _, p := range prefixes {
			if strings.HasPrefix(m.Subject, p) {
				n.Add(1)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return n.Load
}

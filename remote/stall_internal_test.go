package remote

import (
	"context"
	"testing"
	"time"
)

// A pull request the server forgets without a word (here: it saw the
// worker's interest in the request's subject go, and dropped the request,
// before the worker subscribed again; a stream leader's change loses it
// the same way) is noticed by its missing heartbeats and asked again:
// a task queued meanwhile runs well within AckWait, sooner than the
// request would have expired.
func TestStalledPullIsReissuedWithinAckWait(t *testing.T) {
	const ackWait = 8 * time.Second
	expires, heartbeat := pullTiming(ackWait)
	srv, err := StartServer(ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	cfg := Config{Server: srv, Slots: 1, AckWait: ackWait}
	reg := NewRegistry()
	if err := Register(reg, "inc", func(_ context.Context, n int) (int, error) { return n + 1, nil }); err != nil {
		t.Fatal(err)
	}
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	w, err := Serve(context.Background(), cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(context.Background()) })
	waiting := func() int {
		cons, err := c.l.js.Consumer(context.Background(), c.s.stream, consumerName)
		if err != nil {
			return -1
		}
		return cons.CachedInfo().NumWaiting
	}
	poll(t, "the worker's pull request", func() bool { return waiting() == 1 })
	w.mu.Lock()
	req := w.in.req
	w.mu.Unlock()
	if req == nil || req.heartbeat != heartbeat {
		t.Fatalf("open request %+v; want one with heartbeats every %v", req, heartbeat)
	}

	// The server drops the request once it sees no interest in it (at its
	// next heartbeat); the worker subscribes again and still believes the
	// request open.
	if err := w.sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	poll(t, "the server to drop the request", func() bool { return waiting() == 0 })
	if w.sub, err = w.l.nc.Subscribe(w.inbox+"*", w.onDelivery); err != nil {
		t.Fatal(err)
	}
	if err := w.l.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	stalled := w.in.req == req
	w.mu.Unlock()
	if !stalled {
		t.Skip("the worker asked again before the stall was set up (a slow machine)")
	}

	start := time.Now()
	f := Spawn[int](context.Background(), c, "inc", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*ackWait)
	defer cancel()
	if v, err := f.Await(ctx); err != nil || v != 2 {
		t.Fatalf("= %v, %v", v, err)
	}
	took := time.Since(start)
	t.Logf("task queued during the stall ran after %v (request expiry %v, heartbeat %v, AckWait %v)", took, expires, heartbeat, ackWait)
	if took >= expires {
		t.Fatalf("the stalled request was replaced after %v: not before it would have expired (%v)", took, expires)
	}
}

// poll waits for cond with a generous bound.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

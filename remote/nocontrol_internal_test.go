package remote

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// On a nats-server of one's own with users and no control connection, a
// Client could neither withdraw its queued tasks (a cancelled task would
// run later on a worker that did not hear the cancel) nor delete one the
// server gave up on (it would stay queued, counting against MaxQueued):
// Dial refuses with ErrNoControl, at once, even for a queue an operator
// set up. A Worker, which withdraws nothing, still serves such a queue,
// and a Client dialled while a control connection answered keeps working
// (its withdrawals then leave the tasks queued: the documented limit).
func TestDialNeedsAControlConnectionOnAServerWithUsers(t *testing.T) {
	users := externalUsers
	url := externalServer(t, users, nil)
	ctx := context.Background()
	aliceCfg := Config{URL: url, Queue: "jobs", User: "alice", Password: "pa"}
	wkCfg := Config{URL: url, Queue: "jobs", User: "wk", Password: "pw"}

	// An operator's control connection sets the queue up; alice dials.
	ctl, err := ServeControl(ctx, Config{URL: url, User: "ops", Password: "po"}, users)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := Dial(ctx, aliceCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = alice.Close() })
	if w, err := Serve(ctx, wkCfg, NewRegistry()); err != nil {
		t.Fatal(err)
	} else if err := w.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ctl.Close()

	start := time.Now()
	_, err = Dial(ctx, aliceCfg)
	if !errors.Is(err, ErrNoControl) || !strings.Contains(err.Error(), "ServeControl") || time.Since(start) > 5*time.Second {
		t.Fatalf("Dial without a control connection: %v after %v; want ErrNoControl, naming ServeControl, at once", err, time.Since(start))
	}
	reg := NewRegistry()
	if err := Register(reg, "inc", func(_ context.Context, n int) (int, error) { return n + 1, nil }); err != nil {
		t.Fatal(err)
	}
	w, err := Serve(ctx, wkCfg, reg)
	if err != nil {
		t.Fatalf("Serve on a queue set up, without a control connection: %v", err)
	}
	t.Cleanup(func() { _ = w.Shutdown(ctx) })
	actx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if v, err := Spawn[int](actx, alice, "inc", 1).Await(actx); err != nil || v != 2 {
		t.Fatalf("a task of the client dialled before = %v, %v", v, err)
	}
}

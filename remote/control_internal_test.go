package remote

import (
	"context"
	"testing"
	"time"
)

// A nats-server of one's own, with the permissions the delivery note
// lists and no control connection inside: ServeControl beside it lets
// users set queues up and withdraw their tasks.
func TestServeControlBesideAnExternalServer(t *testing.T) {
	users := externalUsers
	url := externalServer(t, users, nil)
	ctx := context.Background()
	ctx2, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := Dial(ctx2, Config{URL: url, Queue: "jobs", User: "alice", Password: "pa"}); err == nil {
		t.Fatal("Dial set a queue up without a control connection")
	}
	ctl, err := ServeControl(ctx, Config{URL: url, User: "ops", Password: "po"}, users)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctl.Close)
	reg := NewRegistry()
	if err := Register(reg, "inc", func(_ context.Context, n int) (int, error) { return n + 1, nil }); err != nil {
		t.Fatal(err)
	}
	w, err := Serve(ctx, Config{URL: url, Queue: "jobs", User: "wk", Password: "pw"}, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(ctx) })
	c, err := Dial(ctx, Config{URL: url, Queue: "jobs", User: "alice", Password: "pa"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	actx, acancel := context.WithTimeout(ctx, 10*time.Second)
	defer acancel()
	if v, err := Spawn[int](actx, c, "inc", 41).Await(actx); err != nil || v != 42 {
		t.Fatalf("= %v, %v", v, err)
	}
}

package remote_test

import (
	"context"
	"testing"
	"time"

	"github.com/velalang/runtime/remote"
)

// A NotIdempotent task that a worker gives back unstarted at Shutdown
// still runs, once, on another worker: the give-back is not taken for a
// lost worker (it failed with ErrWorkerLost before).
func TestShutdownGivesBackANotIdempotentTaskThatThenRuns(t *testing.T) {
	e := newEnv(t, remote.Config{Slots: 1, AckWait: 10 * time.Second})
	busy := remote.Spawn[string](context.Background(), e.c, "block", "busy")
	wait(t, e.h.started, "the busy function to start")
	next := remote.Spawn[string](context.Background(), e.c, "blockOnce", "next")
	eventually(t, "the NotIdempotent task to wait on the worker", func() bool { return remote.AckPending(e.c) == 2 })
	done := make(chan error, 1)
	go func() { done <- e.w.Shutdown(context.Background()) }()
	e.serve(t, e.cfg)
	if got := wait(t, e.h.started, "the given-back task to start elsewhere"); got != "next" {
		t.Fatalf("started %q", got)
	}
	close(e.h.release)
	if v, err := await(t, next); err != nil || v != "next" {
		t.Fatalf("NotIdempotent task given back = %q, %v; want it to run", v, err)
	}
	if _, err := await(t, busy); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, done, "Shutdown"); err != nil {
		t.Fatal(err)
	}
}

package remote_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/velalang/runtime/remote"
)

// A message on the queue's subject that looks like the server's word about
// a pull request (a Status header, no body) is a message like any other:
// it is terminated, and the next task runs at once.
func TestStatusHeaderOnTheTaskSubjectIsNotTakenForTheServersWord(t *testing.T) {
	e := newEnv(t, remote.Config{Slots: 1, AckWait: 5 * time.Second})
	nc := connect(t, e.srv)
	for _, status := range []string{"404", "408", "409", "100", "503"} {
		m := &nats.Msg{Subject: "vela.default.tasks._.stray.1", Header: nats.Header{"Status": {status}, "Description": {"Consumer Deleted"}}}
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the stray messages to leave the queue", func() bool { return remote.QueuedTasks(e.c) == 0 })
	start := time.Now()
	if v, err := await(t, remote.Spawn[int](context.Background(), e.c, "add", pair{1, 2})); err != nil || v != 3 {
		t.Fatalf("= %v, %v", v, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the next task took %v", d)
	}
}

// After short tasks have opened the prefetch window, long ones close it:
// a worker gives back what it has not started beyond 2×Slots, so that its
// SIGKILL loses at most 2×Slots NotIdempotent tasks, not every task it
// took (it took all 40 before).
func TestLongTasksAfterShortOnesHoldAtMostTwiceSlots(t *testing.T) {
	const ackWait, slots, n = time.Second, 2, 40
	srv, c, cfg := listeningEnv(t, remote.Config{Queue: "window", AckWait: ackWait})
	_ = srv
	ch := startChild(t, srv.URL(), "window", ackWait, slots)
	for range 16 {
		if _, err := await(t, remote.Spawn[int](context.Background(), c, "pid", 0)); err != nil {
			t.Fatal(err)
		}
	}
	fs := make([]interface {
		Await(context.Context) (int, error)
	}, n)
	for i := range fs {
		fs[i] = remote.Spawn[int](context.Background(), c, "hangOnce", i)
	}
	for range slots {
		if l := wait(t, ch.lines, "a long task to start"); l != "started" {
			t.Fatalf("worker said %q", l)
		}
	}
	// What the worker gives back runs on a second worker.
	cfg.AckWait = ackWait
	w := serveInProcess(t, cfg)
	eventually(t, "the tasks given back to run elsewhere", func() bool { return w.Stats().Completed >= n-2*slots })
	ch.kill(t)
	lost := 0
	for i, f := range fs {
		_, err := await(t, f)
		switch {
		case errors.Is(err, remote.ErrWorkerLost):
			lost++
		case err != nil:
			t.Fatalf("task %d: %v", i, err)
		}
	}
	if lost < slots || lost > 2*slots {
		t.Fatalf("%d NotIdempotent tasks lost with the worker; want between Slots (%d) and 2×Slots (%d)", lost, slots, 2*slots)
	}
}

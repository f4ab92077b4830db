package remote_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
)

type traceKey struct{}

// recorder is a set of Hooks that carries a value from the caller's
// context to the worker's through a header, and keeps every record.
type recorder struct {
	mu     sync.Mutex
	calls  []remote.CallRecord
	starts []workers.TaskRecord
	dones  []workers.TaskRecord
}

func (r *recorder) hooks() remote.Hooks {
	return remote.Hooks{
		OnCallStart: func(ctx context.Context, c remote.CallRecord) context.Context {
			return context.WithValue(ctx, traceKey{}, "trace-of-"+c.ID)
		},
		Inject: func(ctx context.Context, set func(k, v string)) {
			if v, ok := ctx.Value(traceKey{}).(string); ok {
				set("x-test-trace", v)
			}
		},
		OnCallDone: func(c remote.CallRecord) { r.mu.Lock(); r.calls = append(r.calls, c); r.mu.Unlock() },
		Extract: func(ctx context.Context, get func(string) string) context.Context {
			if v := get("x-test-trace"); v != "" {
				return context.WithValue(ctx, traceKey{}, v)
			}
			return ctx
		},
		OnTaskStart: func(ctx context.Context, t workers.TaskRecord) context.Context {
			r.mu.Lock()
			r.starts = append(r.starts, t)
			r.mu.Unlock()
			return ctx
		},
		OnTaskDone: func(t workers.TaskRecord) { r.mu.Lock(); r.dones = append(r.dones, t); r.mu.Unlock() },
	}
}

func TestHooksCarryContextAndRecordEachCall(t *testing.T) {
	var rec recorder
	e := newEnv(t, remote.Config{Hooks: rec.hooks()})
	reg := remote.NewRegistry()
	must(remote.Register(reg, "seen", func(ctx context.Context, _ int) (string, error) {
		v, _ := ctx.Value(traceKey{}).(string)
		return v, nil
	}))
	// A second worker with its own registry on the same queue would steal
	// tasks; give "seen" its own queue instead.
	cfg := remote.Config{Server: e.srv, Queue: "seen", Hooks: rec.hooks()}
	w, err := remote.Serve(context.Background(), cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(context.Background()) })
	c := e.dial(t, cfg)

	ctx := context.Background()
	got, err := await(t, remote.Spawn[string](ctx, c, "seen", 1))
	if err != nil || got == "" {
		t.Fatalf("the function saw %q (%v); want the caller's value carried in the task's headers", got, err)
	}
	if _, err := await(t, remote.Spawn[int](ctx, e.c, "add", pair{1, 2})); err != nil {
		t.Fatal(err)
	}
	if _, err := await(t, remote.Spawn[int](ctx, e.c, "fail", "no")); err == nil {
		t.Fatal("fail succeeded")
	}
	if _, err := await(t, remote.Spawn[int](ctx, e.c, "sleep", time.Hour, workers.WithTimeout(50*time.Millisecond))); !errors.Is(err, workers.ErrTimeout) {
		t.Fatalf("sleep: %v, want a timeout", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	f := remote.Spawn[string](cctx, e.c, "block", "x")
	wait(t, e.h.started, "block to start")
	cancel()
	if _, err := await(t, f); !errors.Is(err, async.ErrCancelled) {
		t.Fatalf("block: %v, want cancelled", err)
	}

	rec.mu.Lock()
	calls := append([]remote.CallRecord(nil), rec.calls...)
	rec.mu.Unlock()
	want := []workers.Outcome{workers.Completed, workers.Completed, workers.Failed, workers.TimedOut, workers.Cancelled}
	if len(calls) != len(want) {
		t.Fatalf("%d call records, want %d: %+v", len(calls), len(want), calls)
	}
	for i, c := range calls {
		if c.Outcome != want[i] || c.RoundTrip() <= 0 || c.ID == "" || c.Context.Value(traceKey{}) != "trace-of-"+c.ID {
			t.Errorf("call %d: %+v (round trip %v), want outcome %v", i, c, c.RoundTrip(), want[i])
		}
	}
	if calls[0].Queue != "seen" || got != "trace-of-"+calls[0].ID {
		t.Errorf("the function saw %q, want the value of call %s on queue seen (%q)", got, calls[0].ID, calls[0].Queue)
	}
	if calls[3].RoundTrip() < 50*time.Millisecond {
		t.Errorf("the timed-out call's round trip %v is shorter than its timeout", calls[3].RoundTrip())
	}

	// The worker's side: every started task has a record that names its
	// delivery, and, once they have all ended, each has a done record.
	eventually(t, "the workers' records", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.dones) == len(rec.starts) && len(rec.starts) >= 4
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	byID := map[string]remote.CallRecord{}
	for _, c := range calls {
		byID[c.ID] = c
	}
	for _, d := range rec.dones {
		dl, ok := remote.DeliveryOf(d.Context)
		c, known := byID[dl.TaskID]
		if !ok || !known || dl.Attempt != 1 || d.Name != c.Name || d.Context.Value(traceKey{}) != "trace-of-"+c.ID {
			t.Errorf("worker record %+v (delivery %+v), not matched to its call", d, dl)
		}
	}
}

func TestQueueInfo(t *testing.T) {
	e := newEnv(t, remote.Config{Slots: 2})
	ctx := context.Background()
	qi, err := e.c.QueueInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if qi.Queue != "default" || qi.Workers != 1 || qi.Slots != 2 || qi.Running != 0 || qi.Queued != 0 {
		t.Errorf("idle queue: %+v, want one worker with 2 slots, nothing running or queued", qi)
	}
	f := remote.Spawn[string](ctx, e.c, "block", "a")
	wait(t, e.h.started, "block to start")
	qi, err = e.c.QueueInfo(ctx)
	if err != nil || qi.Running != 1 || qi.Held != 1 {
		t.Errorf("one running: %+v (%v), want Running 1, Held 1", qi, err)
	}
	close(e.h.release)
	await(t, f)

	// A queue nobody serves: the tasks wait, and QueueInfo says why.
	lonely := e.dial(t, remote.Config{Server: e.srv, Queue: "lonely"})
	g := remote.Spawn[int](ctx, lonely, "add", pair{1, 1})
	eventually(t, "the task to be queued", func() bool {
		qi, err = lonely.QueueInfo(ctx)
		return err == nil && qi.Queued == 1
	})
	if qi.Workers != 0 || qi.Held != 0 {
		t.Errorf("unserved queue: %+v, want no workers", qi)
	}
	g.Cancel()
	var nilCtx context.Context
	if _, err := lonely.QueueInfo(nilCtx); !errors.Is(err, workers.ErrInvalidArgument) {
		t.Errorf("QueueInfo(nil): %v", err)
	}
	_ = lonely.Close()
	if _, err := lonely.QueueInfo(ctx); !errors.Is(err, workers.ErrPoolClosed) {
		t.Errorf("QueueInfo on a closed client: %v, want ErrPoolClosed", err)
	}
}

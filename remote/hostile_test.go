package remote_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/remote"
)

// A party that received one task (here: a third party on an open server,
// which reads every task) knows that task's batch and secret, and every
// task's id. Cancels that pair that secret with another batch or another
// batch's task id, near misses of a secret, and malformed lines cancel
// nothing: neither a running task, nor one waiting on the worker's pool,
// nor one still queued (which the worker must not remember as
// cancelled).
func TestCancelsForAnotherBatchAreIgnored(t *testing.T) {
	e := newEnv(t, remote.Config{Slots: 2})
	tasks := stealTask(t, e.srv)
	type stolen struct{ batch, id, secret string }
	steal := func() stolen {
		m := wait(t, tasks, "a task")
		id, secret, _, ok := remote.TaskEnvelope(m.Subject, m.Data)
		if !ok {
			t.Fatal("not a task")
		}
		return stolen{strings.TrimPrefix(m.Subject, "vela.default.tasks."), id, secret}
	}
	y := remote.Spawn[string](context.Background(), e.c, "block", "y")
	sy := steal()
	z := remote.Spawn[string](context.Background(), e.c, "block", "z")
	steal()
	wait(t, e.h.started, "a function to start")
	wait(t, e.h.started, "a function to start")
	x := remote.Spawn[string](context.Background(), e.c, "block", "x") // waits on the pool
	sx := steal()
	y2 := remote.Spawn[string](context.Background(), e.c, "block", "y2") // waits on the pool
	sy2 := steal()
	eventually(t, "four tasks held", func() bool { return remote.AckPending(e.c) == 4 })
	y3 := remote.Spawn[string](context.Background(), e.c, "block", "y3") // queued: the window is full
	sy3 := steal()

	var lines []string
	for _, v := range []stolen{sy, sy2, sy3} {
		lines = append(lines,
			sx.batch+" "+sx.secret+" "+v.id, // x's batch and secret, v's id
			v.batch+" "+sx.secret+" "+v.id,  // v's batch and id, x's secret
			v.batch+" "+sx.secret,           // v's batch, x's secret
			v.batch+" "+v.secret[:len(v.secret)-1],
			v.batch+" "+v.secret+"x",
			v.batch+"  "+v.secret,
			v.batch+" "+strings.ToUpper(v.secret),
			v.batch,
			" "+v.secret,
		)
	}
	lines = append(lines, "", " ", "  \x00 ", strings.Repeat("_.a ", 1<<16))
	nc := connect(t, e.srv)
	if err := nc.Publish("vela.default.cancel._", []byte(strings.Join(lines, "\n"))); err != nil {
		t.Fatal(err)
	}
	// The right secret on another user's cancel subject.
	if err := nc.Publish("vela.default.cancel.mallory", []byte(sy.batch+" "+sy.secret+"\n"+sy3.batch+" "+sy3.secret)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// A real cancel, after the forged ones on the worker's one cancel
	// subscription: once it has ended z's function, every forged line has
	// been read.
	z.Cancel()
	wait(t, e.h.ended, "the cancelled function to end")
	select { // a "did not happen" check waits briefly
	case err := <-e.h.ended:
		t.Fatalf("a forged cancel ended a function: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	for name, f := range map[string]*async.Future[string]{"y": y, "x": x, "y2": y2, "y3": y3} {
		if f.State() != async.Pending {
			t.Fatalf("%s: %v after forged cancels", name, f.State())
		}
	}
	close(e.h.release)
	for name, f := range map[string]*async.Future[string]{"y": y, "x": x, "y2": y2, "y3": y3} {
		if v, err := await(t, f); err != nil || v != name {
			t.Fatalf("%s = %q, %v; want it to run", name, v, err)
		}
	}
}

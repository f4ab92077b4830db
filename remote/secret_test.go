package remote_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/remote"
)

// stealTask reads the next task published on the queue, as a third party
// subscribed to the queue's subjects would.
func stealTask(t *testing.T, srv *remote.Server) <-chan *nats.Msg {
	t.Helper()
	nc := connect(t, srv)
	ch := make(chan *nats.Msg, 16)
	if _, err := nc.ChanSubscribe("vela.*.tasks.>", ch); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return ch
}

// A reply without the task's secret is dropped: a party that can publish
// on the reply subject but never received the task cannot settle it.
func TestReplyWithoutTheSecretIsDropped(t *testing.T) {
	e := newEnv(t, remote.Config{})
	tasks := stealTask(t, e.srv)
	f := remote.Spawn[string](context.Background(), e.c, "block", "real")
	m := wait(t, tasks, "the task")
	wait(t, e.h.started, "the function to start")
	nc := connect(t, e.srv)
	subj, data := remote.ForgedReply(m.Subject, m.Data, []byte(`"forged"`))
	if err := nc.Publish(subj, data); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	close(e.h.release)
	if v, err := await(t, f); err != nil || v != "real" {
		t.Fatalf("= %q, %v; want the worker's reply", v, err)
	}
}

// A cancel without the task's secret, or for another user's batch, leaves
// the task running; with it, it cancels.
func TestCancelWithoutTheSecretIsIgnored(t *testing.T) {
	e := newEnv(t, remote.Config{})
	tasks := stealTask(t, e.srv)
	f := remote.Spawn[string](context.Background(), e.c, "block", "real")
	m := wait(t, tasks, "the task")
	wait(t, e.h.started, "the function to start")
	batch := strings.TrimPrefix(m.Subject, "vela.default.tasks.")
	_, secret, _, _ := remote.TaskEnvelope(m.Subject, m.Data)
	nc := connect(t, e.srv)
	for subj, line := range map[string]string{
		"vela.default.cancel._":     batch + " guess\n" + batch + "\n" + batch + " \n",
		"vela.default.cancel.other": batch + " " + secret + "\n",
	} {
		if err := nc.Publish(subj, []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// The worker has the forged cancels before the real reply below.
	time.Sleep(50 * time.Millisecond) // a "did not happen" check waits briefly
	if f.State() != async.Pending {
		t.Fatalf("a forged cancel settled the task: %v", f.State())
	}
	select {
	case err := <-e.h.ended:
		t.Fatalf("a forged cancel ended the function: %v", err)
	default:
	}
	close(e.h.release)
	if v, err := await(t, f); err != nil || v != "real" {
		t.Fatalf("= %q, %v", v, err)
	}
}

// Forged cancels of tasks a worker does not hold cost it bounded memory
// (8.5 M of them grew a worker's heap to 520 MB before).
func TestForgedCancelsCostBoundedMemory(t *testing.T) {
	e := newEnv(t, remote.Config{})
	nc := connect(t, e.srv)
	const n = 3 * remote.MaxCancels
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "_.forged.%d secret%d\n", i, i)
		if b.Len() > 500_000 || i == n-1 {
			if err := nc.Publish("vela.default.cancel._", []byte(b.String())); err != nil {
				t.Fatal(err)
			}
			b.Reset()
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// A probe's reply comes after the worker has read the cancels.
	if _, err := await(t, remote.Spawn[int](context.Background(), e.c, "add", pair{})); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the cancels to be read", func() bool { return remote.RememberedCancels(e.w) > 0 })
	if got := remote.RememberedCancels(e.w); got > remote.MaxCancels {
		t.Fatalf("the worker remembers %d cancels; the bound is %d", got, remote.MaxCancels)
	}
}

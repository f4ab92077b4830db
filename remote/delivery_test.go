package remote_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
)

// child is a worker process: this test binary re-executed with workerEnv.
type child struct {
	cmd   *exec.Cmd
	lines chan string
}

// startChild starts a worker process on srv's queue and waits until it
// serves.
func startChild(t testing.TB, url, queue string, ackWait time.Duration, slots int) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), workerEnv+"="+url, "VELA_REMOTE_TEST_QUEUE="+queue,
		"VELA_REMOTE_TEST_ACKWAIT="+ackWait.String(), "VELA_REMOTE_TEST_SLOTS="+strconv.Itoa(slots))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &child{cmd: cmd, lines: make(chan string, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			ch.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		<-done
	})
	if l := wait(t, ch.lines, "the worker process to serve"); l != "ready" {
		t.Fatalf("worker process said %q", l)
	}
	return ch
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// listeningEnv is a server with a loopback listener and a client, without
// a worker.
func listeningEnv(t *testing.T, cfg remote.Config) (*remote.Server, *remote.Client, remote.Config) {
	t.Helper()
	srv, err := remote.StartServer(remote.ServerConfig{Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	if srv.URL() == "" {
		t.Fatal("no URL for a server with a listener")
	}
	cfg.Server = srv
	c, err := remote.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return srv, c, cfg
}

func serveInProcess(t *testing.T, cfg remote.Config) *remote.Worker {
	t.Helper()
	w, err := remote.Serve(context.Background(), cfg, testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(context.Background()) })
	return w
}

func TestKilledWorkerProcessTaskRunsElsewhere(t *testing.T) {
	const ackWait = 300 * time.Millisecond
	srv, c, cfg := listeningEnv(t, remote.Config{Queue: "kill", AckWait: ackWait})
	ch := startChild(t, srv.URL(), "kill", ackWait, 1)
	f := remote.Spawn[int](context.Background(), c, "hang", 0)
	if l := wait(t, ch.lines, "the task to start in the worker process"); l != "started" {
		t.Fatalf("worker process said %q", l)
	}
	ch.kill(t)
	killed := time.Now()
	cfg.AckWait = ackWait
	serveInProcess(t, cfg)
	pid, err := await(t, f)
	if err != nil {
		t.Fatal(err)
	}
	if pid != os.Getpid() {
		t.Fatalf("result from pid %d; want this process's run (%d)", pid, os.Getpid())
	}
	if since := time.Since(killed); since < ackWait/2 {
		t.Fatalf("redelivered after %v, before AckWait %v", since, ackWait)
	}
}

func TestKilledWorkerProcessNotIdempotentFails(t *testing.T) {
	const ackWait = 300 * time.Millisecond
	srv, c, cfg := listeningEnv(t, remote.Config{Queue: "killonce", AckWait: ackWait})
	ch := startChild(t, srv.URL(), "killonce", ackWait, 1)
	f := remote.Spawn[int](context.Background(), c, "hangOnce", 0)
	wait(t, ch.lines, "the task to start in the worker process")
	ch.kill(t)
	w := serveInProcess(t, cfg)
	if _, err := await(t, f); !errors.Is(err, remote.ErrWorkerLost) {
		t.Fatalf("err = %v; want ErrWorkerLost", err)
	}
	if st := w.Stats(); st.Submitted != 0 {
		t.Fatalf("the NotIdempotent function ran again (%d runs)", st.Submitted)
	}
}

func TestLongFunctionIsNotRedeliveredWhileItsWorkerLives(t *testing.T) {
	cfg := remote.Config{Slots: 1, AckWait: 250 * time.Millisecond}
	e := newEnv(t, cfg)
	other := e.serve(t, e.cfg) // a second worker that would take a redelivery
	// Runs for 5 AckWaits.
	if _, err := await(t, remote.Spawn[int](context.Background(), e.c, "sleep", 1250*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n := e.w.Stats().Submitted + other.Stats().Submitted; n != 1 {
		t.Fatalf("the function ran %d times; want 1", n)
	}
}

func TestShutdownReturnsRunningTasksToTheQueue(t *testing.T) {
	e := newEnv(t, remote.Config{Slots: 1, AckWait: 5 * time.Second})
	f := remote.Spawn[string](context.Background(), e.c, "block", "a")
	wait(t, e.h.started, "the function to start")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.w.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v; want DeadlineExceeded", err)
	}
	wait(t, e.h.ended, "the function's context to end")
	// Another worker takes it at once (a Nak, not an AckWait).
	e.serve(t, e.cfg)
	if got := wait(t, e.h.started, "the task to start again"); got != "a" {
		t.Fatalf("started %q", got)
	}
	close(e.h.release)
	if v, err := await(t, f); err != nil || v != "a" {
		t.Fatalf("= %q, %v", v, err)
	}
}

func TestShutdownWaitsForRunningTasks(t *testing.T) {
	e := newEnv(t, remote.Config{})
	f := remote.Spawn[string](context.Background(), e.c, "block", "a")
	wait(t, e.h.started, "the function to start")
	done := make(chan error, 1)
	go func() { done <- e.w.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a function ran", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(e.h.release)
	if err := wait(t, done, "Shutdown"); err != nil {
		t.Fatal(err)
	}
	if v, err := await(t, f); err != nil || v != "a" {
		t.Fatalf("= %q, %v", v, err)
	}
}

func TestMaxDeliverFailsWithWorkerLost(t *testing.T) {
	cfg := remote.Config{Queue: "lost", AckWait: 100 * time.Millisecond, MaxDeliver: 2}
	srv, c, cfg := listeningEnv(t, cfg)
	// A worker sets the consumer up, then leaves.
	w, err := remote.Serve(context.Background(), cfg, testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := remote.Spawn[int](context.Background(), c, "add", pair{1, 2})
	// A worker that dies with every task: it takes each delivery and
	// never answers.
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	cons, err := js.Consumer(context.Background(), "VELA_lost", "workers")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if m := wait(t, batch.Messages(), "a delivery"); m == nil {
			t.Fatalf("delivery %d: none", i+1)
		}

	}
	// Workers keep asking for tasks; the server notices the last
	// delivery's AckWait passing when it looks for one to give them.
	more, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for range more.Messages() {
		}
	}()
	if _, err := await(t, f); !errors.Is(err, remote.ErrWorkerLost) {
		t.Fatalf("err = %v; want ErrWorkerLost", err)
	}
}

func TestMaxQueuedRefusesWithQueueFull(t *testing.T) {
	_, c, _ := listeningEnv(t, remote.Config{Queue: "bounded", MaxQueued: 2})
	ctx := context.Background()
	a := remote.Spawn[int](ctx, c, "add", pair{})
	b := remote.Spawn[int](ctx, c, "add", pair{})
	if _, err := await(t, remote.Spawn[int](ctx, c, "add", pair{})); !errors.Is(err, workers.ErrQueueFull) {
		t.Fatalf("third task: err = %v; want ErrQueueFull", err)
	}
	for _, f := range []interface{ Cancel() bool }{a, b} {
		if !f.Cancel() {
			t.Fatal("the first two tasks should still be pending")
		}
	}
}

func TestSecondReplyIsIgnored(t *testing.T) {
	srv, c, cfg := listeningEnv(t, remote.Config{Queue: "dup", AckWait: 200 * time.Millisecond})
	f := remote.Spawn[int](context.Background(), c, "add", pair{20, 22})

	// A first worker answers 7 and dies before its acknowledgement.
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	cons, err := js.Consumer(context.Background(), "VELA_dup", "workers")
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	m := wait(t, batch.Messages(), "a delivery")
	subject, data := remote.FakeReply(m.Subject(), m.Data(), []byte("7"))
	if err := nc.Publish(subject, data); err != nil {
		t.Fatal(err)
	}
	if v, err := await(t, f); err != nil || v != 7 {
		t.Fatalf("= %v, %v; want the first reply, 7", v, err)
	}

	// The task is redelivered after AckWait and answered again: ignored.
	w := serveInProcess(t, cfg)
	eventually(t, "the second run to finish", func() bool { return w.Stats().Completed == 1 && remote.QueuedTasks(c) == 0 })
	if v, err := await(t, f); err != nil || v != 7 {
		t.Fatalf("after a second reply = %v, %v; want 7", v, err)
	}
}

func TestShutdownGivesBackTasksNotStarted(t *testing.T) {
	e := newEnv(t, remote.Config{Slots: 1, AckWait: 10 * time.Second})
	busy := remote.Spawn[string](context.Background(), e.c, "block", "busy")
	wait(t, e.h.started, "the busy function to start")
	next := remote.Spawn[string](context.Background(), e.c, "block", "next") // held, waiting on the pool
	done := make(chan error, 1)
	go func() { done <- e.w.Shutdown(context.Background()) }()
	// Another worker gets "next" at once, not after AckWait, while "busy"
	// still runs on the first.
	e.serve(t, e.cfg)
	if got := wait(t, e.h.started, "the waiting task to start elsewhere"); got != "next" {
		t.Fatalf("started %q", got)
	}
	close(e.h.release)
	for _, f := range []interface {
		Await(context.Context) (string, error)
	}{busy, next} {
		if _, err := await(t, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := wait(t, done, "Shutdown"); err != nil {
		t.Fatal(err)
	}
}

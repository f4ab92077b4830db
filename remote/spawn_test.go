package remote_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
)

func TestSpawnValue(t *testing.T) {
	e := newEnv(t, remote.Config{})
	v, err := await(t, remote.Spawn[int](context.Background(), e.c, "add", pair{2, 3}))
	if err != nil || v != 5 {
		t.Fatalf("add(2, 3) = %v, %v; want 5, nil", v, err)
	}
	s, err := await(t, remote.Spawn[string](context.Background(), e.c, "text", "héllo"))
	if err != nil || s != "héllo" {
		t.Fatalf("text = %q, %v", s, err)
	}
	if st := e.w.Stats(); st.Completed != 2 {
		t.Fatalf("worker Stats.Completed = %d, want 2", st.Completed)
	}
}

func TestSpawnRemoteError(t *testing.T) {
	e := newEnv(t, remote.Config{})
	_, err := await(t, remote.Spawn[int](context.Background(), e.c, "fail", "disk full"))
	var re *remote.RemoteError
	if !errors.As(err, &re) || re.Function != "fail" || re.Message != "disk full" {
		t.Fatalf("err = %#v; want *RemoteError{fail, disk full}", err)
	}
}

func TestSpawnPanic(t *testing.T) {
	e := newEnv(t, remote.Config{})
	_, err := await(t, remote.Spawn[int](context.Background(), e.c, "boom", "kaput"))
	var pe *async.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v; want *async.PanicError", err)
	}
	if pe.Value != "kaput" {
		t.Errorf("PanicError.Value = %#v, want \"kaput\"", pe.Value)
	}
	if !strings.Contains(string(pe.Stack), "remote_test.testRegistryWith") {
		t.Errorf("PanicError.Stack is not the worker's stack:\n%s", pe.Stack)
	}
}

func TestSpawnUnknownFunctionSettlesAtOnce(t *testing.T) {
	e := newEnv(t, remote.Config{})
	// No timeout: the worker's answer settles it, not a deadline.
	_, err := await(t, remote.Spawn[int](context.Background(), e.c, "nope", 1))
	if !errors.Is(err, remote.ErrUnknownFunction) {
		t.Fatalf("err = %v; want ErrUnknownFunction", err)
	}
}

func TestSpawnCodecErrors(t *testing.T) {
	e := newEnv(t, remote.Config{})
	ctx := context.Background()

	// An argument JSON cannot encode: refused before anything is sent.
	_, err := await(t, remote.Spawn[int](ctx, e.c, "add", math.Inf(1)))
	if !errors.Is(err, remote.ErrCodec) {
		t.Fatalf("unencodable argument: err = %v; want ErrCodec", err)
	}
	// An argument the worker cannot decode into the function's type.
	_, err = await(t, remote.Spawn[int](ctx, e.c, "add", "not a pair"))
	if !errors.Is(err, remote.ErrCodec) {
		t.Fatalf("undecodable argument: err = %v; want ErrCodec", err)
	}
	// A result the caller cannot decode into R.
	_, err = await(t, remote.Spawn[int](ctx, e.c, "text", "not an int"))
	if !errors.Is(err, remote.ErrCodec) {
		t.Fatalf("undecodable result: err = %v; want ErrCodec", err)
	}
	if st := e.w.Stats(); st.Submitted != 2 {
		t.Fatalf("worker ran %d functions, want 2 (the unencodable argument is never sent)", st.Submitted)
	}
}

func TestSpawnTooLarge(t *testing.T) {
	e := newEnv(t, remote.Config{})
	big := strings.Repeat("x", 2<<20) // the server's limit is 1 MiB
	_, err := await(t, remote.Spawn[string](context.Background(), e.c, "text", big))
	if !errors.Is(err, remote.ErrTooLarge) || !strings.Contains(err.Error(), "payload limit") {
		t.Fatalf("err = %v; want ErrTooLarge saying so", err)
	}
}

func TestBadInputNeverPanics(t *testing.T) {
	e := newEnv(t, remote.Config{})
	ctx := context.Background()
	p, _ := workers.NewPool(workers.Config{MaxWorkers: 1})
	defer p.Close()
	var nilCtx context.Context
	cases := map[string]*async.Future[int]{
		"nil ctx":          remote.Spawn[int](nilCtx, e.c, "add", pair{}),
		"nil client":       remote.Spawn[int](ctx, nil, "add", pair{}),
		"zero client":      remote.Spawn[int](ctx, &remote.Client{}, "add", pair{}),
		"empty name":       remote.Spawn[int](ctx, e.c, "", pair{}),
		"OnPool":           remote.Spawn[int](ctx, e.c, "add", pair{}, workers.OnPool(p)),
		"negative timeout": remote.Spawn[int](ctx, e.c, "add", pair{}, workers.WithTimeout(-time.Second)),
		"zero option":      remote.Spawn[int](ctx, e.c, "add", pair{}, workers.Option{}),
	}
	for name, f := range cases {
		if _, err := await(t, f); !errors.Is(err, workers.ErrInvalidArgument) {
			t.Errorf("%s: err = %v; want ErrInvalidArgument", name, err)
		}
	}
	all := remote.SpawnAll[int](ctx, e.c, "add", []pair{{}}, workers.OnPool(p))
	if _, err := await(t, all); !errors.Is(err, workers.ErrInvalidArgument) {
		t.Errorf("SpawnAll with OnPool: err = %v", err)
	}

	r := remote.NewRegistry()
	for name, err := range map[string]error{
		"empty name": remote.Register(r, "", func(context.Context, int) (int, error) { return 0, nil }),
		"nil fn":     remote.Register[int, int](r, "f", nil),
		"nil reg":    remote.Register(nil, "f", func(context.Context, int) (int, error) { return 0, nil }),
	} {
		if !errors.Is(err, workers.ErrInvalidArgument) {
			t.Errorf("Register %s: err = %v", name, err)
		}
	}
	must(remote.Register(r, "f", func(context.Context, int) (int, error) { return 0, nil }))
	if err := remote.Register(r, "f", func(context.Context, int) (int, error) { return 0, nil }); !errors.Is(err, workers.ErrInvalidArgument) {
		t.Errorf("Register of a taken name: err = %v", err)
	}

	for name, cfg := range map[string]remote.Config{
		"negative slots":      {Server: e.srv, Slots: -1},
		"negative ack wait":   {Server: e.srv, AckWait: -1},
		"negative deliveries": {Server: e.srv, MaxDeliver: -1},
		"negative max queued": {Server: e.srv, MaxQueued: -1},
		"bad queue name":      {Server: e.srv, Queue: "a.b"},
		"URL and Server":      {Server: e.srv, URL: "nats://127.0.0.1:1"},
	} {
		if _, err := remote.Dial(ctx, cfg); !errors.Is(err, workers.ErrInvalidArgument) {
			t.Errorf("Dial with %s: err = %v", name, err)
		}
		if _, err := remote.Serve(ctx, cfg, r); !errors.Is(err, workers.ErrInvalidArgument) {
			t.Errorf("Serve with %s: err = %v", name, err)
		}
	}
	if _, err := remote.Dial(nilCtx, e.cfg); !errors.Is(err, workers.ErrInvalidArgument) {
		t.Errorf("Dial with a nil ctx: err = %v", err)
	}
	if _, err := remote.Serve(ctx, e.cfg, nil); !errors.Is(err, workers.ErrInvalidArgument) {
		t.Errorf("Serve with a nil registry: err = %v", err)
	}
	if err := e.w.Shutdown(nilCtx); !errors.Is(err, workers.ErrInvalidArgument) {
		t.Errorf("Shutdown with a nil ctx: err = %v", err)
	}
	if _, err := remote.StartServer(remote.ServerConfig{Port: -2}); !errors.Is(err, workers.ErrInvalidArgument) {
		t.Errorf("StartServer with port -2: err = %v", err)
	}
}

func TestCloseRejectsPending(t *testing.T) {
	e := newEnv(t, remote.Config{})
	f := remote.Spawn[string](context.Background(), e.c, "block", "a")
	wait(t, e.h.started, "the function to start")
	if err := e.c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := await(t, f); !errors.Is(err, workers.ErrPoolClosed) {
		t.Fatalf("pending future after Close: err = %v; want ErrPoolClosed", err)
	}
	// The running function is told too.
	if cause := wait(t, e.h.ended, "the function's context to end"); cause == nil {
		t.Fatal("no cause")
	}
	if _, err := await(t, remote.Spawn[int](context.Background(), e.c, "add", pair{})); !errors.Is(err, workers.ErrPoolClosed) {
		t.Fatalf("Spawn after Close: err = %v; want ErrPoolClosed", err)
	}
}

func TestServerShutdownRejectsPending(t *testing.T) {
	e := newEnv(t, remote.Config{})
	f := remote.Spawn[string](context.Background(), e.c, "block", "a")
	wait(t, e.h.started, "the function to start")
	e.srv.Shutdown()
	if _, err := await(t, f); !errors.Is(err, workers.ErrPoolClosed) {
		t.Fatalf("pending future after the server's Shutdown: err = %v; want ErrPoolClosed", err)
	}
	wait(t, e.h.ended, "the function's context to end")
}

func TestSharedEmbeddedServer(t *testing.T) {
	ctx := context.Background()
	h := &hooks{started: make(chan string, 1), release: make(chan struct{}), ended: make(chan error, 1)}
	// The worker comes first: either side may.
	w, err := remote.Serve(ctx, remote.Config{Queue: "shared"}, testRegistryWith(h))
	if err != nil {
		t.Fatal(err)
	}
	c, err := remote.Dial(ctx, remote.Config{Queue: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := await(t, remote.Spawn[int](ctx, c, "add", pair{40, 2}))
	if err != nil || v != 42 {
		t.Fatalf("add = %v, %v", v, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// goleak in TestMain checks that the shared server stopped with the
	// last user.
}

func TestCBORCodec(t *testing.T) {
	e := newEnv(t, remote.Config{Codec: remote.CBOR})
	v, err := await(t, remote.Spawn[int](context.Background(), e.c, "add", pair{40, 2}))
	if err != nil || v != 42 {
		t.Fatalf("add over CBOR = %v, %v", v, err)
	}
	s, err := await(t, remote.Spawn[string](context.Background(), e.c, "text", "ok"))
	if err != nil || s != "ok" {
		t.Fatalf("text over CBOR = %q, %v", s, err)
	}
	_, err = await(t, remote.Spawn[int](context.Background(), e.c, "add", func() {}))
	if !errors.Is(err, remote.ErrCodec) {
		t.Fatalf("a function as argument: err = %v; want ErrCodec", err)
	}
}

func TestDialAndServeRaceToCreateTheQueue(t *testing.T) {
	srv, err := remote.StartServer(remote.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	cfg := remote.Config{Server: srv, Queue: "race", MaxQueued: 100, AckWait: time.Second}
	const n = 4
	errs := make(chan error, 2*n)
	clients := make(chan *remote.Client, n)
	ws := make(chan *remote.Worker, n)
	for range n {
		go func() {
			c, err := remote.Dial(context.Background(), cfg)
			errs <- err
			clients <- c
		}()
		go func() {
			w, err := remote.Serve(context.Background(), cfg, testRegistry())
			errs <- err
			ws <- w
		}()
	}
	for range 2 * n {
		if err := wait(t, errs, "Dial or Serve"); err != nil {
			t.Fatal(err)
		}
	}
	c := <-clients
	if v, err := await(t, remote.Spawn[int](context.Background(), c, "add", pair{1, 1})); err != nil || v != 2 {
		t.Fatalf("= %v, %v", v, err)
	}
	_ = c.Close()
	for range n - 1 {
		_ = (<-clients).Close()
	}
	for range n {
		_ = (<-ws).Shutdown(context.Background())
	}
}

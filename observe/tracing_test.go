package observe_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/velalang/runtime/observe"
	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func tracedObserver(t *testing.T) (*observe.Observer, *tracetest.SpanRecorder, trace.Tracer) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	o, err := observe.New(observe.Options{TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close() })
	return o, sr, tp.Tracer("test")
}

func attr(s sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func spansNamed(sr *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func wantChild(t *testing.T, child, parent sdktrace.ReadOnlySpan) {
	t.Helper()
	if child.Parent().SpanID() != parent.SpanContext().SpanID() || child.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("span %q (parent %s) is not a child of %q (%s)", child.Name(), child.Parent().SpanID(), parent.Name(), parent.SpanContext().SpanID())
	}
}

func TestTracesOfPoolTasks(t *testing.T) {
	o, sr, tr := tracedObserver(t)
	p, err := o.NewPool(workers.Config{MaxWorkers: 2, Name: "traced"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, root := tr.Start(context.Background(), "request")
	on := workers.OnPool(p)
	// The function's own span is a child of the task's span.
	_, _ = workers.Spawn(ctx, func(ctx context.Context) (int, error) {
		_, s := tr.Start(ctx, "inner")
		s.End()
		return 1, nil
	}, on, workers.WithName("resize")).Await(ctx)
	_, _ = workers.Spawn(ctx, func(context.Context) (int, error) { panic("oops") }, on, workers.WithName("panics")).Await(ctx)
	_, _ = workers.Spawn(ctx, func(context.Context) (int, error) { return 0, errBoom }, on, workers.WithName("fails")).Await(ctx)
	_, _ = workers.Spawn(ctx, func(context.Context) (int, error) { runtime.Goexit(); return 0, nil }, on, workers.WithName("goexits")).Await(ctx)
	_, _ = workers.Spawn(ctx, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, nil }, on,
		workers.WithName("slow"), workers.WithTimeout(10*time.Millisecond)).Await(ctx)
	cctx, cancel := context.WithCancel(ctx)
	started := make(chan struct{})
	f := workers.Spawn(cctx, func(ctx context.Context) (int, error) { close(started); <-ctx.Done(); return 0, ctx.Err() }, on, workers.WithName("cancelled"))
	<-started
	cancel()
	_, _ = f.Await(ctx)
	// A batch: one span per task, siblings under the caller's span; the
	// tasks that never start after a failure share one span.
	fns := make([]func(context.Context) (int, error), 20)
	for i := range fns {
		fns[i] = func(context.Context) (int, error) { return i, nil }
	}
	fns[0] = func(context.Context) (int, error) { return 0, errBoom }
	one := workers.Config{MaxWorkers: 1, Name: "one"}
	p1, err := o.NewPool(one)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = workers.SpawnAll(ctx, fns, workers.OnPool(p1), workers.WithName("batch")).Await(ctx)
	_, _ = workers.SpawnAll(ctx, fns[1:4], workers.OnPool(p1), workers.WithName("ok-batch")).Await(ctx)
	for _, q := range []*workers.Pool{p, p1} {
		if err := q.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	root.End()
	rootSpan := spansNamed(sr, "request")[0]

	byName := func(n string) sdktrace.ReadOnlySpan {
		s := spansNamed(sr, n)
		if len(s) != 1 {
			t.Fatalf("%d spans named %q, want 1", len(s), n)
		}
		return s[0]
	}
	resize := byName("task resize")
	wantChild(t, resize, rootSpan)
	wantChild(t, byName("inner"), resize)
	if resize.Status().Code == codes.Error || resize.SpanKind() != trace.SpanKindInternal || attr(resize, "vela.pool").AsString() != "traced" {
		t.Errorf("resize: status %v kind %v pool %v", resize.Status(), resize.SpanKind(), attr(resize, "vela.pool"))
	}
	if len(resize.Events()) != 1 || resize.Events()[0].Name != "started" {
		t.Errorf("resize events %v, want one \"started\"", resize.Events())
	}
	for name, kind := range map[string]string{"task panics": "panic", "task fails": "error", "task goexits": "error",
		"task slow": "timed_out", "task cancelled": "cancelled"} {
		s := byName(name)
		wantChild(t, s, rootSpan)
		if s.Status().Code != codes.Error || attr(s, "error.type").AsString() != kind {
			t.Errorf("%s: status %v, error.type %q, want Error and %q", name, s.Status(), attr(s, "error.type").AsString(), kind)
		}
	}
	batch := spansNamed(sr, "task batch")
	var shared, ran int
	for _, s := range batch {
		wantChild(t, s, rootSpan)
		if n := attr(s, "vela.task.count").AsInt64(); n > 1 {
			shared++
			if n != 19 || attr(s, "vela.outcome").AsString() != "cancelled" {
				t.Errorf("the unstarted tasks' span: count %d, outcome %v", n, attr(s, "vela.outcome"))
			}
		} else {
			ran++
		}
		if attr(s, "vela.batch.id").AsInt64() == 0 {
			t.Errorf("batch span without vela.batch.id")
		}
	}
	if shared != 1 || ran != 1 {
		t.Errorf("batch spans: %d shared, %d for tasks that ran; want 1 and 1", shared, ran)
	}
	if n := len(spansNamed(sr, "task ok-batch")); n != 3 {
		t.Errorf("%d spans for a batch of 3", n)
	}
}

func TestTracesAcrossNATS(t *testing.T) {
	o, sr, tr := tracedObserver(t)
	reg := testRegistry()
	release := make(chan struct{})
	startedOnce := make(chan struct{}, 10)
	must(remote.Register(reg, "held", func(ctx context.Context, _ int) (int, error) {
		startedOnce <- struct{}{}
		select {
		case <-release:
			return 7, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}))
	srv, w1, c := remoteEnv(t, o, "traced", reg)
	ctx, root := tr.Start(context.Background(), "request")
	if v, err := remote.Spawn[int](ctx, c, "double", 21).Await(ctx); err != nil || v != 42 {
		t.Fatalf("double: %v, %v", v, err)
	}
	if _, err := remote.Spawn[int](ctx, c, "fail", "disk full").Await(ctx); err == nil {
		t.Fatal("fail succeeded")
	}
	// A worker that goes away while running a task gives it back; another
	// worker runs it: one worker span per delivery, both children of the
	// caller's span.
	f := remote.Spawn[int](ctx, c, "held", 0)
	<-startedOnce
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	_ = w1.Shutdown(gone) // gives the running task back to the queue
	w4, err := observeAgain(t, sr, srv, reg)
	if err != nil {
		t.Fatal(err)
	}
	<-startedOnce
	close(release)
	if v, err := f.Await(ctx); err != nil || v != 7 {
		t.Fatalf("held: %v, %v", v, err)
	}
	_ = w4.Shutdown(context.Background())
	// The first delivery's span ends when its function, cancelled by the
	// worker that went away, returns: wait for it.
	for deadline := time.Now().Add(10 * time.Second); len(spansNamed(sr, "process traced")) < 4 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	root.End()
	rootSpan := spansNamed(sr, "request")[0]

	sends := spansNamed(sr, "send traced")
	if len(sends) != 3 {
		t.Fatalf("%d caller spans, want 3", len(sends))
	}
	procs := spansNamed(sr, "process traced")
	byCall := map[string][]sdktrace.ReadOnlySpan{}
	for _, p := range procs {
		byCall[attr(p, "messaging.message.id").AsString()] = append(byCall[attr(p, "messaging.message.id").AsString()], p)
	}
	for i, s := range sends {
		wantChild(t, s, rootSpan)
		if s.SpanKind() != trace.SpanKindClient || attr(s, "messaging.system").AsString() != "nats" {
			t.Errorf("caller span %d: kind %v, attrs %v", i, s.SpanKind(), s.Attributes())
		}
		ps := byCall[attr(s, "messaging.message.id").AsString()]
		if len(ps) == 0 {
			t.Errorf("no worker span for call %d (%s)", i, attr(s, "vela.function").AsString())
		}
		for _, p := range ps {
			wantChild(t, p, s)
			if p.SpanKind() != trace.SpanKindConsumer {
				t.Errorf("worker span kind %v", p.SpanKind())
			}
		}
		switch attr(s, "vela.function").AsString() {
		case "double":
			if s.Status().Code == codes.Error || len(ps) != 1 {
				t.Errorf("double: status %v, %d worker spans", s.Status(), len(ps))
			}
		case "fail":
			if s.Status().Code != codes.Error || ps[0].Status().Code != codes.Error {
				t.Errorf("fail: caller status %v, worker status %v, want Error on both", s.Status(), ps[0].Status())
			}
		case "held":
			if len(ps) != 2 {
				t.Fatalf("held: %d worker spans, want one per delivery (2)", len(ps))
			}
			// The first delivery ran on the worker that went away; a later
			// one (the second, or a later one if the second reached the
			// leaving worker, which gives it back without running it) ran
			// on the new worker.
			a, b := attr(ps[0], "messaging.message.delivery_attempt").AsInt64(), attr(ps[1], "messaging.message.delivery_attempt").AsInt64()
			if min(a, b) != 1 || max(a, b) < 2 {
				t.Errorf("held: delivery attempts %d and %d, want 1 and a later one", a, b)
			}
			if ps[0].Status().Code != codes.Error && ps[1].Status().Code != codes.Error {
				t.Errorf("held: neither worker span says the first delivery was cancelled")
			}
		}
	}
}

// observeAgain serves the queue from a second Observer that shares the
// recorder (a second machine, as far as the trace is concerned).
func observeAgain(t *testing.T, sr *tracetest.SpanRecorder, srv *remote.Server, reg *remote.Registry) (*remote.Worker, error) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	o2, err := observe.New(observe.Options{TracerProvider: tp})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = o2.Close() })
	return o2.Serve(context.Background(), remote.Config{Server: srv, Queue: "traced", AckWait: time.Second, MaxDeliver: 5}, reg)
}

// A retried task is a span per call: the failed calls' spans end when the
// next call starts, with an Error status, and the last call's carries the
// outcome; all are children of the caller's span.
func TestTracesOfRetries(t *testing.T) {
	o, sr, tr := tracedObserver(t)
	p, err := o.NewPool(workers.Config{MaxWorkers: 1, Name: "retrying"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, root := tr.Start(context.Background(), "request")
	var calls int
	v, err := workers.Spawn(ctx, func(context.Context) (int, error) {
		if calls++; calls < 3 {
			return 0, errBoom
		}
		return calls, nil
	}, workers.OnPool(p), workers.WithName("flaky"), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 5, Backoff: time.Millisecond})).Await(ctx)
	if err != nil || v != 3 {
		t.Fatalf("flaky: %v, %v", v, err)
	}
	n := 0
	fns := []func(context.Context) (int, error){
		func(context.Context) (int, error) { return 1, nil },
		func(context.Context) (int, error) {
			if n++; n < 2 {
				return 0, errBoom
			}
			return 2, nil
		},
	}
	if _, err := workers.SpawnAll(ctx, fns, workers.OnPool(p), workers.WithName("batch"), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3, Backoff: time.Millisecond})).Await(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	root.End()
	rootSpan := spansNamed(sr, "request")[0]
	for name, want := range map[string]int{"task flaky": 3, "task batch": 3} {
		spans := spansNamed(sr, name)
		if len(spans) != want {
			t.Fatalf("%d spans named %q, want %d (one per call)", len(spans), name, want)
		}
		var retried, ok int
		for _, s := range spans {
			wantChild(t, s, rootSpan)
			switch attr(s, "vela.outcome").AsString() {
			case "retried":
				retried++
				if s.Status().Code != codes.Error {
					t.Errorf("%s: a retried call's span has status %v", name, s.Status())
				}
			case "completed":
				ok++
			}
		}
		if retried != want-ok || ok < 1 {
			t.Errorf("%s: %d retried and %d completed spans", name, retried, ok)
		}
	}
}

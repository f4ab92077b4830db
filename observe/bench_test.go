package observe_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/velalang/runtime/observe"
	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func noop(context.Context) (int, error) { return 0, nil }

// batchPerTask runs SpawnAll batches of 10,000 no-op tasks on p and
// reports the time per task: the hooks' cost shows per task, apart from
// the cost of a round trip.
func batchPerTask(b *testing.B, p *workers.Pool) {
	ctx := context.Background()
	fns := make([]func(context.Context) (int, error), 10_000)
	for i := range fns {
		fns[i] = noop
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := workers.SpawnAll(ctx, fns, workers.OnPool(p)).Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(fns)), "ns/task")
	_ = p.Shutdown(ctx)
}

// BenchmarkTaskCost compares the cost per task of a pool without hooks,
// with the Observer's metrics (Prometheus histograms), with OpenTelemetry
// metrics too, and with tracing (an SDK tracer that samples every span and
// exports none), beside the SDK's own cost of one span.
func BenchmarkTaskCost(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		p, _ := workers.NewPool(workers.Config{Name: "plain"})
		batchPerTask(b, p)
	})
	b.Run("metrics", func(b *testing.B) {
		o, _ := observe.New(observe.Options{})
		defer o.Close()
		p, _ := o.NewPool(workers.Config{Name: "metrics"})
		batchPerTask(b, p)
	})
	b.Run("tracing", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		defer func() { _ = tp.Shutdown(context.Background()) }()
		o, _ := observe.New(observe.Options{TracerProvider: tp})
		defer o.Close()
		p, _ := o.NewPool(workers.Config{Name: "tracing"})
		batchPerTask(b, p)
	})
	// The SDK's own cost of a span like a task's: started with a
	// timestamp and the same number of attributes, one event, the outcome
	// set, ended with a timestamp.
	b.Run("otel-span-like-a-task", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		defer func() { _ = tp.Shutdown(context.Background()) }()
		tr := tp.Tracer("bench")
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			now := time.Now()
			_, s := tr.Start(ctx, "task", trace.WithTimestamp(now), trace.WithAttributes(
				attribute.String("vela.pool", "p"), attribute.Int64("vela.task.id", 1), attribute.Int("vela.task.attempt", 1),
				attribute.Int64("vela.batch.id", 1), attribute.Int("vela.batch.index", 0), attribute.String("vela.worker", "p-1")))
			s.AddEvent("started", trace.WithTimestamp(now))
			s.SetAttributes(attribute.String("vela.outcome", "completed"))
			s.End(trace.WithTimestamp(now))
		}
	})
	b.Run("otel-span-alone", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		defer func() { _ = tp.Shutdown(context.Background()) }()
		tr := tp.Tracer("bench")
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			_, s := tr.Start(ctx, "task")
			s.End()
		}
	})
}

// BenchmarkScrape scrapes, through promhttp, an Observer watching 10
// pools with history and 2 remote queues with a sampled QueueInfo.
func BenchmarkScrape(b *testing.B) {
	o, _ := observe.New(observe.Options{Sample: 10 * time.Millisecond})
	defer o.Close()
	ctx := context.Background()
	for i := range 10 {
		p, _ := o.NewPool(workers.Config{Name: fmt.Sprintf("pool-%d", i), MaxWorkers: 2})
		for range 50 {
			_, _ = workers.Spawn(ctx, func(context.Context) (int, error) { return 0, errBoomIf(i) }, workers.OnPool(p)).Await(ctx)
		}
		defer p.Shutdown(ctx)
	}
	srv, _ := remote.StartServer(remote.ServerConfig{})
	defer srv.Shutdown()
	for _, q := range []string{"a", "b"} {
		cfg := remote.Config{Server: srv, Queue: q, Slots: 1}
		w, _ := o.Serve(ctx, cfg, testRegistry())
		defer w.Shutdown(ctx)
		c, _ := o.Dial(ctx, cfg)
		defer c.Close()
		_, _ = remote.Spawn[int](ctx, c, "double", 1).Await(ctx)
	}
	time.Sleep(200 * time.Millisecond) // the sampler has read the queues
	reg := prometheus.NewRegistry()
	reg.MustRegister(o)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

func errBoomIf(i int) error {
	if i%3 == 0 {
		return errBoom
	}
	return nil
}

// BenchmarkDashboardData serves data.json for a pool with 1,000 running
// tasks and five minutes of history.
func BenchmarkDashboardData(b *testing.B) {
	o, _ := observe.New(observe.Options{Sample: time.Millisecond})
	defer o.Close()
	p, _ := o.NewPool(workers.Config{Name: "busy", MaxWorkers: 1000})
	ctx := context.Background()
	release := make(chan struct{})
	started := make(chan struct{}, 1000)
	for range 1000 {
		workers.Spawn(ctx, func(context.Context) (int, error) { started <- struct{}{}; <-release; return 0, nil },
			workers.OnPool(p), workers.WithName("hold"))
	}
	for range 1000 {
		<-started
	}
	time.Sleep(400 * time.Millisecond) // 300 samples of history at 1ms
	h := observe.Handler(o)
	req := httptest.NewRequest(http.MethodGet, "/data.json", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
	b.StopTimer()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	body, _ := io.ReadAll(w.Body)
	b.ReportMetric(float64(len(body)), "bytes/response")
	close(release)
	_ = p.Shutdown(ctx)
}

// BenchmarkRoundTripCost is a Spawn+Await on a pool without hooks and on
// one the Observer watches: a Spawn's record reads the clock for its end,
// which a batch's task does not need to.
func BenchmarkRoundTripCost(b *testing.B) {
	run := func(b *testing.B, p *workers.Pool) {
		ctx := context.Background()
		on := workers.OnPool(p)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := workers.Spawn(ctx, noop, on).Await(ctx); err != nil {
				b.Fatal(err)
			}
		}
		_ = p.Shutdown(ctx)
	}
	b.Run("plain", func(b *testing.B) {
		p, _ := workers.NewPool(workers.Config{Name: "plain"})
		run(b, p)
	})
	b.Run("metrics", func(b *testing.B) {
		o, _ := observe.New(observe.Options{})
		defer o.Close()
		p, _ := o.NewPool(workers.Config{Name: "metrics"})
		run(b, p)
	})
	// With IdleTimeout the worker and its grown stack stay: the hook's
	// frames no longer make each fresh goroutine's stack grow.
	b.Run("plain-idle", func(b *testing.B) {
		p, _ := workers.NewPool(workers.Config{Name: "plain", IdleTimeout: time.Second})
		run(b, p)
	})
	b.Run("metrics-idle", func(b *testing.B) {
		o, _ := observe.New(observe.Options{})
		defer o.Close()
		p, _ := o.NewPool(workers.Config{Name: "metrics", IdleTimeout: time.Second})
		run(b, p)
	})
}

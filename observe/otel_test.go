package observe_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/velalang/runtime/observe"
	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// remoteEnv is an embedded NATS server with an observed Worker and Client
// on one queue; everything stops when the test ends.
func remoteEnv(t *testing.T, o *observe.Observer, queue string, reg *remote.Registry) (*remote.Server, *remote.Worker, *remote.Client) {
	t.Helper()
	srv, err := remote.StartServer(remote.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	cfg := remote.Config{Server: srv, Queue: queue, Slots: 2, AckWait: time.Second, MaxDeliver: 5}
	w, err := o.Serve(context.Background(), cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(context.Background()) })
	c, err := o.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return srv, w, c
}

func testRegistry() *remote.Registry {
	reg := remote.NewRegistry()
	must(remote.Register(reg, "double", func(_ context.Context, n int) (int, error) { return 2 * n, nil }))
	must(remote.Register(reg, "fail", func(_ context.Context, msg string) (int, error) { return 0, errors.New(msg) }))
	must(remote.Register(reg, "sleep", func(ctx context.Context, d time.Duration) (int, error) {
		select {
		case <-time.After(d):
			return 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}))
	return reg
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func TestOpenTelemetryMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	o, err := observe.New(observe.Options{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	p, err := o.NewPool(workers.Config{MaxWorkers: 2, Name: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 7 {
		fn := func(context.Context) (int, error) { return i, nil }
		if i%3 == 2 {
			fn = func(context.Context) (int, error) { return 0, errBoom }
		}
		_, _ = workers.Spawn(ctx, fn, workers.OnPool(p)).Await(ctx)
	}
	_, _, c := remoteEnv(t, o, "otel", testRegistry())
	for i := range 3 {
		if v, err := remote.Spawn[int](ctx, c, "double", i).Await(ctx); err != nil || v != 2*i {
			t.Fatalf("double(%d) = %d, %v", i, v, err)
		}
	}
	if _, err := remote.Spawn[int](ctx, c, "fail", "no").Await(ctx); err == nil {
		t.Fatal("fail succeeded")
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	// A worker's record comes after its reply: wait until the fourth is in.
	var got map[string]metricdata.Aggregation
	for deadline := time.Now().Add(10 * time.Second); ; {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
		got = map[string]metricdata.Aggregation{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				got[m.Name] = m.Data
			}
		}
		if histCount(got["messaging.process.duration"], attribute.String("messaging.operation.name", "process")) == 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// Tasks by outcome on pool "cpu", observed from Stats.
	sums := map[string]int64{}
	for _, dp := range got["vela.pool.tasks"].(metricdata.Sum[int64]).DataPoints {
		if pool, _ := dp.Attributes.Value("vela.pool"); pool.AsString() == "cpu" {
			out, _ := dp.Attributes.Value("vela.outcome")
			sums[out.AsString()] = dp.Value
		}
	}
	if sums["completed"] != 5 || sums["failed"] != 2 {
		t.Errorf("vela.pool.tasks on cpu: %v, want 5 completed, 2 failed", sums)
	}
	if n := histCount(got["vela.pool.task.run.duration"], attribute.String("vela.pool", "cpu")); n != 7 {
		t.Errorf("vela.pool.task.run.duration count on cpu = %d, want 7", n)
	}
	// The messaging conventions for remote.
	sent := got["messaging.client.sent.messages"].(metricdata.Sum[int64])
	if len(sent.DataPoints) != 1 || sent.DataPoints[0].Value != 4 {
		t.Errorf("messaging.client.sent.messages = %+v, want 4", sent.DataPoints)
	} else if d, _ := sent.DataPoints[0].Attributes.Value("messaging.destination.name"); d.AsString() != "vela.otel.tasks" {
		t.Errorf("destination %q", d.AsString())
	}
	if n := histCount(got["messaging.process.duration"], attribute.String("messaging.operation.name", "process")); n != 4 {
		t.Errorf("messaging.process.duration count = %d, want 4", n)
	}
	if n := histCount(got["vela.remote.call.duration"], attribute.String("vela.outcome", "failed")); n != 1 {
		t.Errorf("vela.remote.call.duration for failed calls: %d, want 1", n)
	}

	// The remote figures Prometheus has are there too.
	if d := got["vela.remote.deliveries"].(metricdata.Sum[int64]).DataPoints; len(d) != 1 || d[0].Value != 4 {
		t.Errorf("vela.remote.deliveries = %+v, want 4", d)
	}
	if g := got["vela.remote.calls.in_flight"].(metricdata.Gauge[int64]).DataPoints; len(g) != 1 || g[0].Value != 0 {
		t.Errorf("vela.remote.calls.in_flight = %+v, want 0", g)
	}
	if _, ok := got["vela.pool.tasks.retried"]; !ok {
		t.Error("no vela.pool.tasks.retried")
	}

	// Once the Observer is closed, the MeterProvider no longer asks it
	// for the pools' gauges.
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "vela.pool.workers" {
				if g := m.Data.(metricdata.Gauge[int64]); len(g.DataPoints) != 0 {
					t.Errorf("vela.pool.workers observed after Close: %v", g.DataPoints)
				}
			}
		}
	}
}

// histCount sums the counts of a histogram's points that carry kv.
func histCount(a metricdata.Aggregation, kv attribute.KeyValue) uint64 {
	h, ok := a.(metricdata.Histogram[float64])
	if !ok {
		return 0
	}
	var n uint64
	for _, dp := range h.DataPoints {
		if v, ok := dp.Attributes.Value(kv.Key); ok && v == kv.Value {
			n += dp.Count
		}
	}
	return n
}

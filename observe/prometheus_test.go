package observe_test

import (
	"context"
	"errors"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/velalang/runtime/observe"
	"github.com/velalang/runtime/workers"
)

var errBoom = errors.New("boom")

// knownWorkload runs, on a pool of one worker, in a synctest bubble so
// that every duration is exact:
//
//	t=0..3ms  completes          (waited 0)
//	t=3..4ms  fails with errBoom (waited 3ms)
//	t=4ms     panics             (waited 4ms)
//	          a task cancelled while queued (never runs)
//	t=4..6ms  times out after its 2ms run timeout (waited 4ms)
func knownWorkload(t *testing.T, o *observe.Observer, name string) {
	p, err := o.NewPool(workers.Config{MaxWorkers: 1, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	on := workers.OnPool(p)
	fs := []interface {
		Await(context.Context) (int, error)
	}{
		workers.Spawn(ctx, func(context.Context) (int, error) { time.Sleep(3 * time.Millisecond); return 1, nil }, on),
		workers.Spawn(ctx, func(context.Context) (int, error) { time.Sleep(time.Millisecond); return 0, errBoom }, on),
		workers.Spawn(ctx, func(context.Context) (int, error) { panic("no") }, on),
	}
	cancelled := workers.Spawn(ctx, func(context.Context) (int, error) { return 0, nil }, on)
	cancelled.Cancel()
	fs = append(fs, workers.Spawn(ctx, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() },
		on, workers.WithRunTimeout(2*time.Millisecond)))
	for _, f := range fs {
		_, _ = f.Await(ctx)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPrometheusScrape(t *testing.T) {
	var o *observe.Observer
	synctest.Test(t, func(t *testing.T) {
		var err error
		if o, err = observe.New(observe.Options{}); err != nil {
			t.Fatal(err)
		}
		knownWorkload(t, o, "img")
		o.Close()
	})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(o)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	want := `
# HELP vela_pool_tasks_total Tasks ended, by outcome (completed, failed, cancelled, timed_out).
# TYPE vela_pool_tasks_total counter
vela_pool_tasks_total{outcome="cancelled",pool="img"} 1
vela_pool_tasks_total{outcome="completed",pool="img"} 1
vela_pool_tasks_total{outcome="failed",pool="img"} 2
vela_pool_tasks_total{outcome="timed_out",pool="img"} 1
# HELP vela_pool_tasks_submitted_total Tasks that entered the pool.
# TYPE vela_pool_tasks_submitted_total counter
vela_pool_tasks_submitted_total{pool="img"} 5
# HELP vela_pool_tasks_panicked_total Task functions that panicked (part of outcome failed).
# TYPE vela_pool_tasks_panicked_total counter
vela_pool_tasks_panicked_total{pool="img"} 1
# HELP vela_pool_tasks_queued Tasks waiting for a worker.
# TYPE vela_pool_tasks_queued gauge
vela_pool_tasks_queued{pool="img"} 0
# HELP vela_pool_workers Live worker goroutines, idle ones included.
# TYPE vela_pool_workers gauge
vela_pool_workers{pool="img"} 0
# HELP vela_pool_max_workers The bound on functions running at once.
# TYPE vela_pool_max_workers gauge
vela_pool_max_workers{pool="img"} 1
`
	names := []string{"vela_pool_tasks_total", "vela_pool_tasks_submitted_total", "vela_pool_tasks_panicked_total",
		"vela_pool_tasks_queued", "vela_pool_workers", "vela_pool_max_workers"}
	if err := testutil.ScrapeAndCompare(srv.URL, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	// The histograms: counts and sums from the exact durations above.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	hist := map[string]*dto.Histogram{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				key := mf.GetName()
				for _, l := range m.GetLabel() {
					if l.GetName() == "outcome" {
						key += "/" + l.GetValue()
					}
				}
				hist[key] = h
			}
		}
	}
	for key, w := range map[string]struct {
		n   uint64
		sum float64
	}{
		"vela_pool_task_wait_seconds":          {4, 0.011},
		"vela_pool_task_run_seconds/completed": {1, 0.003},
		"vela_pool_task_run_seconds/failed":    {2, 0.001},
		"vela_pool_task_run_seconds/timed_out": {1, 0.002},
		"vela_pool_task_run_seconds/cancelled": {0, 0},
	} {
		h := hist[key]
		if h == nil || h.GetSampleCount() != w.n || math.Abs(h.GetSampleSum()-w.sum) > 1e-9 {
			t.Errorf("%s: %v, want count %d, sum %v", key, h, w.n, w.sum)
		}
	}
	if n := testutil.CollectAndCount(o, "vela_pool_task_run_seconds"); n != 4 {
		t.Errorf("%d run-time series, want one per outcome", n)
	}
}

func TestPrometheusTaskNamesOptIn(t *testing.T) {
	o, err := observe.New(observe.Options{TaskNames: true})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	p, err := o.NewPool(workers.Config{MaxWorkers: 2, Name: "named"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"a.png", "b.png", "a.png"} {
		if _, err := workers.Spawn(ctx, func(context.Context) (int, error) { return 1, nil }, workers.OnPool(p), workers.WithName(name)).Await(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(o, "vela_pool_task_wait_seconds"); n != 2 {
		t.Errorf("%d wait-time series with TaskNames, want one per name (2)", n)
	}
	// Without the option, one per pool: TestPrometheusScrape.
	if _, err := o.NewPool(workers.Config{Name: "named"}); err == nil {
		t.Error("a second pool with the same name was accepted; its metrics would collide")
	}
}

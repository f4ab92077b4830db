package observe_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/velalang/runtime/observe"
	"github.com/velalang/runtime/workers"
)

// An Observer is a Prometheus collector: register it, make pools with it,
// and every scrape reads them.
func ExampleObserver_NewPool() {
	o, _ := observe.New(observe.Options{})
	defer o.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(o)

	p, _ := o.NewPool(workers.Config{Name: "img", MaxWorkers: 2})
	ctx := context.Background()
	for i := range 4 {
		workers.Spawn(ctx, func(context.Context) (int, error) {
			if i == 3 {
				return 0, fmt.Errorf("corrupt image %d", i)
			}
			return i, nil
		}, workers.OnPool(p)).Await(ctx)
	}
	p.Shutdown(ctx)

	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP vela_pool_tasks_total Tasks ended, by outcome (completed, failed, cancelled, timed_out).
# TYPE vela_pool_tasks_total counter
vela_pool_tasks_total{outcome="cancelled",pool="img"} 0
vela_pool_tasks_total{outcome="completed",pool="img"} 3
vela_pool_tasks_total{outcome="failed",pool="img"} 1
vela_pool_tasks_total{outcome="timed_out",pool="img"} 0
`), "vela_pool_tasks_total")
	fmt.Println("scrape matches:", err == nil)
	fmt.Println("run times recorded:", testutil.CollectAndCount(o, "vela_pool_task_run_seconds"), "series")
	// Output:
	// scrape matches: true
	// run times recorded: 4 series
}

// Handler serves the dashboard; Snapshot is what its data.json holds.
func ExampleHandler() {
	o, _ := observe.New(observe.Options{})
	defer o.Close()
	p, _ := o.NewPool(workers.Config{Name: "img"})
	defer p.Shutdown(context.Background())
	// http.Handle("/vela/", http.StripPrefix("/vela", observe.Handler(o)))
	s := o.Snapshot(time.Now())
	fmt.Println(len(s.Pools), s.Pools[0].Name, s.Pools[0].MaxWorkers > 0)
	// Output:
	// 1 img true
}

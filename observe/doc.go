// Package observe exports what the Worker API's pools and remote queues
// are doing: Prometheus metrics, OpenTelemetry metrics and traces, and a
// live dashboard.
//
// An Observer plugs into the core through the hooks of workers.Config
// (OnTaskStart, OnTaskDone) and remote.Config (Hooks), which cost a nil
// check when unset. Make pools and remote clients and workers through it
// (NewPool, Dial, Serve), or watch a pool made elsewhere (WatchPool):
//
//	o, _ := observe.New(observe.Options{TracerProvider: tp}) // tracing is optional
//	prometheus.MustRegister(o)                               // an Observer is a prometheus.Collector
//	p, _ := o.NewPool(workers.Config{Name: "img", MaxWorkers: 4})
//	http.Handle("/vela/", http.StripPrefix("/vela", observe.Handler(o)))
//	defer o.Close()
//
// Gauges and counters are read from each pool's Stats at scrape time;
// durations come from the task records; remote queues' depths from a
// sampler goroutine, the Observer's only one, which Close stops. The
// metric names, the span structure and the hooks' contracts are in
// docs/observe.md in the repository.
package observe

package observe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Options configures an Observer. The zero value exports Prometheus
// metrics only.
type Options struct {
	// TaskNames adds the task's name (workers.WithName) as a "task" label
	// to the duration histograms. Off by default: names can be unbounded
	// (file names, URLs), and each one is a time series.
	TaskNames bool
	// MeterProvider, if set, receives the same metrics as OpenTelemetry
	// instruments (the OpenTelemetry messaging conventions for remote).
	MeterProvider metric.MeterProvider
	// TracerProvider, if set, turns tracing on: a span per task, per
	// remote call and per remote delivery (see docs/observe.md).
	TracerProvider trace.TracerProvider
	// Propagator carries the trace context in remote tasks' headers; nil
	// means W3C Trace Context (traceparent, tracestate).
	Propagator propagation.TextMapPropagator
	// Sample is how often the sampler reads the pools and queues for the
	// dashboard's charts and the queues' gauges; 0 means a second.
	Sample time.Duration
}

// Observer watches pools and remote queues: it is a prometheus.Collector,
// exports to OpenTelemetry when Options say so, and feeds the dashboard
// (Handler). Make one with New, hand it the pools and queues (NewPool,
// WatchPool, Dial, Serve), and Close it when done.
//
// All methods are safe for concurrent use. The hooks it installs cost a
// task a few atomic adds and two histogram observations (see
// BENCHMARKS.md), plus a span when tracing is on. Its one goroutine, the
// sampler, starts with the first pool or queue it watches and stops in
// Close.
type Observer struct {
	opts    Options
	tracing *tracing // nil when tracing is off
	meters  *meters  // nil without a MeterProvider
	hist    promHist

	mu      sync.Mutex
	pools   []*poolWatch
	queues  []*queueWatch
	closed  bool
	stop    context.CancelFunc // ends the sampler's context; nil until it starts
	stopped chan struct{}      // closed when the sampler has returned
}

// ErrClosed is returned by an Observer's methods after Close.
var ErrClosed = errors.New("observe: observer closed")

// New returns an Observer configured by opts. It starts no goroutine. A
// MeterProvider whose instruments cannot be made gives an error.
func New(opts Options) (*Observer, error) {
	if opts.Sample <= 0 {
		opts.Sample = time.Second
	}
	o := &Observer{opts: opts}
	o.hist = newPromHist(opts.TaskNames)
	if opts.TracerProvider != nil {
		o.tracing = newTracing(opts.TracerProvider, opts.Propagator)
	}
	if opts.MeterProvider != nil {
		m, err := newMeters(o, opts.MeterProvider)
		if err != nil {
			return nil, err
		}
		o.meters = m
	}
	return o, nil
}

// NewPool makes a pool with workers.NewPool, with the Observer's hooks
// added to cfg's (cfg's own OnTaskStart runs first, its OnTaskDone after
// the Observer's), and watches it.
func (o *Observer) NewPool(cfg workers.Config) (*workers.Pool, error) {
	name := cfg.Name
	if name == "" {
		name = "vela-worker" // the pool's own default
	}
	pw := o.newPoolWatch(name, "", true)
	if o.tracing != nil {
		cfg.OnTaskStart = chainStart(cfg.OnTaskStart, pw.onStart)
	}
	cfg.OnTaskDone = chainDone(func(r workers.TaskRecord) { pw.done(&r) }, cfg.OnTaskDone)
	p, err := workers.NewPool(cfg)
	if err != nil {
		return nil, err
	}
	if err := o.watch(pw, p); err != nil {
		return nil, err // the pool holds no goroutine yet: nothing to stop
	}
	return p, nil
}

// WatchPool watches a pool made elsewhere (workers.Default(), for
// instance) under the name given: its gauges, counters and running tasks,
// read at scrape time. Without the Observer's hooks it has no durations
// and no spans.
func (o *Observer) WatchPool(name string, p *workers.Pool) error {
	if p == nil || name == "" {
		return errors.New("observe: WatchPool needs a name and a pool")
	}
	return o.watch(o.newPoolWatch(name, "", false), p)
}

// Dial connects a remote.Client as remote.Dial does, with the Observer's
// caller's hooks added to cfg.Hooks (which must have none of its own), and
// watches its queue.
func (o *Observer) Dial(ctx context.Context, cfg remote.Config) (*remote.Client, error) {
	if hasHooks(&cfg.Hooks) {
		return nil, errors.New("observe: Dial with a Config that has Hooks already")
	}
	qw := o.newQueueWatch(queueName(cfg.Queue))
	cfg.Hooks = qw.clientHooks()
	c, err := remote.Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	qw.client = c
	if err := o.addQueue(qw); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Serve starts a remote.Worker as remote.Serve does, with the Observer's
// worker hooks in cfg.Hooks (which must have none of its own), and watches
// it: its pool ("vela-remote-<queue>") and its queue.
func (o *Observer) Serve(ctx context.Context, cfg remote.Config, r *remote.Registry) (*remote.Worker, error) {
	if hasHooks(&cfg.Hooks) {
		return nil, errors.New("observe: Serve with a Config that has Hooks already")
	}
	q := queueName(cfg.Queue)
	pw := o.newPoolWatch("vela-remote-"+q, q, true)
	qw := o.newQueueWatch(q)
	cfg.Hooks = qw.workerHooks(pw)
	w, err := remote.Serve(ctx, cfg, r)
	if err != nil {
		return nil, err
	}
	pw.stats = w.Stats
	qw.worker = w
	err = o.addQueue(qw)
	if err == nil {
		err = o.watch(pw, nil)
	}
	if err != nil {
		_ = w.Shutdown(ctx)
		return nil, err
	}
	return w, nil
}

func queueName(q string) string {
	if q == "" {
		return "default"
	}
	return q
}

// watch adds a pool to the Observer and starts the sampler if it is the
// first thing watched.
func (o *Observer) watch(pw *poolWatch, p *workers.Pool) error {
	if p != nil {
		pw.pool = p
		pw.stats = p.Stats
		pw.tasks = p.Tasks
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	for _, w := range o.pools {
		if w.name == pw.name {
			return fmt.Errorf("observe: a pool named %q is already watched; give each pool its own Config.Name", pw.name)
		}
	}
	o.pools = append(o.pools, pw)
	o.startLocked()
	return nil
}

func (o *Observer) addQueue(qw *queueWatch) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	for _, q := range o.queues {
		if q.name == qw.name {
			// One queue watched from both sides (or by two clients): the
			// first watch keeps the gauges, each keeps its own records.
			q.merge(qw)
			return nil
		}
	}
	o.queues = append(o.queues, qw)
	o.startLocked()
	return nil
}

// Close stops the sampler and waits for it, and unregisters the
// Observer's OpenTelemetry callback from the MeterProvider. The pools and
// clients stay as they are (close them yourself); their hooks keep
// counting, but the dashboard's charts stop moving. Close may be called
// more than once.
func (o *Observer) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	stop, stopped := o.stop, o.stopped
	o.mu.Unlock()
	if stop != nil {
		stop()
		<-stopped
	}
	if o.meters != nil {
		return o.meters.reg.Unregister() // the MeterProvider outlives the Observer
	}
	return nil
}

// snapshot returns the watched pools and queues.
func (o *Observer) snapshot() ([]*poolWatch, []*queueWatch) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*poolWatch(nil), o.pools...), append([]*queueWatch(nil), o.queues...)
}

func chainStart(first, second func(context.Context, workers.TaskRecord) context.Context) func(context.Context, workers.TaskRecord) context.Context {
	if first == nil {
		return second
	}
	return func(ctx context.Context, r workers.TaskRecord) context.Context {
		if c := first(ctx, r); c != nil {
			ctx = c
		}
		r.Context = ctx
		return second(ctx, r)
	}
}

func chainDone(first, second func(workers.TaskRecord)) func(workers.TaskRecord) {
	if second == nil {
		return first
	}
	return func(r workers.TaskRecord) { first(r); second(r) }
}

func hasHooks(h *remote.Hooks) bool {
	return h.OnCallStart != nil || h.Inject != nil || h.OnCallDone != nil ||
		h.Extract != nil || h.OnTaskStart != nil || h.OnTaskDone != nil
}

package observe

import (
	"context"

	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// meters are the OpenTelemetry instruments: the pools' gauges and
// counters are observed from Stats at collection, the durations recorded
// from the hooks; remote calls and deliveries follow the messaging
// conventions where they apply.
type meters struct {
	wait, run metric.Float64Histogram // vela.pool.task.wait.duration, vela.pool.task.run.duration
	trip      metric.Float64Histogram // vela.remote.call.duration (the caller's round trip)
	sent      metric.Int64Counter     // messaging.client.sent.messages
	consumed  metric.Int64Counter     // messaging.client.consumed.messages
	process   metric.Float64Histogram // messaging.process.duration
	reg       metric.Registration     // the callback of the observable instruments; Close unregisters it
}

func newMeters(o *Observer, mp metric.MeterProvider) (*meters, error) {
	m := mp.Meter(instrumentation)
	ms := &meters{}
	var err error
	s := metric.WithUnit("s")
	b := metric.WithExplicitBucketBoundaries(buckets...)
	if ms.wait, err = m.Float64Histogram("vela.pool.task.wait.duration", s, b,
		metric.WithDescription("Time tasks waited for a worker.")); err != nil {
		return nil, err
	}
	if ms.run, err = m.Float64Histogram("vela.pool.task.run.duration", s, b,
		metric.WithDescription("Time task functions ran, by outcome.")); err != nil {
		return nil, err
	}
	if ms.trip, err = m.Float64Histogram("vela.remote.call.duration", s, b,
		metric.WithDescription("Round trip of remote calls, from Spawn to the settling of the future.")); err != nil {
		return nil, err
	}
	if ms.sent, err = m.Int64Counter("messaging.client.sent.messages", metric.WithUnit("{message}"),
		metric.WithDescription("Remote tasks sent.")); err != nil {
		return nil, err
	}
	if ms.consumed, err = m.Int64Counter("messaging.client.consumed.messages", metric.WithUnit("{message}"),
		metric.WithDescription("Remote tasks delivered to a watched Worker whose function started.")); err != nil {
		return nil, err
	}
	if ms.process, err = m.Float64Histogram("messaging.process.duration", s, b,
		metric.WithDescription("Time a watched Worker's functions ran.")); err != nil {
		return nil, err
	}

	gauges := map[string]func(workers.Stats) int64{
		"vela.pool.workers.max":  func(s workers.Stats) int64 { return int64(s.MaxWorkers) },
		"vela.pool.workers":      func(s workers.Stats) int64 { return int64(s.Workers) },
		"vela.pool.workers.idle": func(s workers.Stats) int64 { return int64(s.Idle) },
		"vela.pool.tasks.active": func(s workers.Stats) int64 { return int64(s.Active) },
		"vela.pool.tasks.queued": func(s workers.Stats) int64 { return int64(s.Queued) },
		"vela.pool.tasks.abandoned": func(s workers.Stats) int64 {
			return int64(s.Abandoned)
		},
	}
	counters := map[string]func(workers.Stats) int64{
		"vela.pool.tasks.submitted": func(s workers.Stats) int64 { return int64(s.Submitted) },
		"vela.pool.tasks.panicked":  func(s workers.Stats) int64 { return int64(s.Panicked) },
		"vela.pool.tasks.rejected":  func(s workers.Stats) int64 { return int64(s.Rejected) },
		"vela.pool.tasks.late":      func(s workers.Stats) int64 { return int64(s.Late) },
		"vela.pool.tasks.retried":   func(s workers.Stats) int64 { return int64(s.Retried) },
		"vela.pool.hook_panics":     func(s workers.Stats) int64 { return int64(s.HookPanics) },
	}
	var insts []metric.Observable
	gs := map[metric.Int64ObservableGauge]func(workers.Stats) int64{}
	cs := map[metric.Int64ObservableCounter]func(workers.Stats) int64{}
	for name, f := range gauges {
		g, err := m.Int64ObservableGauge(name, metric.WithUnit("1"))
		if err != nil {
			return nil, err
		}
		gs[g] = f
		insts = append(insts, g)
	}
	for name, f := range counters {
		c, err := m.Int64ObservableCounter(name, metric.WithUnit("{task}"))
		if err != nil {
			return nil, err
		}
		cs[c] = f
		insts = append(insts, c)
	}
	ended, err := m.Int64ObservableCounter("vela.pool.tasks", metric.WithUnit("{task}"),
		metric.WithDescription("Tasks ended, by vela.outcome."))
	if err != nil {
		return nil, err
	}
	queued, err := m.Int64ObservableGauge("vela.remote.queue.tasks.queued", metric.WithUnit("{task}"),
		metric.WithDescription("Tasks in a remote queue that no worker has taken (sampled)."))
	if err != nil {
		return nil, err
	}
	qworkers, err := m.Int64ObservableGauge("vela.remote.queue.workers", metric.WithUnit("{worker}"),
		metric.WithDescription("Workers serving a remote queue (sampled)."))
	if err != nil {
		return nil, err
	}
	insts = append(insts, ended, queued, qworkers)
	// The rest of the remote figures, as Prometheus has them.
	qgauges := map[string]func(q remote.QueueInfo) int64{
		"vela.remote.queue.tasks.held":        func(q remote.QueueInfo) int64 { return int64(q.Held) },
		"vela.remote.queue.tasks.redelivered": func(q remote.QueueInfo) int64 { return int64(q.Redelivered) },
		"vela.remote.queue.tasks.running":     func(q remote.QueueInfo) int64 { return int64(q.Running) },
	}
	qgs := map[metric.Int64ObservableGauge]func(remote.QueueInfo) int64{}
	for name, f := range qgauges {
		g, err := m.Int64ObservableGauge(name, metric.WithUnit("{task}"))
		if err != nil {
			return nil, err
		}
		qgs[g] = f
		insts = append(insts, g)
	}
	inFlight, err := m.Int64ObservableGauge("vela.remote.calls.in_flight", metric.WithUnit("{call}"),
		metric.WithDescription("Remote calls sent and not yet settled."))
	if err != nil {
		return nil, err
	}
	qcounters := map[string]func(inFlight int64, lost, deliveries, redelivered uint64) int64{
		"vela.remote.calls.lost":   func(_ int64, l, _, _ uint64) int64 { return int64(l) },
		"vela.remote.deliveries":   func(_ int64, _, d, _ uint64) int64 { return int64(d) },
		"vela.remote.redeliveries": func(_ int64, _, _, r uint64) int64 { return int64(r) },
	}
	qcs := map[metric.Int64ObservableCounter]func(int64, uint64, uint64, uint64) int64{}
	for name, f := range qcounters {
		c, err := m.Int64ObservableCounter(name, metric.WithUnit("1"))
		if err != nil {
			return nil, err
		}
		qcs[c] = f
		insts = append(insts, c)
	}
	insts = append(insts, inFlight)
	ms.reg, err = m.RegisterCallback(func(_ context.Context, ob metric.Observer) error {
		pools, queues := o.snapshot()
		for _, pw := range pools {
			s := pw.stats()
			set := metric.WithAttributes(attribute.String("vela.pool", pw.name))
			for g, f := range gs {
				ob.ObserveInt64(g, f(s), set)
			}
			for c, f := range cs {
				ob.ObserveInt64(c, f(s), set)
			}
			for i, v := range [...]uint64{s.Completed, s.Failed, s.Cancelled, s.TimedOut} {
				ob.ObserveInt64(ended, int64(v), metric.WithAttributes(attribute.String("vela.pool", pw.name),
					attribute.String("vela.outcome", outcomes[i])))
			}
		}
		for _, q := range queues {
			set := metric.WithAttributes(attribute.String("vela.queue", q.name))
			qc := q.counts()
			ob.ObserveInt64(inFlight, qc.inFlight, set)
			for c, f := range qcs {
				ob.ObserveInt64(c, f(qc.inFlight, qc.lost, qc.deliveries, qc.redeliveries), set)
			}
			if qi, ok := q.queueInfo(); ok {
				ob.ObserveInt64(queued, int64(qi.Queued), set)
				ob.ObserveInt64(qworkers, int64(qi.Workers), set)
				for g, f := range qgs {
					ob.ObserveInt64(g, f(qi), set)
				}
			}
		}
		return nil
	}, insts...)
	if err != nil {
		return nil, err
	}
	return ms, nil
}

func (m *meters) taskDone(pw *poolWatch, r *workers.TaskRecord) {
	if r.Started.IsZero() {
		return
	}
	ctx := context.Background()
	pool := attribute.String("vela.pool", pw.name)
	out := attribute.String("vela.outcome", r.Outcome.String())
	m.wait.Record(ctx, r.Wait().Seconds(), metric.WithAttributes(pool))
	m.run.Record(ctx, r.Run().Seconds(), metric.WithAttributes(pool, out))
	if d, ok := remote.DeliveryOf(r.Context); ok {
		attrs := []attribute.KeyValue{
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", "vela."+d.Queue+".tasks"),
			attribute.String("messaging.operation.name", "process"),
		}
		if r.Outcome != workers.Completed {
			attrs = append(attrs, attribute.String("error.type", r.Outcome.String()))
		}
		m.consumed.Add(ctx, 1, metric.WithAttributes(attrs[:3]...))
		m.process.Record(ctx, r.Run().Seconds(), metric.WithAttributes(attrs...))
	}
}

func (m *meters) callStart(q *queueWatch) {
	m.sent.Add(context.Background(), 1, metric.WithAttributes(
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.destination.name", "vela."+q.name+".tasks"),
		attribute.String("messaging.operation.name", "send")))
}

func (m *meters) callDone(q *queueWatch, r *remote.CallRecord) {
	attrs := []attribute.KeyValue{attribute.String("vela.queue", q.name), attribute.String("vela.outcome", r.Outcome.String())}
	m.trip.Record(context.Background(), r.RoundTrip().Seconds(), metric.WithAttributes(attrs...))
}

package observe

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The span structure (docs/observe.md):
//
//   - a task of a pool: one span, "task <name>" (kind internal), child of
//     the span in the context given to Spawn or SpawnAll, from the moment
//     the task entered the pool to its outcome, with an event "started"
//     when its function started; the function's own spans are its
//     children (OnTaskStart puts it in the function's context). A
//     SpawnAll's tasks are each such a span, siblings under the caller's
//     span (no span for the batch: the caller's span is the batch's), and
//     its tasks that never started share one span with
//     vela.task.count;
//   - a remote call: "send <queue>" (kind client) on the caller, from
//     Spawn to the settling of the future; its context travels in the
//     task's headers (W3C traceparent), and the worker's span for each
//     delivery, "process <queue>" (kind consumer), is its child, with
//     messaging.message.delivery_attempt, so a redelivered task shows one
//     worker span per attempt.
//
// Errors, panics, timeouts and cancels set the status to Error with the
// outcome as the description and error.type as an attribute.

const instrumentation = "github.com/velalang/runtime/observe"

type tracing struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

func newTracing(tp trace.TracerProvider, prop propagation.TextMapPropagator) *tracing {
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	return &tracing{tracer: tp.Tracer(instrumentation), prop: prop}
}

// spanKey marks a context that holds a task span of ours, so that
// OnTaskDone ends only spans it started.
type spanKey struct{}

func taskAttrs(r *workers.TaskRecord, pool string) []attribute.KeyValue {
	a := []attribute.KeyValue{
		attribute.String("vela.pool", pool),
		attribute.Int64("vela.task.id", int64(r.ID)),
		attribute.Int("vela.task.attempt", r.Attempt),
	}
	if r.Name != "" {
		a = append(a, attribute.String("vela.task.name", r.Name))
	}
	if r.Batch != 0 {
		a = append(a, attribute.Int64("vela.batch.id", int64(r.Batch)), attribute.Int("vela.batch.index", r.Index))
	}
	if r.Count > 1 {
		a = append(a, attribute.Int("vela.task.count", r.Count))
	}
	return a
}

func spanName(prefix, name string) string {
	if name == "" {
		return prefix
	}
	return prefix + " " + name
}

// startTask starts the span of a task whose function is about to start,
// backdated to the moment it entered the pool.
func (t *tracing) startTask(ctx context.Context, r *workers.TaskRecord, pw *poolWatch) context.Context {
	name, kind := spanName("task", r.Name), trace.SpanKindInternal
	attrs := taskAttrs(r, pw.name)
	if d, ok := remote.DeliveryOf(ctx); ok {
		name, kind = "process "+d.Queue, trace.SpanKindConsumer
		attrs = append(attrs, messaging(d.Queue, "process", d.TaskID)...)
		attrs = append(attrs, attribute.Int("messaging.message.delivery_attempt", d.Attempt),
			attribute.String("vela.function", r.Name))
	}
	attrs = append(attrs, attribute.String("vela.worker", r.Worker))
	start := r.Enqueued
	if r.Attempt > 1 {
		start = r.Started // a retry's span covers its own call
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithTimestamp(start), trace.WithAttributes(attrs...))
	span.AddEvent("started", trace.WithTimestamp(r.Started))
	if prev := pw.attempts.swap(r.ID, span); prev != nil {
		// The previous call of a retried task failed: OnTaskDone comes
		// once, for the last call, so its span ends here.
		prev.SetAttributes(attribute.String("vela.outcome", "retried"), attribute.String("error.type", "retried"))
		prev.SetStatus(codes.Error, "retried: the call failed and the task was called again")
		prev.End(trace.WithTimestamp(r.Started))
	}
	return context.WithValue(ctx, spanKey{}, span)
}

// openSpans are the spans of a pool's tasks whose OnTaskDone has not come,
// by task ID, so that a retried task's earlier calls get their spans ended.
type openSpans struct {
	mu    sync.Mutex
	spans map[uint64]trace.Span
}

// swap records span as task id's and returns the one it replaces, if any.
func (o *openSpans) swap(id uint64, span trace.Span) trace.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.spans == nil {
		o.spans = map[uint64]trace.Span{}
	}
	prev := o.spans[id]
	o.spans[id] = span
	return prev
}

func (o *openSpans) forget(id uint64) {
	o.mu.Lock()
	delete(o.spans, id)
	o.mu.Unlock()
}

// endTask ends the span of a task: the one startTask made or, for a task
// that never started, one made now, from its entry into the pool.
func (t *tracing) endTask(r *workers.TaskRecord, pw *poolWatch) {
	span, ok := r.Context.Value(spanKey{}).(trace.Span)
	if ok {
		pw.attempts.forget(r.ID)
	} else {
		name, kind := spanName("task", r.Name), trace.SpanKindInternal
		attrs := taskAttrs(r, pw.name)
		if d, ok := remote.DeliveryOf(r.Context); ok {
			name, kind = "process "+d.Queue, trace.SpanKindConsumer
			attrs = append(attrs, messaging(d.Queue, "process", d.TaskID)...)
			attrs = append(attrs, attribute.Int("messaging.message.delivery_attempt", d.Attempt))
		}
		_, span = t.tracer.Start(r.Context, name, trace.WithSpanKind(kind), trace.WithTimestamp(r.Enqueued), trace.WithAttributes(attrs...))
	}
	setStatus(span, r.Outcome, r.Err, r.Panicked)
	if r.Abandoned {
		span.SetAttributes(attribute.Bool("vela.task.abandoned", true))
	}
	span.End(trace.WithTimestamp(r.Ended))
}

func messaging(queue, op, id string) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.destination.name", "vela."+queue+".tasks"),
		attribute.String("messaging.operation.name", op),
		attribute.String("messaging.message.id", id),
		attribute.String("vela.queue", queue),
	}
}

// startCall starts the caller's span of a remote call.
func (t *tracing) startCall(ctx context.Context, r *remote.CallRecord) context.Context {
	attrs := append(messaging(r.Queue, "send", r.ID), attribute.String("vela.function", r.Name))
	ctx, _ = t.tracer.Start(ctx, "send "+r.Queue, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(r.Sent), trace.WithAttributes(attrs...))
	return ctx
}

func (t *tracing) endCall(r *remote.CallRecord) {
	span := trace.SpanFromContext(r.Context)
	setStatus(span, r.Outcome, r.Err, false)
	span.End(trace.WithTimestamp(r.Ended))
}

// inject and extract carry the trace context in a task's headers.
func (t *tracing) inject(ctx context.Context, set func(k, v string)) {
	t.prop.Inject(ctx, setter(set))
}

func (t *tracing) extract(ctx context.Context, get func(string) string) context.Context {
	return t.prop.Extract(ctx, getter(get))
}

type setter func(k, v string)

func (s setter) Get(string) string   { return "" }
func (s setter) Set(k, v string)     { s(k, v) }
func (s setter) Keys() []string      { return nil }
func (g getter) Get(k string) string { return g(k) }
func (g getter) Set(string, string)  {}
func (g getter) Keys() []string      { return nil }

type getter func(string) string

// setStatus sets a span's status from an outcome.
func setStatus(span trace.Span, out workers.Outcome, err error, panicked bool) {
	span.SetAttributes(attribute.String("vela.outcome", out.String()))
	if out == workers.Completed {
		return
	}
	kind := out.String()
	var pe *async.PanicError
	switch {
	case panicked || errors.As(err, &pe):
		kind = "panic"
	case out == workers.Failed && errors.Is(err, remote.ErrWorkerLost):
		kind = "worker_lost"
	case out == workers.Failed:
		kind = "error"
	}
	span.SetAttributes(attribute.String("error.type", kind))
	if err != nil && out == workers.Failed {
		span.RecordError(err)
	}
	desc := kind
	if err != nil {
		desc = kind + ": " + truncate(err.Error(), 200)
	}
	span.SetStatus(codes.Error, desc)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

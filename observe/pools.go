package observe

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
)

// poolWatch is what the Observer knows of one pool: how to read it, the
// histograms its records feed, and the dashboard's history of it.
type poolWatch struct {
	o     *Observer
	name  string
	queue string // the queue of a remote Worker's pool, else ""
	pool  *workers.Pool
	stats func() workers.Stats
	tasks func() []workers.TaskInfo // nil for a remote Worker's pool

	// The histograms of this pool, resolved once (without TaskNames).
	wait prometheus.Observer
	run  [5]prometheus.Observer // by workers.Outcome

	attempts openSpans // with tracing: the spans of started tasks, by ID
	waits    ring      // recent wait times, for the dashboard's percentiles
	runs     ring      // recent run times

	hist history // guarded by its own mutex
}

// newPoolWatch makes the watch of a pool; hooked says whether the pool
// has the Observer's hooks, and so durations (a pool watched with
// WatchPool has none, and no empty histograms either).
func (o *Observer) newPoolWatch(name, queue string, hooked bool) *poolWatch {
	pw := &poolWatch{o: o, name: name, queue: queue}
	if hooked {
		pw.init(o)
	}
	return pw
}

// init resolves the pool's histograms once its name is known.
func (pw *poolWatch) init(o *Observer) {
	if o.opts.TaskNames {
		return
	}
	pw.wait = o.hist.wait.WithLabelValues(pw.name)
	for out := workers.Completed; out <= workers.TimedOut; out++ {
		pw.run[out] = o.hist.run.WithLabelValues(pw.name, out.String())
	}
}

// onStart is the pool's OnTaskStart: a span, when tracing is on.
func (pw *poolWatch) onStart(ctx context.Context, r workers.TaskRecord) context.Context {
	if t := pw.o.tracing; t != nil {
		return t.startTask(ctx, &r, pw)
	}
	return ctx
}

// done is the pool's OnTaskDone (through a closure that passes the record
// on by pointer: the hook runs on a worker goroutine whose stack may be
// small, and each copy of a record is 216 bytes more): durations into the
// histograms and the dashboard's rings, the OpenTelemetry instruments, the
// span's end.
func (pw *poolWatch) done(r *workers.TaskRecord) {
	o := pw.o
	if !r.Started.IsZero() {
		wait, run := r.Wait(), r.Run()
		if o.opts.TaskNames {
			o.hist.wait.WithLabelValues(pw.name, r.Name).Observe(wait.Seconds())
			o.hist.run.WithLabelValues(pw.name, r.Name, r.Outcome.String()).Observe(run.Seconds())
		} else if r.Outcome >= workers.Completed && r.Outcome <= workers.TimedOut {
			pw.wait.Observe(wait.Seconds())
			pw.run[r.Outcome].Observe(run.Seconds())
		}
		if r.ID%ringEvery == 0 {
			pw.waits.add(wait)
			pw.runs.add(run)
		}
	}
	if m := o.meters; m != nil {
		m.taskDone(pw, r)
	}
	if t := o.tracing; t != nil {
		t.endTask(r, pw)
	}
}

// ringEvery: the dashboard's percentiles are of one task in ringEvery (by
// ID), which keeps the rings' cache lines cool on busy pools.
const ringEvery = 4

// ring keeps the last len(vals) durations written, without a lock: a
// writer claims a slot with one atomic add. Readers may see a slot being
// rewritten; for percentiles on a dashboard that is fine.
type ring struct {
	n    atomic.Uint64
	vals [512]atomic.Int64
}

func (r *ring) add(d time.Duration) {
	i := r.n.Add(1) - 1
	r.vals[i%uint64(len(r.vals))].Store(int64(d))
}

// percentiles returns the 50th, 90th and 99th percentiles of the values
// kept, and how many there are.
func (r *ring) percentiles() (p50, p90, p99 time.Duration, n int) {
	n = int(min(r.n.Load(), uint64(len(r.vals))))
	if n == 0 {
		return 0, 0, 0, 0
	}
	vs := make([]int64, n)
	for i := range vs {
		vs[i] = r.vals[i].Load()
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	at := func(q float64) time.Duration { return time.Duration(vs[min(n-1, int(q*float64(n)))]) }
	return at(0.5), at(0.9), at(0.99), n
}

// history is the dashboard's record of a pool: outcomes per sample over
// the last minutes, and the latest percentiles.
type history struct {
	mu      sync.Mutex
	last    workers.Stats // the previous sample's counters
	sampled bool
	points  []point // oldest first, at most historyLen
	wait    [3]time.Duration
	run     [3]time.Duration
	samples int
}

// historyLen is how many samples the charts show: five minutes at the
// default rate.
const historyLen = 300

// point is one sample: how many tasks ended in each way since the last.
type point struct {
	T                                      int64 // unix milliseconds
	Completed, Failed, Cancelled, TimedOut uint64
}

// sample reads the pool once for the dashboard.
func (pw *poolWatch) sample(now time.Time) {
	s := pw.stats()
	w50, w90, w99, _ := pw.waits.percentiles()
	r50, r90, r99, n := pw.runs.percentiles()
	h := &pw.hist
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sampled {
		p := point{T: now.UnixMilli(),
			Completed: s.Completed - h.last.Completed, Failed: s.Failed - h.last.Failed,
			Cancelled: s.Cancelled - h.last.Cancelled, TimedOut: s.TimedOut - h.last.TimedOut}
		if len(h.points) == historyLen {
			copy(h.points, h.points[1:])
			h.points = h.points[:historyLen-1]
		}
		h.points = append(h.points, p)
	}
	h.last, h.sampled = s, true
	h.wait = [3]time.Duration{w50, w90, w99}
	h.run = [3]time.Duration{r50, r90, r99}
	h.samples = n
}

// queueWatch is what the Observer knows of one remote queue, from a
// Client, a Worker, or both.
type queueWatch struct {
	o      *Observer
	name   string
	client *remote.Client
	worker *remote.Worker
	others []*queueWatch // more clients or workers of the same queue

	inFlight    atomic.Int64
	lost        atomic.Uint64
	deliveries  atomic.Uint64
	redelivered atomic.Uint64

	calls [5]prometheus.Counter  // by outcome
	trip  [5]prometheus.Observer // round trip, by outcome

	mu     sync.Mutex
	info   remote.QueueInfo // the latest QueueInfo, from the sampler
	infoAt time.Time
	infoOK bool
}

func (o *Observer) newQueueWatch(name string) *queueWatch {
	q := &queueWatch{o: o, name: name}
	for out := workers.Completed; out <= workers.TimedOut; out++ {
		q.calls[out] = o.hist.calls.WithLabelValues(name, out.String())
		q.trip[out] = o.hist.trip.WithLabelValues(name, out.String())
	}
	return q
}

func (q *queueWatch) merge(other *queueWatch) {
	q.mu.Lock()
	q.others = append(q.others, other)
	if q.client == nil && other.client != nil {
		q.client = other.client
	}
	if q.worker == nil && other.worker != nil {
		q.worker = other.worker
	}
	q.mu.Unlock()
}

// queueCounts are a queue's counters, summed over the watches merged
// into it.
type queueCounts struct {
	inFlight                       int64
	lost, deliveries, redeliveries uint64
}

// counts sums q's counters and those of the watches merged into it.
func (q *queueWatch) counts() (c queueCounts) {
	for _, w := range q.all() {
		c.inFlight += w.inFlight.Load()
		c.lost += w.lost.Load()
		c.deliveries += w.deliveries.Load()
		c.redeliveries += w.redelivered.Load()
	}
	return c
}

// all returns q and the watches merged into it.
func (q *queueWatch) all() []*queueWatch {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]*queueWatch{q}, q.others...)
}

func (q *queueWatch) clientHooks() remote.Hooks {
	h := remote.Hooks{
		OnCallStart: q.callStart,
		OnCallDone:  q.callDone,
	}
	if q.o.tracing != nil {
		h.Inject = q.o.tracing.inject
	}
	return h
}

func (q *queueWatch) workerHooks(pw *poolWatch) remote.Hooks {
	h := remote.Hooks{OnTaskDone: func(r workers.TaskRecord) {
		if d, ok := remote.DeliveryOf(r.Context); ok && !r.Started.IsZero() {
			q.deliveries.Add(1)
			if d.Attempt > 1 {
				q.redelivered.Add(1)
			}
		}
		pw.done(&r)
	}}
	if q.o.tracing != nil {
		h.Extract = q.o.tracing.extract
		h.OnTaskStart = pw.onStart
	}
	return h
}

func (q *queueWatch) callStart(ctx context.Context, r remote.CallRecord) context.Context {
	q.inFlight.Add(1)
	if m := q.o.meters; m != nil {
		m.callStart(q)
	}
	if t := q.o.tracing; t != nil {
		return t.startCall(ctx, &r)
	}
	return ctx
}

func (q *queueWatch) callDone(r remote.CallRecord) {
	q.inFlight.Add(-1)
	if r.Outcome >= workers.Completed && r.Outcome <= workers.TimedOut {
		q.calls[r.Outcome].Inc()
		q.trip[r.Outcome].Observe(r.RoundTrip().Seconds())
	}
	if isLost(r.Err) {
		q.lost.Add(1)
	}
	if m := q.o.meters; m != nil {
		m.callDone(q, &r)
	}
	if t := q.o.tracing; t != nil {
		t.endCall(&r)
	}
}

// sample asks the queue's server about it, for the gauges and the
// dashboard; ctx ends when the Observer closes.
func (q *queueWatch) sample(ctx context.Context) {
	q.mu.Lock()
	c := q.client
	q.mu.Unlock()
	if c == nil {
		return
	}
	qi, err := c.QueueInfo(ctx)
	q.mu.Lock()
	q.info, q.infoOK, q.infoAt = qi, err == nil, time.Now()
	q.mu.Unlock()
}

// queueInfo returns the latest sample and whether there is one.
func (q *queueWatch) queueInfo() (remote.QueueInfo, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.info, q.infoOK
}

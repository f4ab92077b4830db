package observe

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/velalang/runtime/remote"
)

// buckets are the duration histograms' bounds, in seconds: from 10µs (a
// tiny task's wait) to a minute.
var buckets = []float64{1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60}

// promHist holds the metrics fed by the hooks; the gauges and the pools'
// counters are read at scrape time instead (Collect).
type promHist struct {
	wait  *prometheus.HistogramVec // pool[, task]
	run   *prometheus.HistogramVec // pool[, task], outcome
	calls *prometheus.CounterVec   // queue, outcome
	trip  *prometheus.HistogramVec // queue, outcome
}

func newPromHist(taskNames bool) promHist {
	waitLabels, runLabels := []string{"pool"}, []string{"pool", "outcome"}
	if taskNames {
		waitLabels, runLabels = []string{"pool", "task"}, []string{"pool", "task", "outcome"}
	}
	return promHist{
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vela_pool_task_wait_seconds",
			Help: "Time tasks waited in the queue before their function started.", Buckets: buckets}, waitLabels),
		run: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vela_pool_task_run_seconds",
			Help: "Time task functions ran, by outcome (an abandoned function until it returned).", Buckets: buckets}, runLabels),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vela_remote_calls_total",
			Help: "Remote calls settled, by outcome, as the caller saw them."}, []string{"queue", "outcome"}),
		trip: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vela_remote_call_duration_seconds",
			Help: "Round trip of remote calls, from Spawn to the settling of the future, by outcome.", Buckets: buckets}, []string{"queue", "outcome"}),
	}
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// The metrics read at scrape time.
var (
	dMax       = desc("vela_pool_max_workers", "The bound on functions running at once.", "pool")
	dWorkers   = desc("vela_pool_workers", "Live worker goroutines, idle ones included.", "pool")
	dIdle      = desc("vela_pool_workers_idle", "Workers waiting for work (Config.IdleTimeout).", "pool")
	dActive    = desc("vela_pool_tasks_active", "Functions running now, abandoned ones included.", "pool")
	dQueued    = desc("vela_pool_tasks_queued", "Tasks waiting for a worker.", "pool")
	dAbandoned = desc("vela_pool_tasks_abandoned", "Functions still running although their future was cancelled or timed out.", "pool")
	dSubmitted = desc("vela_pool_tasks_submitted_total", "Tasks that entered the pool.", "pool")
	dTasks     = desc("vela_pool_tasks_total", "Tasks ended, by outcome (completed, failed, cancelled, timed_out).", "pool", "outcome")
	dPanicked  = desc("vela_pool_tasks_panicked_total", "Task functions that panicked (part of outcome failed).", "pool")
	dRejected  = desc("vela_pool_tasks_rejected_total", "Spawn and SpawnAll calls refused before submission: bad input, full queue, closed pool.", "pool")
	dLate      = desc("vela_pool_tasks_late_total", "Outcomes dropped because the future had already been cancelled or timed out.", "pool")
	dRetried   = desc("vela_pool_tasks_retried_total", "Calls beyond the first (WithRetry), counted as each starts.", "pool")
	dHookPanic = desc("vela_pool_hook_panics_total", "Panics recovered from OnTaskDone hooks.", "pool")

	dInFlight    = desc("vela_remote_calls_in_flight", "Remote calls sent and not yet settled.", "queue")
	dLost        = desc("vela_remote_calls_lost_total", "Remote calls that failed with ErrWorkerLost.", "queue")
	dDeliveries  = desc("vela_remote_deliveries_total", "Remote tasks whose function a watched Worker started.", "queue")
	dRedelivered = desc("vela_remote_redeliveries_total", "Of those, deliveries after the first (a worker was lost or gave the task back).", "queue")
	dQQueued     = desc("vela_remote_queue_tasks_queued", "Tasks in the queue that no worker has taken (sampled).", "queue")
	dQHeld       = desc("vela_remote_queue_tasks_held", "Tasks delivered to workers and not yet answered (sampled).", "queue")
	dQRedeliv    = desc("vela_remote_queue_tasks_redelivered", "Of the held tasks, those delivered more than once (sampled).", "queue")
	dQWorkers    = desc("vela_remote_queue_workers", "Workers serving the queue (sampled).", "queue")
	dQRunning    = desc("vela_remote_queue_tasks_running", "Functions running on the queue's workers (sampled).", "queue")
)

var outcomes = [...]string{"completed", "failed", "cancelled", "timed_out"}

// Describe sends the descriptors of every metric the Observer exports
// (prometheus.Collector).
func (o *Observer) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dMax, dWorkers, dIdle, dActive, dQueued, dAbandoned, dSubmitted, dTasks,
		dPanicked, dRejected, dLate, dRetried, dHookPanic, dInFlight, dLost, dDeliveries, dRedelivered,
		dQQueued, dQHeld, dQRedeliv, dQWorkers, dQRunning} {
		ch <- d
	}
	o.hist.wait.Describe(ch)
	o.hist.run.Describe(ch)
	o.hist.calls.Describe(ch)
	o.hist.trip.Describe(ch)
}

// Collect sends the current value of every metric (prometheus.Collector):
// the pools' gauges and counters are read now, with one Stats call per
// pool; the queues' depths are the sampler's latest.
func (o *Observer) Collect(ch chan<- prometheus.Metric) {
	pools, queues := o.snapshot()
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	for _, pw := range pools {
		s, n := pw.stats(), pw.name
		gauge(dMax, float64(s.MaxWorkers), n)
		gauge(dWorkers, float64(s.Workers), n)
		gauge(dIdle, float64(s.Idle), n)
		gauge(dActive, float64(s.Active), n)
		gauge(dQueued, float64(s.Queued), n)
		gauge(dAbandoned, float64(s.Abandoned), n)
		counter(dSubmitted, float64(s.Submitted), n)
		for i, v := range [...]uint64{s.Completed, s.Failed, s.Cancelled, s.TimedOut} {
			counter(dTasks, float64(v), n, outcomes[i])
		}
		counter(dPanicked, float64(s.Panicked), n)
		counter(dRejected, float64(s.Rejected), n)
		counter(dLate, float64(s.Late), n)
		counter(dRetried, float64(s.Retried), n)
		counter(dHookPanic, float64(s.HookPanics), n)
	}
	for _, q := range queues {
		c := q.counts()
		gauge(dInFlight, float64(c.inFlight), q.name)
		counter(dLost, float64(c.lost), q.name)
		counter(dDeliveries, float64(c.deliveries), q.name)
		counter(dRedelivered, float64(c.redeliveries), q.name)
		if qi, ok := q.queueInfo(); ok {
			gauge(dQQueued, float64(qi.Queued), q.name)
			gauge(dQHeld, float64(qi.Held), q.name)
			gauge(dQRedeliv, float64(qi.Redelivered), q.name)
			gauge(dQWorkers, float64(qi.Workers), q.name)
			gauge(dQRunning, float64(qi.Running), q.name)
		}
	}
	o.hist.wait.Collect(ch)
	o.hist.run.Collect(ch)
	o.hist.calls.Collect(ch)
	o.hist.trip.Collect(ch)
}

var _ prometheus.Collector = (*Observer)(nil)

func isLost(err error) bool { return err != nil && errors.Is(err, remote.ErrWorkerLost) }

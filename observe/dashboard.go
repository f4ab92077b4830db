package observe

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"time"

	"github.com/velalang/runtime/workers"
)

//go:embed dashboard/index.html
var indexHTML []byte

// Handler returns the dashboard of o: one self-contained page (its script,
// styles and SVG charts are in the page; it loads nothing from the
// network) at the handler's root, and the figures it polls every second at
// "data.json" beside it. Mount it anywhere, with http.StripPrefix:
//
//	http.Handle("/vela/", http.StripPrefix("/vela", observe.Handler(o)))
//
// It serves whoever can reach it: listen on loopback, or put it behind
// your own authentication. Each poll of data.json reads every watched pool
// once (Stats, and Tasks for the running tasks) and the sampler's history;
// it does not wait for the network.
func Handler(o *Observer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:")
		_, _ = w.Write(indexHTML)
	})
	mux.HandleFunc("GET /data.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(o.Snapshot(time.Now()))
	})
	return mux
}

// maxRunning is how many running tasks a pool lists on the dashboard (the
// oldest); RunningTotal counts them all.
const maxRunning = 50

// Snapshot is what the dashboard shows, as data.json serves it.
type Snapshot struct {
	Now    int64       `json:"now"` // unix milliseconds
	Sample float64     `json:"sample"`
	Pools  []PoolView  `json:"pools"`
	Queues []QueueView `json:"queues"`
}

// PoolView is one pool on the dashboard.
type PoolView struct {
	Name  string `json:"name"`
	Queue string `json:"queue,omitempty"` // a remote Worker's pool: its queue
	workers.Stats
	Wait         [3]float64    `json:"wait"` // p50, p90, p99 of recent waits, in seconds
	Run          [3]float64    `json:"run"`  // the same for run times
	Samples      int           `json:"samples"`
	Points       [][5]int64    `json:"points"` // [unix ms, completed, failed, cancelled, timed out] per sample
	Running      []RunningTask `json:"running"`
	RunningTotal int           `json:"runningTotal"`
}

// RunningTask is one running task on the dashboard.
type RunningTask struct {
	ID        uint64  `json:"id"`
	Name      string  `json:"name"`
	Worker    string  `json:"worker"`
	For       float64 `json:"for"` // seconds since it started
	Abandoned bool    `json:"abandoned,omitempty"`
}

// QueueView is one remote queue on the dashboard.
type QueueView struct {
	Name         string  `json:"name"`
	Sampled      bool    `json:"sampled"` // whether the queue's server has answered (a Client watches it)
	Queued       int     `json:"queued"`
	Held         int     `json:"held"`
	Redelivered  int     `json:"redelivered"`
	Workers      int     `json:"workers"`
	Slots        int     `json:"slots"`
	Running      int     `json:"running"`
	InFlight     int64   `json:"inFlight"`
	Lost         uint64  `json:"lost"`
	Deliveries   uint64  `json:"deliveries"`
	Redeliveries uint64  `json:"redeliveries"`
	Age          float64 `json:"age"` // seconds since the queue was sampled
}

// Snapshot returns what the dashboard shows at now.
func (o *Observer) Snapshot(now time.Time) Snapshot {
	pools, queues := o.snapshot()
	s := Snapshot{Now: now.UnixMilli(), Sample: o.opts.Sample.Seconds(), Pools: make([]PoolView, 0, len(pools)), Queues: make([]QueueView, 0, len(queues))}
	for _, pw := range pools {
		v := PoolView{Name: pw.name, Queue: pw.queue, Stats: pw.stats(), Running: []RunningTask{}}
		h := &pw.hist
		h.mu.Lock()
		for i := range 3 {
			v.Wait[i], v.Run[i] = h.wait[i].Seconds(), h.run[i].Seconds()
		}
		v.Samples = h.samples
		v.Points = make([][5]int64, len(h.points))
		for i, p := range h.points {
			v.Points[i] = [5]int64{p.T, int64(p.Completed), int64(p.Failed), int64(p.Cancelled), int64(p.TimedOut)}
		}
		h.mu.Unlock()
		if pw.tasks != nil {
			for _, t := range pw.tasks() {
				if t.State != workers.TaskRunning {
					break // running tasks come first
				}
				v.RunningTotal++
				if len(v.Running) < maxRunning {
					v.Running = append(v.Running, RunningTask{ID: t.ID, Name: t.Name, Worker: t.Worker,
						For: now.Sub(t.Started).Seconds(), Abandoned: t.Abandoned})
				}
			}
		} else {
			v.RunningTotal = v.Active
		}
		s.Pools = append(s.Pools, v)
	}
	for _, q := range queues {
		c := q.counts()
		v := QueueView{Name: q.name, InFlight: c.inFlight, Lost: c.lost, Deliveries: c.deliveries, Redeliveries: c.redeliveries}
		q.mu.Lock()
		qi, ok, at := q.info, q.infoOK, q.infoAt
		q.mu.Unlock()
		if ok {
			v.Sampled = true
			v.Queued, v.Held, v.Redelivered = qi.Queued, qi.Held, qi.Redelivered
			v.Workers, v.Slots, v.Running = qi.Workers, qi.Slots, qi.Running
			v.Age = now.Sub(at).Seconds()
		}
		s.Queues = append(s.Queues, v)
	}
	return s
}

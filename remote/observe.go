package remote

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// Hooks let a program watch a Client's calls and a Worker's tasks, for
// metrics and traces (the observe module fills them in). Every field may be
// nil; a Config without hooks costs each task a few nil checks.
//
// The caller's side: OnCallStart runs in Spawn (once per task of a
// SpawnAll) before the task is published, and the context it returns is
// the call's: Inject reads it to write headers that travel with the task
// (W3C trace context, for instance), and OnCallDone gets it back in the
// CallRecord, once the future has settled (on the goroutine that settled
// it, before the future's waiters are woken).
//
// The worker's side: Extract reads the delivered task's headers and
// returns the parent context of the task on the Worker's pool; OnTaskStart
// and OnTaskDone become that pool's workers.Config hooks, so they have the
// contracts written there. Their record's Context carries the delivery:
// DeliveryOf reads it.
//
// Hooks must not block: they run on the goroutines that publish, settle or
// run tasks. A panic in OnCallStart, Inject or Extract is not recovered.
type Hooks struct {
	OnCallStart func(ctx context.Context, r CallRecord) context.Context
	Inject      func(ctx context.Context, set func(key, value string))
	OnCallDone  func(r CallRecord)

	Extract     func(ctx context.Context, get func(key string) string) context.Context
	OnTaskStart func(ctx context.Context, r workers.TaskRecord) context.Context
	OnTaskDone  func(r workers.TaskRecord)
}

// CallRecord is the caller's view of one remote task: its round trip.
type CallRecord struct {
	Queue   string          // the Config's Queue
	Name    string          // the registered function's name
	ID      string          // the task's ID, unique per Client
	Outcome workers.Outcome // OnCallDone only
	Err     error           // OnCallDone only: what the future was rejected or cancelled with
	Sent    time.Time       // when Spawn was called
	Ended   time.Time       // OnCallDone only: when the future settled
	Context context.Context // the context OnCallStart returned (in OnCallStart, Spawn's)
}

// RoundTrip is the time from Spawn to the settling of the future.
func (r *CallRecord) RoundTrip() time.Duration {
	if r.Ended.IsZero() {
		return 0
	}
	return r.Ended.Sub(r.Sent)
}

// Delivery is how a Worker received a task, for its hooks.
type Delivery struct {
	Queue   string // the Config's Queue
	TaskID  string // the caller's ID for the task (CallRecord.ID)
	Attempt int    // 1 for the first delivery; more when a worker was lost or gave the task back
}

type deliveryKey struct{}

// DeliveryOf returns the delivery of the remote task whose context (or a
// TaskRecord's Context) ctx is, on a Worker with hooks.
func DeliveryOf(ctx context.Context) (Delivery, bool) {
	d, ok := ctx.Value(deliveryKey{}).(*Delivery)
	if !ok {
		return Delivery{}, false
	}
	return *d, true
}

func (h *Hooks) client() bool { return h.OnCallStart != nil || h.Inject != nil || h.OnCallDone != nil }
func (h *Hooks) worker() bool {
	return h.Extract != nil || h.OnTaskStart != nil || h.OnTaskDone != nil
}

// callWatch makes a call's OnCallDone record as its future settles.
type callWatch struct {
	h *Hooks
	r CallRecord
}

func (w *callWatch) Settled(s async.State, err error) {
	r := w.r
	r.Ended, r.Err = time.Now(), err
	var te *workers.TimeoutError
	switch {
	case s == async.Fulfilled:
		r.Outcome = workers.Completed
	case s == async.Cancelled:
		r.Outcome = workers.Cancelled
	case errors.As(err, &te):
		r.Outcome = workers.TimedOut
	default:
		r.Outcome = workers.Failed
	}
	w.h.OnCallDone(r)
}

// startCall runs the caller's hooks for task e, about to be sent: it
// returns the headers to send with it, or nil.
func (c *Client) startCall(ctx context.Context, e *entry, name string) nats.Header {
	h := &c.s.Hooks
	r := CallRecord{Queue: c.s.Queue, Name: name, ID: c.taskID(e.n), Sent: time.Now(), Context: ctx}
	if h.OnCallStart != nil {
		if cctx := h.OnCallStart(ctx, r); cctx != nil {
			r.Context = cctx
		}
	}
	if h.OnCallDone != nil {
		e.t.watch(&callWatch{h: h, r: r})
	}
	if h.Inject == nil {
		return nil
	}
	var hdr nats.Header
	h.Inject(r.Context, func(k, v string) {
		if hdr == nil {
			hdr = nats.Header{}
		}
		hdr.Set(k, v)
	})
	return hdr
}

// taskContext is the parent context of a delivered task on a Worker with
// hooks: the headers' context (Extract) carrying the delivery.
func (w *Worker) taskContext(m *nats.Msg, id string, attempt uint64) context.Context {
	ctx := context.Background()
	if w.s.Hooks.Extract != nil && len(m.Header) > 0 {
		if c := w.s.Hooks.Extract(ctx, m.Header.Get); c != nil {
			ctx = c
		}
	}
	return context.WithValue(ctx, deliveryKey{}, &Delivery{Queue: w.s.Queue, TaskID: id, Attempt: int(attempt)})
}

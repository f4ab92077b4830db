package remote

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// run is one task accepted by a Worker: its message, its envelope's
// fields, and the future of its function on the pool.
type run struct {
	w      *Worker
	order  uint64 // Worker.nruns when accepted
	id     string // "<client>.<n>", as its client names it
	key    string // "<user>.<client>.<n>", unique among the worker's runs
	secret string
	batch  string // "<user>.<client>.<batch>" or "<user>.<client>.s", the tail of its subject (see singleBatch)
	reply  string
	head   taskHead // the envelope, for a retry
	arg    []byte   // the encoded argument, for a retry
	fn     *function
	m      *nats.Msg
	again  bool // a NotIdempotent task run after give-backs: forget them when done
	f      *async.Future[[]byte]
	// retryAfter is how long to wait before the next attempt, decided by
	// the task's retry policy when its call failed (on the pool, before
	// the pool strips a workers.Permanent mark); 0: no retry. Written
	// before f settles, read after.
	retryAfter time.Duration
	requeue    atomic.Bool  // give the task back to the queue instead of answering
	started    atomic.Bool  // its function has started on the pool
	startedAt  atomic.Int64 // Unix nanoseconds when it started, 0 before
}

func sortRunsNewestFirst(rs []*run) {
	slices.SortFunc(rs, func(a, b *run) int { return int(b.order - a.order) })
}

// batchOf returns the tail of a task subject after "vela.<queue>.tasks.".
func (w *Worker) batchOf(subject string) string {
	return strings.TrimPrefix(subject, w.s.tasksBase)
}

// singleBatch returns the batch of a task from the tail of its subject
// (a run's batch field): the tail itself, or for a single Spawn, which
// comes on its client's subject for single tasks, "<user>.<client>.s", the
// batch of that task alone, "<user>.<client>.s<n>" for the task
// "<client>.<n>" (derived from the subject, see taskOf), as its client names it in a
// cancel. It allocates for a single Spawn: the hot path compares with
// inBatch instead, and looks a key up only when cancels are remembered.
func singleBatch(tail, id string) string {
	if !strings.HasSuffix(tail, ".s") {
		return tail
	}
	return tail + id[strings.IndexByte(id, '.')+1:]
}

// inBatch reports whether the run belongs to batch, a cancel's batch.
func (r *run) inBatch(batch string) bool {
	if !strings.HasSuffix(r.batch, ".s") {
		return r.batch == batch
	}
	n, ok := strings.CutPrefix(batch, r.batch)
	return ok && n == r.id[strings.IndexByte(r.id, '.')+1:]
}

// taskOf decodes a task message: its envelope, its argument, and the tail
// of its subject, "<user>.<client>.<batch>" (a run's batch). The task's id
// and reply subject are derived from that subject, on which only that user
// may publish, so a task cannot name another client's id (runs, cancels
// and give-backs are keyed by id) nor send its answer to another client's
// replies. ok is false for a malformed subject or envelope.
func (w *Worker) taskOf(m *nats.Msg) (h taskHead, arg []byte, batch string, ok bool) {
	batch = w.batchOf(m.Subject)
	from, ok := senderOf(batch)
	if !ok {
		return h, nil, "", false
	}
	h, arg, ok = decodeTask(m.Data, w.s.Queue, from)
	return h, arg, batch, ok
}

// accept looks at one message with a slot taken. It returns false if the
// task was answered or dropped without starting, so the slot is free again.
func (w *Worker) accept(m *nats.Msg) bool {
	h, data, batch, ok := w.taskOf(m)
	if !ok {
		_ = m.Term() // not a task of ours
		return false
	}
	w.mu.Lock()
	cancelled := w.cancels.has(batch, h.id, h.secret)
	w.mu.Unlock()
	if cancelled {
		_ = m.Ack()
		return false
	}
	if h.due != 0 {
		if early := time.Until(time.Unix(0, h.due)); early > 0 {
			w.notYet(m, &h, early)
			return false
		}
	}
	var timeout time.Duration
	if h.deadline != 0 {
		timeout = time.Until(time.Unix(0, h.deadline))
		if timeout <= 0 {
			_ = m.Ack() // its caller has given up on it: it never runs
			return false
		}
	}
	fn := w.reg.lookup(h.fn)
	if fn == nil {
		w.answer(h.reply, h.id, statusUnknown, h.secret, nil, "")
		_ = m.Ack()
		return false
	}
	r := &run{w: w, id: h.id, key: h.key, secret: h.secret, batch: batch, reply: h.reply, head: h, arg: data, fn: fn, m: m}
	if fn.notIdempotent {
		if md, err := m.Metadata(); err != nil || md.NumDelivered > 1 {
			if !w.onlyGivenBack(h.key, md) {
				w.answer(h.reply, h.id, statusLost, h.secret, nil, "")
				_ = m.Ack()
				return false
			}
			r.again = true
		}
	}
	opts := []workers.Option{workers.OnPool(w.pool), workers.WithName(h.fn)}
	if timeout > 0 {
		opts = append(opts, workers.WithTimeout(timeout))
	}
	if h.runTimeout > 0 {
		opts = append(opts, workers.WithRunTimeout(h.runTimeout))
	}
	codec := w.s.Codec
	parent := context.Background()
	if w.s.Hooks.worker() {
		attempt := uint64(1)
		if md, err := m.Metadata(); err == nil {
			attempt = md.NumDelivered
		}
		parent = w.taskContext(m, h.id, attempt)
	}
	r.f = workers.Spawn(parent, func(ctx context.Context) ([]byte, error) {
		t0 := time.Now()
		r.startedAt.Store(t0.UnixNano())
		r.started.Store(true)
		out, err := fn.call(ctx, codec, data)
		w.noteRun(time.Since(t0))
		if err != nil && r.head.retry.maxAttempts > 1 {
			r.retryAfter = retryWait(&r.head, err)
		}
		return out, err
	}, opts...)
	w.mu.Lock()
	cancelled = w.cancels.has(batch, h.id, h.secret)
	if !cancelled {
		w.nruns++
		r.order = w.nruns
		w.runs[h.key] = r
	}
	w.mu.Unlock()
	if cancelled {
		r.f.CancelWithCause(errCallerCancelled)
		_ = m.Ack()
		return false
	}
	if r.f.Poll(r).IsReady() {
		r.Wake()
	}
	return true
}

// onlyGivenBack reports whether every earlier delivery of a NotIdempotent
// task (its key) was a give-back, so that it never started.
func (w *Worker) onlyGivenBack(key string, md *nats.MsgMetadata) bool {
	if md == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := givenBack(ctx, w.kv, key)
	return err == nil && n >= md.NumDelivered-1
}

// Wake runs once the run's future has settled, on the goroutine that
// settled it: it answers the caller, acknowledges the message and frees
// the slot.
func (r *run) Wake() {
	w := r.w
	w.mu.Lock()
	if w.runs[r.key] == r { // else a second delivery of the task took its place
		delete(w.runs, r.key)
	}
	w.mu.Unlock()
	res, _ := r.f.Result()
	switch {
	case r.requeue.Load():
		w.giveBack(r.m, r.key, r.fn, !r.started.Load())
	case r.f.State() == async.Cancelled:
		_ = r.m.Ack() // the caller no longer wants it
	default:
		if res.Err != nil && r.retryAfter > 0 && w.retry(r, res.Err) {
			break
		}
		w.answerResult(r.reply, r.id, r.secret, res.Value, res.Err)
		_ = r.m.Ack()
		if r.again {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			forgetGiveBacks(ctx, w.kv, r.key)
			cancel()
		}
	}
	w.release()
}

// giveBack returns a task to the queue for another worker (a NAK). A
// NotIdempotent task that never started has the give-back recorded first,
// so that the next worker may still run it.
func (w *Worker) giveBack(m *nats.Msg, key string, fn *function, unstarted bool) {
	if unstarted && fn != nil && fn.notIdempotent {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = noteGiveBack(ctx, w.kv, key) // if it fails, the task fails as lost: the safe side
		cancel()
	}
	_ = m.Nak()
}

// giveBackUnread returns a task that arrived while the worker stops, or
// beyond its window (bounce: with a delay past the open request's end).
func (w *Worker) giveBackUnread(m *nats.Msg, bounce bool) {
	h, _, _, ok := w.taskOf(m)
	if !ok {
		_ = m.Term()
		return
	}
	if fn := w.reg.lookup(h.fn); fn != nil && fn.notIdempotent {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = noteGiveBack(ctx, w.kv, h.key)
		cancel()
	}
	if bounce {
		_ = m.NakWithDelay(bounceDelay)
	} else {
		_ = m.Nak()
	}
}

func (w *Worker) answerResult(reply, id, secret string, v []byte, err error) {
	if err == nil {
		w.answer(reply, id, statusOK, secret, v, "")
		return
	}
	switch e := err.(type) {
	case *async.PanicError:
		w.answer(reply, id, statusPanic, secret, e.Stack, fmt.Sprint(e.Value))
	case *codecFailure:
		w.answer(reply, id, statusCodec, secret, []byte(e.Error()), "")
	case *workers.TimeoutError:
		if e.Run {
			w.answer(reply, id, statusRunOver, secret, nil, "")
		} else {
			w.answer(reply, id, statusTimeout, secret, nil, "")
		}
	default:
		w.answer(reply, id, statusError, secret, []byte(err.Error()), "")
	}
}

// answer publishes the reply to task id; extra is a panic's value.
func (w *Worker) answer(reply, id string, status byte, secret string, rest []byte, extra string) {
	_ = w.l.nc.Publish(reply, encodeReply(status, id, secret, extra, rest))
}

// cancelRuns cancels the runs whose function has not started, then the
// others: cancelling a running function frees its pool worker, which
// would start the next waiting task.
func cancelRuns(rs []*run, cause error) {
	for _, r := range rs {
		if !r.started.Load() {
			r.f.CancelWithCause(cause)
		}
	}
	for _, r := range rs {
		r.f.CancelWithCause(cause)
	}
}

package remote

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// Retries and delays, waited for in the server, so that they survive the
// exit of the worker and of the client and a restart of a server with a
// store.
//
// A task with WithDelay carries its due time. A worker that receives it
// earlier gives it back with a NAK whose delay is the time left (nats.go's
// NakWithDelay): the server holds it and delivers it again when it is due,
// to any worker. That early delivery counts as one of the task's
// MaxDeliver deliveries; a NotIdempotent task records it as a give-back,
// so it still runs.
//
// A task with WithRetry carries its policy (MaxAttempts, Backoff,
// MaxBackoff; Retryable cannot cross machines: a function marks the
// failures not to retry with workers.Permanent). When its function fails
// and workers.RetryPolicy.Next says to retry, the worker publishes the next
// attempt as a new message on the task's subject, due after the backoff,
// with Nats-Msg-Id "<id>.a<attempt>" (so a worker that dies between the
// publish and the acknowledgement, and the attempt run again, does not
// queue it twice), then acknowledges the failed one and tells the caller
// the new message's sequence. Each attempt is a message of its own, with
// its own MaxDeliver deliveries: MaxDeliver bounds the workers lost per
// attempt, MaxAttempts the calls that returned an error. A NotIdempotent
// function is retried too: a retry is a new call decided after the
// previous one returned its error, not a second run of a call whose
// outcome is unknown. Timeouts, cancels and codec failures are never
// retried. The next attempt counts against MaxQueued like a new task: if
// the queue is full when a call fails, the task fails with the call's
// error and workers.ErrQueueFull (statusRetryFull).

// notYet gives back a task received before it is due.
func (w *Worker) notYet(m *nats.Msg, h *taskHead, early time.Duration) {
	if fn := w.reg.lookup(h.fn); fn != nil && fn.notIdempotent {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = noteGiveBack(ctx, w.kv, h.key)
		cancel()
	}
	_ = m.NakWithDelay(early)
}

// retryWait is the wait before the next attempt of a task whose call
// returned err, or 0 for none (the policy's last attempt, a
// workers.Permanent error, a codec failure).
func retryWait(h *taskHead, err error) time.Duration {
	var cf *codecFailure
	if errors.As(err, &cf) {
		return 0
	}
	p := workers.RetryPolicy{MaxAttempts: h.retry.maxAttempts, Backoff: h.retry.backoff, MaxBackoff: h.retry.maxBackoff}
	wait, again, _ := p.Next(h.attempt, err)
	if !again {
		return 0
	}
	return max(wait, time.Nanosecond)
}

// retry queues the next attempt of r, whose call failed with err, after
// r.retryAfter; it reports whether it did (r is then acknowledged and its
// caller told). A call that ended by a timeout or a cancel is not retried.
func (w *Worker) retry(r *run, err error) bool {
	var te *workers.TimeoutError
	if r.f.State() == async.Cancelled || errors.As(err, &te) {
		return false
	}
	wait := r.retryAfter
	h := r.head
	h.attempt++
	h.due = time.Now().Add(wait).UnixNano()
	// The next attempt keeps the task's headers (an observer's trace
	// context), with an id of its own.
	hdr := make(nats.Header, len(r.m.Header)+1)
	for k, v := range r.m.Header {
		hdr[k] = v
	}
	hdr["Nats-Msg-Id"] = []string{h.id + ".a" + strconv.Itoa(h.attempt)}
	next := &nats.Msg{Subject: r.m.Subject, Header: hdr, Data: encodeTask(&h, r.arg)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	ack, perr := w.l.js.PublishMsg(ctx, next)
	cancel()
	if perr != nil {
		if queueFull(perr) {
			// The queue holds MaxQueued tasks, this attempt among them:
			// the task fails with this call's error and ErrQueueFull,
			// as a Spawn beyond the bound is refused, rather than run
			// the attempt again until MaxDeliver.
			w.answer(r.reply, r.id, statusRetryFull, r.secret, []byte(err.Error()), strconv.Itoa(h.attempt-1))
			_ = r.m.Ack()
			return true
		}
		// The attempt could not be queued (the server did not answer):
		// the task goes back as it is, for this attempt to run again.
		_ = r.m.Nak()
		return true
	}
	_ = r.m.Ack()
	w.answer(r.reply, r.id, statusRetry, r.secret, nil, strconv.FormatUint(ack.Sequence, 10))
	return true
}

// queueFull reports whether a publish was refused because the queue's
// stream holds MaxQueued tasks.
func queueFull(err error) bool {
	var ae *jetstream.APIError
	return errors.As(err, &ae) && strings.Contains(ae.Description, "maximum messages")
}

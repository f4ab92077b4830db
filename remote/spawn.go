package remote

import (
	"context"
	"fmt"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// Spawn sends one task, the function registered as name applied to arg, to
// c's queue and returns its future at once; it never blocks on the
// network. R comes first so that it is the only type a caller writes:
// remote.Spawn[Image](ctx, c, "resize", args). The future settles exactly
// once:
//
//   - with the function's value, decoded with the Config's Codec;
//   - rejected with a *RemoteError carrying the function's error message,
//     or an *async.PanicError whose Value is the panic's text and Stack the
//     worker's stack;
//   - rejected with ErrUnknownFunction as soon as a worker sees a name it
//     does not serve; with an error wrapping ErrCodec if arg cannot be
//     encoded (nothing is sent), or the worker cannot decode it, or the
//     result cannot be encoded or decoded;
//   - rejected with a *workers.TimeoutError at the WithTimeout deadline, on
//     the caller's clock; a task still queued then never runs, a running
//     one has its context ended;
//   - cancelled by Future.Cancel, or when ctx ends (the error then wraps
//     async.ErrCancelled and context.Cause(ctx)), at that moment: a queued
//     task is deleted from the queue, a running one has its context ended;
//   - rejected with ErrWorkerLost if its worker was lost MaxDeliver times,
//     or once if the function is NotIdempotent; with an error wrapping
//     workers.ErrQueueFull if the queue holds MaxQueued tasks; with
//     ErrTooLarge if the encoded argument exceeds the server's payload
//     limit (nothing is sent); with workers.ErrPoolClosed if c is closed,
//     or closes before the task settles.
//
// Options are workers.WithTimeout (counted from the due time of a delayed
// task), workers.WithRunTimeout (counted from the start of the function,
// on the worker's clock, which also reports it), workers.WithName (the
// name in a *workers.TimeoutError; the function's name by default),
// workers.WithDelay and workers.WithRetry, both waited for in the server
// (retry.go; a RetryPolicy.Retryable cannot cross machines and is refused
// with workers.ErrInvalidArgument: return workers.Permanent(err) instead);
// SpawnAll also takes workers.WithNames. Bad input never
// panics: a nil ctx or c, an empty name, workers.OnPool or a negative
// timeout give a future rejected with an error wrapping
// workers.ErrInvalidArgument. A Spawn costs the argument's encoding, one
// publish and a few small allocations; the server's acknowledgement comes
// back asynchronously.
func Spawn[R, A any](ctx context.Context, c *Client, name string, arg A, opts ...workers.Option) *async.Future[R] {
	o, err := readOptions(ctx, c, name, opts)
	if err != nil {
		return async.FromError[R](err)
	}
	data, err := encodeArg(c, name, arg)
	if err != nil {
		return async.FromError[R](fnError(name, err))
	}
	// The task and its batch of one are one allocation.
	tb := new(struct {
		t task[R]
		b batch
	})
	t := &tb.t
	t.init(c, name, o)
	if ctx.Err() != nil {
		t.p.Future().CancelWithCause(context.Cause(ctx))
		return t.p.Future()
	}
	tb.b.single = true // send names it
	if err := c.send(ctx, &t.e, &tb.b, name, data, &o); err != nil {
		t.p.Reject(err)
	}
	return t.p.Future()
}

// readOptions checks Spawn's input.
func readOptions(ctx context.Context, c *Client, name string, opts []workers.Option) (workers.Settings, error) {
	o, err := workers.ReadOptions(opts...)
	switch {
	case err != nil:
		return o, fmt.Errorf("remote: %w", err)
	case ctx == nil:
		return o, invalid("Spawn with a nil context")
	case c == nil || c.l == nil:
		return o, invalid("Spawn with a nil Client")
	case name == "":
		return o, invalid("Spawn with an empty function name")
	case o.Pool != nil:
		return o, invalid("workers.OnPool does not apply to a remote task")
	case o.Retry.Retryable != nil:
		return o, invalid("RetryPolicy.Retryable cannot cross machines: return workers.Permanent(err) from the function for the failures not to retry")
	}
	return o, nil
}

func encodeArg[A any](c *Client, name string, arg A) ([]byte, error) {
	data, err := c.s.Codec.Marshal(arg)
	if err != nil {
		return nil, fmt.Errorf("encoding the argument: %w: %w", ErrCodec, err)
	}
	return data, nil
}

// task is the future of one remote call, and its entry in the Client.
type task[R any] struct {
	p          async.Promise[R]
	e          entry
	c          *Client
	fn         string // the registered name
	name       string // for a TimeoutError
	timeout    time.Duration
	runTimeout time.Duration
}

func newTask[R any](c *Client, fn string, o workers.Settings) *task[R] {
	t := new(task[R])
	t.init(c, fn, o)
	return t
}

func (t *task[R]) init(c *Client, fn string, o workers.Settings) {
	t.c, t.fn, t.name, t.timeout, t.runTimeout = c, fn, o.Name, o.Timeout, o.RunTimeout
	if t.name == "" {
		t.name = fn
	}
	t.e.t = t
	t.p.Observe(t)
}

// Settled withdraws the task when its future is cancelled (the task is
// its future's observer: a cancellation handler would cost two
// allocations per task).
func (t *task[R]) Settled(s async.State, _ error) {
	if s == async.Cancelled {
		t.c.abandon(&t.e)
	}
}

// watched is a task's observer when Hooks.OnCallDone watches it too.
type watched[R any] struct {
	t *task[R]
	o async.Observer
}

func (w *watched[R]) Settled(s async.State, err error) {
	defer w.t.Settled(s, err) // even if the hook panics
	w.o.Settled(s, err)
}

func (t *task[R]) reply(status byte, extra string, rest []byte) {
	switch status {
	case statusOK:
		var v R
		if err := t.c.s.Codec.Unmarshal(rest, &v); err != nil {
			t.p.Reject(fnError(t.fn, fmt.Errorf("decoding the result: %w: %w", ErrCodec, err)))
			return
		}
		t.p.Resolve(v)
	case statusError:
		t.p.Reject(&RemoteError{Function: t.fn, Message: string(rest)})
	case statusPanic:
		t.p.Reject(&async.PanicError{Value: extra, Stack: rest})
	case statusUnknown:
		t.p.Reject(fnError(t.fn, ErrUnknownFunction))
	case statusLost:
		t.p.Reject(fnError(t.fn, fmt.Errorf("NotIdempotent, and delivered again after its worker was lost: %w", ErrWorkerLost)))
	case statusCodec:
		t.p.Reject(fnError(t.fn, fmt.Errorf("worker: %s: %w", rest, ErrCodec)))
	case statusTimeout:
		t.timedOut()
	case statusRetryFull:
		t.p.Reject(fmt.Errorf("%w (attempt %s; its next attempt was refused, the queue holding MaxQueued tasks: %w)",
			&RemoteError{Function: t.fn, Message: string(rest)}, extra, workers.ErrQueueFull))
	case statusRunOver:
		t.p.Reject(&workers.TimeoutError{Name: t.name, Timeout: t.runTimeout, Run: true})
	default:
		t.p.Reject(fnError(t.fn, fmt.Errorf("unreadable reply (status %q)", status)))
	}
}

func (t *task[R]) function() string       { return t.fn }
func (t *task[R]) reject(err error)       { t.p.Reject(err) }
func (t *task[R]) watch(o async.Observer) { t.p.Observe(&watched[R]{t, o}) }
func (t *task[R]) done() bool             { return t.p.Future().State() != async.Pending }
func (t *task[R]) cancel(cause error)     { t.p.Future().CancelWithCause(cause) }
func (t *task[R]) timedOut() bool {
	return t.p.Reject(&workers.TimeoutError{Name: t.name, Timeout: t.timeout})
}

// SpawnAll sends one task per element of args, as Spawn would, with the
// same options for each, and returns one future for all their values in
// input order. An empty args resolves at once to an empty slice. Every
// argument is encoded before anything is sent, so an argument the codec
// refuses rejects the whole call with ErrCodec and nothing runs. The first
// failure rejects the combined future with that failure's error and
// cancels every sibling: queued ones are deleted and never run, running
// ones see their context end. Cancelling the combined future, or ctx
// ending, cancels every task.
func SpawnAll[R, A any](ctx context.Context, c *Client, name string, args []A, opts ...workers.Option) *async.Future[[]R] {
	o, err := readOptions(ctx, c, name, opts)
	if err != nil {
		return async.FromError[[]R](err)
	}
	data := make([][]byte, len(args))
	for i, a := range args {
		if data[i], err = encodeArg(c, name, a); err != nil {
			return async.FromError[[]R](fnError(name, fmt.Errorf("argument %d: %w", i, err)))
		}
	}
	if len(args) == 0 {
		return async.FromValue([]R{})
	}
	// The combined future is async.All of the tasks' futures (fail-fast,
	// values in input order); the group withdraws every task once it
	// settles with an error, whether a task failed or the caller cancelled.
	g := &group[R]{c: c, tasks: make([]*task[R], len(args))}
	fs := make([]*async.Future[R], len(args))
	for i := range args {
		oi := o
		if o.Names != nil {
			oi.Name = o.Names(i)
		}
		g.tasks[i] = newTask[R](c, name, oi)
		fs[i] = g.tasks[i].p.Future()
	}
	all := async.All(fs...)
	g.all = all
	if all.Poll(g).IsReady() {
		g.Wake()
	}
	if ctx.Err() != nil {
		all.CancelWithCause(context.Cause(ctx))
		return all
	}
	b := c.newBatch()
	for i, t := range g.tasks {
		if all.State() != async.Pending { // a sibling failed, or the group was cancelled
			break
		}
		if err := c.send(ctx, &t.e, b, name, data[i], &o); err != nil {
			t.p.Reject(err)
		}
	}
	return all
}

// group is one SpawnAll call: its tasks, withdrawn together when the
// combined future fails or is cancelled.
type group[R any] struct {
	c     *Client
	tasks []*task[R]
	all   *async.Future[[]R]
}

// Wake runs once, when the combined future settles: unless it was
// fulfilled, every task is withdrawn, with its error as the cause.
func (g *group[R]) Wake() {
	if r, _ := g.all.Result(); r.Err != nil {
		g.withdraw(g.c, fmt.Errorf("remote: SpawnAll: %w", r.Err))
	}
}

// bigGroup is the size from which a SpawnAll's withdrawal runs after its
// future has settled, so that Cancel, or the first failure, settles the
// combined future at once (a 100,000-task group takes about 100 ms to
// withdraw and cancel).
const bigGroup = 256

// withdraw cancels every task of the group: at once for a small group, on
// a goroutine owned by the Client for a big one.
func (g *group[R]) withdraw(c *Client, cause error) {
	if len(g.tasks) < bigGroup {
		g.cancelAll(cause)
		return
	}
	c.background(func() { g.cancelAll(cause) })
}

func (g *group[R]) cancelAll(cause error) {
	es := make([]*entry, 0, len(g.tasks))
	for _, t := range g.tasks {
		if t != nil {
			es = append(es, &t.e)
		}
	}
	if len(es) > 0 {
		g.tasks[0].c.abandonAll(es)
	}
	for _, t := range g.tasks {
		if t != nil {
			t.p.Future().CancelWithCause(cause)
		}
	}
}

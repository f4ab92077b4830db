package workers

import (
	"context"
	"time"
)

// callCtx is the context of a retried call whose task's own context has
// ended: a call that ran past its WithRunTimeout is retried after its
// context was cancelled, and a context never comes back to life, so the
// calls after it each get one of these. It carries what the task's context
// carries (the parent's values, the pool, the pprof labels, the task's
// deadlines) and ends, like it, when the future is cancelled or times out,
// or when this call runs past its own run timeout. Only such retries make
// one; a task's first call, and retries after an error or a panic, run
// with the task itself as their context.
type callCtx struct {
	context.Context // the parent's values, not its cancellation
	task            *taskBase
	cancel          context.CancelCauseFunc
	err             error // what Err returns once ended; written before cancel
}

func newCallCtx(t *taskBase) *callCtx {
	c := &callCtx{task: t}
	c.Context, c.cancel = context.WithCancelCause(context.WithoutCancel(t.parent))
	return c
}

// end ends the call's context: Err returns ctxErr and context.Cause cause.
// Only the first end counts.
func (c *callCtx) end(ctxErr, cause error) {
	if c.Context.Err() != nil {
		return
	}
	c.err = ctxErr
	c.cancel(cause)
}

// Err returns nil until the context ends, then why, as the task's own
// context would.
func (c *callCtx) Err() error {
	if c.Context.Err() == nil {
		return nil
	}
	return c.err
}

// Deadline reports the task's deadlines and the parent's.
func (c *callCtx) Deadline() (time.Time, bool) { return c.task.Deadline() }

// Value returns the pool's key and the pprof labels of the task, then the
// parent's values (and, once ended, the cause).
func (c *callCtx) Value(key any) any {
	if key == (poolKey{}) {
		return c.task.pool
	}
	labels := c.task.worker.labels
	if x := c.task.extra.Load(); x != nil && x.labels != nil {
		labels = x.labels
	}
	if v := labels.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}

// String names the context, for debugging.
func (c *callCtx) String() string { return c.task.String() + ".call" }

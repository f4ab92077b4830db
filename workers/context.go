package workers

import (
	"context"
	"runtime/pprof"
	"sync"
	"time"
)

// The states of a task's context.
const (
	ctxLive    = iota
	ctxClosing // Done is being closed; Err is not yet visible
	ctxEnded   // Done is closed and Err, Cause and Value see why
)

// closedChan is the Done channel of a context cancelled before anyone asked.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// A task is the context.Context its function receives. It is derived from
// the ctx given to Spawn: it carries that ctx's values and ends when it
// ends, when the task's future is cancelled, or when the task's timeout
// passes, and context.Cause reports why. It also carries the pprof labels
// "worker" and "task". It is not cancelled when the function returns, so a
// goroutine that outlives the function must not rely on it ending.
//
// It costs nothing until the function asks for Done or derives a
// cancellable context from it; then it makes a small record and a channel.

// ctxPart is the state of a task's context once it needs more than its
// parent: its Done channel, why it ended, the contexts derived from it, and
// the pprof labels of a named task.
type ctxPart struct {
	labels context.Context // set by the worker before the function starts
	hooked context.Context // what Config.OnTaskStart returned; set and read by the worker
	mu     sync.Mutex
	call   *callCtx // mu: the running call's own context, once the task's has ended (see callCtx)
	// mu: why the context ended for good (the future settled by cancel or
	// timeout), for a call context made afterwards.
	finalErr, finalCause error
	done                 chan struct{}
	err                  error           // the context's Err once ended
	inner                context.Context // a cancelled context carrying the cause
	afterFns             []*afterFunc
}

// Deadline reports the earliest of the task's deadlines (Spawn time plus
// its WithTimeout, the function's start plus its WithRunTimeout) and the
// parent's.
func (b *taskBase) Deadline() (time.Time, bool) {
	d, ok := b.parent.Deadline()
	x := b.extra.Load()
	if x == nil {
		return d, ok
	}
	if x.timeout > 0 && (!ok || x.deadline.Before(d)) {
		d, ok = x.deadline, true
	}
	if x.runTimeout > 0 && x.runAt > 0 {
		if rd := b.pool.epoch.Add(x.runAt); !ok || rd.Before(d) {
			d, ok = rd, true
		}
	}
	return d, ok
}

// Done returns a channel closed when the context ends.
func (b *taskBase) Done() <-chan struct{} {
	x := b.ensureExtra()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done == nil {
		if b.ctxState.Load() == ctxEnded {
			x.done = closedChan
		} else {
			x.done = make(chan struct{})
		}
	}
	return x.done
}

// Err returns nil until the context ends, then why: context.Canceled once
// the future was cancelled, context.DeadlineExceeded once the task's timeout
// passed, or the parent's error once the parent ended. As the context
// contract requires, Err is non-nil only once Done is closed.
func (b *taskBase) Err() error {
	if !b.isEnded() {
		return nil
	}
	return b.extra.Load().err
}

// isEnded reports whether the context has ended. A cancel closes Done
// before it moves to ctxEnded, so that Err is never non-nil while Done is open;
// a caller that finds the cancel under way (ctxClosing) waits for it to
// finish, so that one woken by Done never finds the context still live.
// Only that caller takes a lock.
func (b *taskBase) isEnded() bool {
	if b.ctxState.Load() == ctxEnded {
		return true
	}
	if b.ctxState.Load() == ctxLive {
		return false
	}
	x := b.extra.Load()
	x.mu.Lock()
	//lint:ignore SA2001 the empty critical section waits for the cancel under way
	x.mu.Unlock()
	return true
}

// Value returns the pprof labels of the task, then the parent's values.
// Once the context has ended, lookups go through a cancelled context that
// carries the cause, which is how context.Cause finds it.
func (b *taskBase) Value(key any) any {
	if key == (poolKey{}) {
		return b.pool
	}
	labels := b.worker.labels
	x := b.extra.Load()
	if x != nil && x.labels != nil {
		labels = x.labels
	}
	if v := labels.Value(key); v != nil {
		return v
	}
	if b.isEnded() {
		// Reload: the extra may have been made by the cancel just seen.
		return b.extra.Load().inner.Value(key)
	}
	return b.parent.Value(key)
}

// poolKey is the context key under which a task's context holds its pool,
// so that Shutdown can tell when it is called from one of its own tasks.
type poolKey struct{}

// String names the context, for debugging.
func (b *taskBase) String() string {
	if n := b.name(); n != "" {
		return "workers.task(" + n + ")"
	}
	return "workers.task"
}

// afterFunc is one registration of AfterFunc.
type afterFunc struct{ f func() }

// AfterFunc arranges for f to run once the context ends; the context
// package uses it to cancel contexts derived from the task's without a
// goroutine each. f runs on the goroutine that ends the context, or in a
// goroutine of its own if the context has already ended. stop reports
// whether it prevented f from running.
func (b *taskBase) AfterFunc(f func()) (stop func() bool) {
	x := b.ensureExtra()
	x.mu.Lock()
	if b.ctxState.Load() == ctxEnded {
		x.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	a := &afterFunc{f: f}
	x.afterFns = append(x.afterFns, a)
	x.mu.Unlock()
	return func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		for i, o := range x.afterFns {
			if o == a {
				x.afterFns = append(x.afterFns[:i], x.afterFns[i+1:]...)
				return true
			}
		}
		return false
	}
}

// cancelContext ends the task's context, once, for good (its future has
// settled by cancel or timeout): Err will return ctxErr and context.Cause
// will return cause, which is the error the future settled with. The
// context that carries the cause keeps the parent's values but not its
// cancellation, so that a parent that has ended cannot substitute its own
// cause. The context of the running call, if it has its own, ends too.
func (b *taskBase) cancelContext(ctxErr, cause error) {
	b.end(ctxErr, cause, true)
}

// endCall ends the context of the running call, which ran past its run
// timeout and is to be retried: the task's own context, or the call's own
// if the task's had ended already.
func (b *taskBase) endCall(cause error) {
	b.end(context.DeadlineExceeded, cause, false)
}

func (b *taskBase) end(ctxErr, cause error, final bool) {
	x := b.ensureExtra()
	x.mu.Lock()
	if final && x.finalErr == nil {
		x.finalErr, x.finalCause = ctxErr, cause
	}
	if x.call != nil {
		x.call.end(ctxErr, cause)
		if !final {
			x.mu.Unlock()
			return
		}
	}
	if b.ctxState.Load() == ctxEnded {
		x.mu.Unlock()
		return
	}
	base := b.parent
	if base.Done() != nil {
		base = context.WithoutCancel(base) // values, not cancellation
	}
	inner, cancel := context.WithCancelCause(base)
	cancel(cause)
	x.inner, x.err = inner, ctxErr
	// Done is closed before the state is ctxEnded, because Err reads it without
	// the lock: Err must never be non-nil while Done is still open. ctxClosing
	// tells a reader woken by Done meanwhile to wait for the lock.
	b.ctxState.Store(ctxClosing)
	if x.done == nil {
		x.done = closedChan
	} else {
		close(x.done)
	}
	b.ctxState.Store(ctxEnded)
	fns := x.afterFns
	x.afterFns = nil
	x.mu.Unlock()
	for _, a := range fns {
		a.f()
	}
}

func (b *taskBase) ensureExtra() *taskExtra {
	if x := b.extra.Load(); x != nil {
		return x
	}
	b.extra.CompareAndSwap(nil, new(taskExtra))
	return b.extra.Load()
}

// setLabels sets the calling worker goroutine's pprof labels to the task's
// when they differ from the worker's own: when the task is named or its
// parent context carries labels. It reports whether it did.
func (b *taskBase) setLabels() bool {
	w, name := b.worker, b.name()
	var labels context.Context
	if name != "" && name == w.lastName && !hasLabels(b.parent) {
		labels = w.lastLabels // a run of tasks with one name: made once
	} else {
		labels = taskLabels(b.parent, w, name)
		if name != "" && !hasLabels(b.parent) {
			w.lastName, w.lastLabels = name, labels
		}
	}
	if labels == w.labels {
		return false
	}
	b.ensureExtra().labels = labels
	pprof.SetGoroutineLabels(b)
	return true
}

// hasLabels reports whether ctx carries pprof labels.
func hasLabels(ctx context.Context) bool {
	if ctx == context.Background() {
		return false
	}
	found := false
	pprof.ForLabels(ctx, func(string, string) bool { found = true; return false })
	return found
}

// taskLabels returns the pprof labels of a task named name on worker w
// whose caller's context is parent: the caller's labels, then "worker" and
// "task". Without a name or caller's labels that is w.labels, made once
// per worker; otherwise it allocates.
func taskLabels(parent context.Context, w *worker, name string) context.Context {
	var inherited []string
	if parent != context.Background() {
		pprof.ForLabels(parent, func(k, v string) bool {
			if k != "worker" && k != "task" {
				inherited = append(inherited, k, v)
			}
			return true
		})
	}
	if name == "" && inherited == nil {
		return w.labels
	}
	labels := append(inherited, "worker", w.name)
	if name != "" {
		labels = append(labels, "task", name)
	}
	return pprof.WithLabels(context.Background(), pprof.Labels(labels...))
}

// callContext returns the context of the call about to start: the task
// itself, unless an earlier call's run timeout ended it, in which case a
// context of the call's own (see callCtx). It runs on the worker.
func (b *taskBase) callContext() context.Context {
	if b.ctxState.Load() == ctxLive {
		return b
	}
	c := newCallCtx(b)
	x := b.extra.Load()
	x.mu.Lock()
	x.call = c
	if x.finalErr != nil { // the future settled meanwhile
		c.end(x.finalErr, x.finalCause)
	}
	x.mu.Unlock()
	return c
}

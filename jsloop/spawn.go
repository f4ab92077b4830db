package jsloop

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// callOptions are spawn.with's and spawnJS.with's first argument.
type callOptions struct {
	timeout time.Duration
	signal  *goja.Object
	name    string
}

// readCallOptions reads {timeout, signal, name}; a bad one is a TypeError
// or RangeError thrown into JavaScript.
func (r *Runtime) readCallOptions(v goja.Value, what string) callOptions {
	var o callOptions
	if goja.IsUndefined(v) || goja.IsNull(v) {
		return o
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		panic(r.vm.NewTypeError("%s: the options must be an object", what))
	}
	if t := obj.Get("timeout"); t != nil && !goja.IsUndefined(t) {
		ms := t.ToFloat()
		if math.IsNaN(ms) || ms < 0 || math.IsInf(ms, 0) {
			panic(r.newRangeError(fmt.Sprintf("%s: timeout must be a number of milliseconds >= 0, got %s", what, t.String())))
		}
		o.timeout = time.Duration(ms * float64(time.Millisecond))
	}
	if s := obj.Get("signal"); s != nil && !goja.IsUndefined(s) && !goja.IsNull(s) {
		so, ok := s.(*goja.Object)
		if !ok {
			panic(r.vm.NewTypeError("%s: signal must be an AbortSignal", what))
		}
		o.signal = so
	}
	if n := obj.Get("name"); n != nil && !goja.IsUndefined(n) {
		o.name = n.String()
	}
	return o
}

func (r *Runtime) newRangeError(msg string) *goja.Object {
	ctor, ok := goja.AssertConstructor(r.vm.Get("RangeError"))
	if !ok {
		return r.newError("RangeError", msg)
	}
	obj, err := ctor(nil, r.vm.ToValue(msg))
	if err != nil {
		return r.newError("RangeError", msg)
	}
	return obj
}

func (r *Runtime) installSpawn() { r.spawnValue = r.installCall("spawn", r.spawn) }

// installCall sets the global function name, which calls call with no
// options, and its name.with(options, ...args) variant; it returns the
// function object.
func (r *Runtime) installCall(name string, call func(callOptions, []goja.Value) goja.Value) *goja.Object {
	vm := r.vm
	fn := vm.ToValue(func(c goja.FunctionCall) goja.Value {
		return call(callOptions{}, c.Arguments)
	}).(*goja.Object)
	with := vm.ToValue(func(c goja.FunctionCall) goja.Value {
		o := r.readCallOptions(c.Argument(0), name+".with")
		var rest []goja.Value
		if len(c.Arguments) > 1 {
			rest = c.Arguments[1:]
		}
		return call(o, rest)
	})
	_ = fn.Set("with", with)
	_ = vm.Set(name, fn)
	return fn
}

// spawn is spawn(name, ...args) with options o. It returns a promise.
func (r *Runtime) spawn(o callOptions, args []goja.Value) goja.Value {
	p, resolve, reject := r.vm.NewPromise()
	name := ""
	if len(args) > 0 {
		name = args[0].String()
		args = args[1:]
	}
	fn := r.lookup(name)
	if fn == nil {
		_ = reject(r.vm.NewTypeError("spawn: no Go function registered as %q", name))
		return r.vm.ToValue(p)
	}
	goArgs := make([]any, len(args))
	for i, a := range args {
		goArgs[i] = a.Export()
	}
	c := &call{r: r, resolve: resolve, reject: reject}
	if !c.watchSignal(o.signal) {
		return r.vm.ToValue(p)
	}
	taskName := o.name
	if taskName == "" && o.timeout > 0 {
		taskName = name
	}
	c.goFn, c.goArgs = fn, goArgs
	c.f = workers.Spawn(r.taskCtx, c.run, r.spawnOptions(r.pool, o.timeout, taskName)...)
	c.start()
	return r.vm.ToValue(p)
}

// spawnOptions are the workers options of one call; the common case
// (no timeout, no name) passes only the pool.
func (r *Runtime) spawnOptions(p *workers.Pool, timeout time.Duration, name string) []workers.Option {
	if timeout == 0 && name == "" {
		if p == r.pool {
			return r.poolOpt
		}
		return r.jsPoolOpt
	}
	opts := make([]workers.Option, 1, 3)
	opts[0] = workers.OnPool(p)
	if timeout > 0 {
		opts = append(opts, workers.WithTimeout(timeout))
	}
	if name != "" {
		opts = append(opts, workers.WithName(name))
	}
	return opts
}

// call is one spawn or spawnJS promise: it settles the JavaScript promise,
// on the loop, with the function's result, or with the future's error
// (timeout, cancel, refusal), or at once when its AbortSignal aborts.
type call struct {
	r               *Runtime
	gen             uint64
	f               *async.Future[any]
	resolve, reject func(any) error
	settled         bool          // the promise is settled (loop goroutine)
	held            bool          // the call holds a ref and is in r.live (loop goroutine)
	prev, next      *call         // r.live, the calls not finished yet
	unwatch         goja.Callable // stops watching the signal; nil if none
	convert         func(any) (goja.Value, error)

	// What the worker runs: a Go function and its arguments, or a spawnJS
	// call.
	goFn   Func
	goArgs []any
	js     *jsTask

	// The worker's own delivery of the function's result (see run).
	posted atomic.Bool
	value  any
	err    error
}

// run is the task: it runs the Go function or the spawnJS call, then posts
// the result to the loop itself, straight from the function's frame, rather
// than through the future's waker: a waker runs at the bottom of the
// future's settle, deep enough that a fresh worker goroutine grows (copies)
// its stack to signal the loop, which cost about as much as the rest of a
// round trip. The future still reports what the function cannot: a
// timeout or cancel (the context has ended, so the worker does not post),
// a refusal, a Goexit. A panic is recovered here and returned as an
// *async.PanicError.
func (c *call) run(ctx context.Context) (any, error) {
	// run's own frame stays small (the call and its recover live in
	// invoke), since the post is where a fresh goroutine's stack is deepest.
	v, err := c.invoke(ctx)
	if ctx.Err() == nil {
		c.value, c.err = v, err
		c.posted.Store(true)
		c.r.loop.Post(c.onPosted)
	}
	return v, err
}

// invoke runs the function and turns a panic into an *async.PanicError.
func (c *call) invoke(ctx context.Context) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, &async.PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	if c.js != nil {
		return c.js.run(ctx)
	}
	return c.goFn(ctx, c.goArgs)
}

// watchSignal rejects the promise at once with the signal's reason if it
// has aborted already (false: nothing should start), or arranges for an
// abort to do so later.
func (c *call) watchSignal(signal *goja.Object) bool {
	if signal == nil {
		return true
	}
	r := c.r
	stop, err := r.onAbort(goja.Undefined(), signal, r.vm.ToValue(func(goja.FunctionCall) goja.Value {
		c.abort(signal.Get("reason"))
		return goja.Undefined()
	}))
	if err != nil {
		panic(r.thrownValue(err)) // the TypeError: not an AbortSignal
	}
	c.unwatch, _ = goja.AssertFunction(stop)
	if signal.Get("aborted").ToBoolean() {
		c.stopWatching()
		_ = c.reject(signal.Get("reason"))
		return false
	}
	return true
}

// start watches the future: when it settles, the loop settles the
// promise. The call keeps RunScript alive until then.
func (c *call) start() {
	r := c.r
	c.gen = r.gen
	c.held = true
	r.ref()
	c.next = r.live
	if r.live != nil {
		r.live.prev = c
	}
	r.live = c
	if c.f.Poll(c).IsReady() {
		c.Wake()
	}
}

// Wake runs on the goroutine that settled the future. When the worker has
// posted the result already, there is nothing to do.
func (c *call) Wake() {
	if !c.posted.Load() {
		c.r.loop.Post(c.onSettled)
	}
}

func (c *call) onPosted() { c.finish(c.value, c.err) }

func (c *call) onSettled() {
	res, _ := c.f.Result()
	c.finish(res.Value, res.Err)
}

// finish settles the promise with v or err, once, on the loop.
func (c *call) finish(v any, err error) {
	r := c.r
	if c.gen != r.gen {
		return
	}
	// Released after the turn: a continuation that spawns again keeps the
	// count above zero, so a chain of awaits does not take and release the
	// loop's hold at every step.
	defer c.release()
	if c.settled {
		return
	}
	c.settled = true
	r.turn(func() {
		c.stopWatching()
		if err != nil {
			_ = c.reject(r.errorValue(err))
			return
		}
		if c.convert != nil {
			jv, err := c.convert(v)
			if err != nil {
				_ = c.reject(r.thrownValue(err))
				return
			}
			_ = c.resolve(jv)
			return
		}
		_ = c.resolve(r.vm.ToValue(v))
	})
}

func (c *call) release() {
	if !c.held {
		return
	}
	r := c.r
	c.held = false
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		r.live = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
	r.unref()
}

// cancelLive cancels the future of every call not finished yet, at the end
// of a RunScript: queued tasks never run and running ones see their
// context end with cause. Tasks derive their context from one that is
// never cancelled (so that a spawn costs no context registration); this is
// how they end with the run.
func (r *Runtime) cancelLive(cause error) {
	for c := r.live; c != nil; {
		next := c.next
		c.held, c.prev, c.next = false, nil, nil
		c.f.CancelWithCause(cause)
		c = next
	}
	r.live = nil
}

// abort runs in the signal's abort listener, on the loop.
func (c *call) abort(reason goja.Value) {
	if c.settled {
		return
	}
	c.settled = true
	c.unwatch = nil // the listener list is being dispatched and was reset
	if c.f != nil {
		c.f.CancelWithCause(errAborted)
	}
	_ = c.reject(reason)
	c.release()
}

func (c *call) stopWatching() {
	if c.unwatch != nil {
		_, _ = c.unwatch(goja.Undefined())
		c.unwatch = nil
	}
}

// errAborted is the cause of a task's context ending by its AbortSignal.
var errAborted = fmt.Errorf("jsloop: aborted by its AbortSignal: %w", context.Canceled)

// thrownValue is the JavaScript value of an error from goja (an exception
// carries the thrown value) or from Go.
func (r *Runtime) thrownValue(err error) goja.Value {
	if ex, ok := err.(*goja.Exception); ok {
		return ex.Value()
	}
	return r.errorValue(err)
}

// Await returns, on the loop, a JavaScript promise that settles with f: it
// fulfils with f's value through goja's ToValue, or rejects with the Error
// its error becomes (see the package documentation for names). Until f
// settles, the promise keeps the RunScript in progress alive. Call it only
// on the loop goroutine, from a function installed on the VM (by Setup, or
// from a callback posted to Loop()); if RunScript ends first, the promise
// never settles and nothing is kept alive.
func Await[T any](r *Runtime, f *async.Future[T]) goja.Value {
	p, resolve, reject := r.vm.NewPromise()
	if f == nil {
		_ = reject(r.vm.NewTypeError("Await of a nil future"))
		return r.vm.ToValue(p)
	}
	a := &awaitCall[T]{r: r, f: f, gen: r.gen, resolve: resolve, reject: reject}
	r.ref()
	if f.Poll(a).IsReady() {
		a.Wake()
	}
	return r.vm.ToValue(p)
}

type awaitCall[T any] struct {
	r               *Runtime
	f               *async.Future[T]
	gen             uint64
	resolve, reject func(any) error
}

func (a *awaitCall[T]) Wake() { a.r.loop.Post(a.onSettled) }

func (a *awaitCall[T]) onSettled() {
	r := a.r
	if a.gen != r.gen {
		return
	}
	defer r.unref()
	res, _ := a.f.Result()
	r.turn(func() {
		if res.Err != nil {
			_ = a.reject(r.errorValue(res.Err))
			return
		}
		_ = a.resolve(r.vm.ToValue(res.Value))
	})
}

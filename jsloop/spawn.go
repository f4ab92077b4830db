package jsloop

import (
	"context"
	"fmt"
	"math"
	"reflect"
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
	buffer  int // the stream's buffer; -1 when not given
}

// bufferOr is the buffer option, or def when it was not given.
func (o callOptions) bufferOr(def int) int {
	if o.buffer < 0 {
		return def
	}
	return o.buffer
}

// readCallOptions reads {timeout, signal, name}; a bad one is a TypeError
// or RangeError thrown into JavaScript.
func (r *Runtime) readCallOptions(v goja.Value, what string) callOptions {
	o := callOptions{buffer: -1}
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
	if b := obj.Get("buffer"); b != nil && !goja.IsUndefined(b) {
		n := b.ToFloat()
		if math.IsNaN(n) || n < 0 || n > math.MaxInt32 || n != math.Trunc(n) {
			panic(r.newRangeError(fmt.Sprintf("%s: buffer must be a whole number >= 0, got %s", what, b.String())))
		}
		o.buffer = int(n)
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

func (r *Runtime) installSpawn() {
	r.spawnValue = r.installCall("spawn", r.spawn)
	_ = r.spawnValue.Set("stream", r.installCall("spawn.stream", r.spawnStream))
	_ = r.vm.Set("spawn", r.spawnValue)
}

// installCall sets the global function name, which calls call with no
// options, and its name.with(options, ...args) variant; it returns the
// function object.
func (r *Runtime) installCall(name string, call func(callOptions, []goja.Value) goja.Value) *goja.Object {
	vm := r.vm
	fn := vm.ToValue(func(c goja.FunctionCall) goja.Value {
		return call(callOptions{buffer: -1}, c.Arguments)
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
	return fn
}

// spawn is spawn(name, ...args) with options o. It returns a promise.
func (r *Runtime) spawn(o callOptions, args []goja.Value) goja.Value {
	rn := r.current()
	p, resolve, reject := r.vm.NewPromise()
	name := ""
	if len(args) > 0 {
		name = args[0].String()
		args = args[1:]
	}
	gf, ok := r.lookup(name)
	if !ok {
		_ = reject(r.vm.NewTypeError("spawn: no Go function registered as %q", name))
		return r.vm.ToValue(p)
	}
	c := &call{rn: rn, resolve: resolve, reject: reject}
	if gf.plain != nil {
		// A Register function: its arguments as they are, unboxed.
		goArgs, err := r.exportArgs(args)
		if err != nil {
			_ = reject(r.thrownValue(err))
			return r.vm.ToValue(p)
		}
		c.plainFn, c.goArgs = gf.plain, goArgs
	} else {
		in, refusal := gf.decode(r, name, args)
		if refusal != nil {
			_ = reject(refusal)
			return r.vm.ToValue(p)
		}
		c.goFn, c.goIn = gf.call, in
	}
	if !c.watchSignal(o.signal) {
		return r.vm.ToValue(p)
	}
	taskName := o.name
	if taskName == "" && o.timeout > 0 {
		taskName = name
	}
	c.f = workers.Spawn(rn.taskCtx, c.run, r.spawnOptions(r.pool, o.timeout, taskName)...)
	c.start()
	return r.vm.ToValue(p)
}

// exportArgs is how spawn's arguments reach Go: strings, numbers (int64 or
// float64), booleans, null and undefined (nil) as goja exports them;
// anything else is cloned through JSON by the spawnJS rules (objects
// become map[string]any, arrays []any), so the Go function never holds a
// value of the VM, which it could only touch by racing with the loop.
// Functions, symbols and BigInts are refused with a DataCloneError. An
// interrupt while cloning (a getter the ctx cut) is passed on as a panic,
// so it ends the JavaScript instead of becoming a value it could catch.
func (r *Runtime) exportArgs(args []goja.Value) ([]any, error) {
	out := make([]any, len(args))
	for i, a := range args {
		if v, ok := plainPrimitive(a); ok {
			out[i] = v
			continue
		}
		if ch := r.channelOf(a); ch != nil {
			out[i] = ch
			continue
		}
		s, err := r.toJSON(goja.Undefined(), a, r.spawnLabel)
		if err == nil {
			var v goja.Value
			if v, err = r.fromJSON(goja.Undefined(), s); err == nil {
				out[i] = v.Export()
				continue
			}
		}
		if isUncatchable(err) {
			panic(err)
		}
		return nil, err
	}
	return out, nil
}

// plainPrimitive is v exported, if v is undefined, null, a string, a
// number or a boolean.
func plainPrimitive(v goja.Value) (any, bool) {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil, true
	}
	switch v.(type) {
	case *goja.Object, *goja.Symbol:
		return nil, false
	}
	switch t := v.ExportType(); {
	case t == nil:
		return nil, false
	case t.Kind() == reflect.String, t.Kind() == reflect.Int64, t.Kind() == reflect.Float64, t.Kind() == reflect.Bool:
		return v.Export(), true
	}
	return nil, false
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

// call is one spawn or spawnJS promise of a run: it settles the
// JavaScript promise, on the loop, with the outcome of the task, or at once
// when its AbortSignal aborts.
//
// The outcome is decided once, by the first of two events: the function
// returning while its context is still live (the worker then posts the
// result straight from the function's frame), or the future settling
// otherwise (a timeout, a cancel, a refusal by the pool, a panic, a
// Goexit). Whichever wins the delivered flag writes value and err and posts
// deliver; the other does nothing. So exactly one path delivers a result.
// The worker posts itself, rather than through the future's waker, because
// a waker runs at the bottom of the future's settle, deep enough that a
// fresh worker goroutine grows (copies) its stack to signal the loop, which
// cost about as much as the rest of a round trip.
type call struct {
	rn              *run
	f               *async.Future[any]
	resolve, reject func(any) error
	settled         bool          // the promise is settled (loop goroutine)
	held            bool          // the call holds a ref and is in rn.live (loop goroutine)
	prev, next      *call         // rn.live, the calls not finished yet
	unwatch         goja.Callable // stops watching the signal; nil if none
	convert         func(any) (goja.Value, error)

	// What the worker runs: a Go function and its arguments, or a spawnJS
	// call.
	plainFn Func // a Register function, with goArgs
	goArgs  []any
	goFn    func(context.Context, any) (any, error) // a RegisterFunc function, with goIn
	goIn    any
	js      *jsTask

	// The outcome: written by the winner of delivered before it posts
	// deliver, read by deliver on the loop.
	delivered atomic.Bool
	value     any
	err       error
}

// run is the task. A panic is not recovered here: the pool recovers it
// (internal/safecall), counts it in Stats.Panicked and settles the future
// with a *PanicError, which reaches JavaScript through Wake.
func (c *call) run(ctx context.Context) (any, error) {
	// run's own frame stays small (the call lives in invoke), since the
	// post is where a fresh goroutine's stack is deepest.
	v, err := c.invoke(ctx)
	if ctx.Err() == nil && c.delivered.CompareAndSwap(false, true) {
		c.value, c.err = v, err
		c.rn.r.loop.Post(c.deliver)
	}
	return v, err
}

func (c *call) invoke(ctx context.Context) (any, error) {
	if c.js != nil {
		return c.js.run(ctx)
	}
	if c.plainFn != nil {
		return c.plainFn(ctx, c.goArgs)
	}
	return c.goFn(ctx, c.goIn)
}

// Wake runs on the goroutine that settled the future.
func (c *call) Wake() {
	if c.delivered.CompareAndSwap(false, true) {
		res, _ := c.f.Result()
		c.value, c.err = res.Value, res.Err
		c.rn.r.loop.Post(c.deliver)
	}
}

// watchSignal rejects the promise at once with the signal's reason if it
// has aborted already (false: nothing should start), or arranges for an
// abort to do so later.
func (c *call) watchSignal(signal *goja.Object) bool {
	if signal == nil {
		return true
	}
	stop, aborted := c.rn.r.watchAbort(signal, c.abort)
	if aborted {
		_ = c.reject(signal.Get("reason"))
		return false
	}
	c.unwatch = stop
	return true
}

// watchAbort arranges for fn to be called with the signal's reason, once,
// when signal aborts, and returns the function that stops watching; if
// signal has aborted already, it watches nothing and returns aborted true.
// A signal that is not an AbortSignal throws a TypeError.
func (r *Runtime) watchAbort(signal *goja.Object, fn func(reason goja.Value)) (stop goja.Callable, aborted bool) {
	stopV, err := r.onAbort(goja.Undefined(), signal, r.vm.ToValue(func(goja.FunctionCall) goja.Value {
		fn(signal.Get("reason"))
		return goja.Undefined()
	}))
	if err != nil {
		r.throw(err) // the TypeError: not an AbortSignal
	}
	stop, _ = goja.AssertFunction(stopV)
	if signal.Get("aborted").ToBoolean() {
		_, _ = stop(goja.Undefined())
		return nil, true
	}
	return stop, false
}

// throw throws err into the JavaScript that called a native function: an
// interrupt or stack overflow as it is (uncatchable), an exception as its
// value, a Go error as the Error it becomes.
func (r *Runtime) throw(err error) {
	if isUncatchable(err) {
		panic(err)
	}
	panic(r.thrownValue(err))
}

// start watches the future: when it settles, the loop settles the
// promise. The call keeps the run alive until then.
func (c *call) start() {
	rn := c.rn
	c.held = true
	rn.ref()
	c.next = rn.live
	if rn.live != nil {
		rn.live.prev = c
	}
	rn.live = c
	if c.f.Poll(c).IsReady() {
		c.Wake()
	}
}

// deliver settles the promise with the outcome, once, on the loop; a call
// of an ended run does nothing (the run's end released it).
func (c *call) deliver() {
	rn := c.rn
	r := rn.r
	if r.cur != rn {
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
	v, err := c.value, c.err
	c.value, c.err = nil, nil // do not keep the result alive
	rn.turn(func() {
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
	rn := c.rn
	c.held = false
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		rn.live = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
	rn.unref()
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
// from a callback posted to Loop()) while a RunScript runs; if RunScript
// ends first, the promise never settles and nothing is kept alive.
func Await[T any](r *Runtime, f *async.Future[T]) goja.Value {
	p, resolve, reject := r.vm.NewPromise()
	rn := r.cur
	switch {
	case rn == nil:
		_ = reject(r.vm.NewTypeError("Await outside a RunScript"))
		return r.vm.ToValue(p)
	case f == nil:
		_ = reject(r.vm.NewTypeError("Await of a nil future"))
		return r.vm.ToValue(p)
	}
	a := &awaitCall[T]{rn: rn, f: f, resolve: resolve, reject: reject}
	rn.ref()
	if f.Poll(a).IsReady() {
		a.Wake()
	}
	return r.vm.ToValue(p)
}

type awaitCall[T any] struct {
	rn              *run
	f               *async.Future[T]
	resolve, reject func(any) error
}

func (a *awaitCall[T]) Wake() { a.rn.r.loop.Post(a.onSettled) }

func (a *awaitCall[T]) onSettled() {
	rn := a.rn
	r := rn.r
	if r.cur != rn {
		return
	}
	defer rn.unref()
	res, _ := a.f.Result()
	rn.turn(func() {
		if res.Err != nil {
			_ = a.reject(r.errorValue(res.Err))
			return
		}
		_ = a.resolve(r.vm.ToValue(res.Value))
	})
}

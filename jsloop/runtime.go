package jsloop

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/internal/safecall"
	"github.com/velalang/runtime/workers"
)

// Func is a Go function that JavaScript calls with spawn(name, ...args). It
// runs on a worker of Options.Pool, never on the loop. args are the
// JavaScript arguments exported with goja's Export on the loop (numbers are
// int64 or float64, objects map[string]any, arrays []any, and so on); the
// result goes back through goja's ToValue on the loop. ctx ends when the
// call times out (spawn.with's timeout), its AbortSignal aborts, or the
// RunScript that started it ends.
type Func func(ctx context.Context, args []any) (any, error)

// Options configure a Runtime. The zero Options are valid.
type Options struct {
	// Pool is where spawn() runs Go functions; nil means workers.Default().
	Pool *workers.Pool
	// JSPool is where spawnJS() runs JavaScript; nil means a pool of
	// GOMAXPROCS workers, idle ones kept for a second, that the Runtime
	// makes and Close closes.
	JSPool *workers.Pool
	// Modules are the modules spawnJS can call: name -> CommonJS source
	// (assigning module.exports or properties of exports). Each is compiled
	// on first use, once, and the compiled program is shared by every call;
	// one that does not compile makes each spawnJS of it reject with its
	// SyntaxError, and leaves the other modules alone.
	Modules map[string]string
	// Setup runs once, in New, before any script and while nothing else can
	// touch the VM: install globals such as goja_nodejs's console or
	// require there, or Console from this package.
	Setup func(*goja.Runtime)
}

// Runtime is one goja VM on one async.Loop, with spawn, spawnJS, timers,
// queueMicrotask and AbortController installed as globals.
//
// The VM is only ever touched on the goroutine running the loop, which is
// the goroutine that calls RunScript, while it runs. Register, Loop and
// Close are safe from any goroutine; RunScript runs one script at a time
// (a second concurrent call returns an error wrapping
// async.ErrLoopRunning), and successive scripts share the VM's globals.
type Runtime struct {
	loop   *async.Loop
	vm     *goja.Runtime
	pool   *workers.Pool
	jsPool *workers.Pool
	ownJS  bool

	funcsMu sync.RWMutex
	funcs   map[string]goFunc
	streams map[string]streamFunc

	modules map[string]*module // read-only after New; each compiled on the loop
	spares  spares             // prepared runtimes for spawnJS calls

	closeCtx    context.Context
	closeCancel context.CancelFunc
	running     atomic.Bool
	broken      atomic.Bool

	// interruptMu guards the VM's interrupt flag: an interrupt is only
	// delivered while its run is armed, so that it can be cleared for good
	// after.
	interruptMu sync.Mutex
	armed       *run // the run whose context may interrupt; nil for none

	cur   *run   // the RunScript in progress (loop goroutine)
	guard *guard // reads JavaScript values safely (loop goroutine)

	errorCtor                goja.Constructor
	onAbort                  goja.Callable
	toJSON                   goja.Callable
	fromJSON                 goja.Callable
	isPromise                goja.Callable
	spawnValue               *goja.Object
	spawnLabel, spawnJSLabel goja.Value       // "spawn", "spawnJS": toJSON's who
	asyncIterator            *goja.Symbol     // Symbol.asyncIterator
	channelKey               *goja.Symbol     // a Channel object's *Channel
	cloning                  []*Channel       // the Channels met by the clone in progress
	returnThis               goja.Value       // function () { return this }
	poolOpt                  []workers.Option // OnPool(pool), made once
	jsPoolOpt                []workers.Option // OnPool(jsPool), made once
}

// New makes a Runtime: a VM with the globals described in the package
// documentation, then Setup's. It compiles every module of opts.Modules; a
// A Setup that panics gives an error wrapping *async.PanicError.
func New(opts Options) (rt *Runtime, err error) {
	r := &Runtime{
		loop:    async.NewLoop(),
		vm:      goja.New(),
		pool:    opts.Pool,
		jsPool:  opts.JSPool,
		funcs:   make(map[string]goFunc),
		streams: make(map[string]streamFunc),
		modules: make(map[string]*module, len(opts.Modules)),
	}
	r.guard = newGuard(r.vm)
	if r.pool == nil {
		r.pool = workers.Default()
	}
	for name, src := range opts.Modules {
		r.modules[name] = &module{name: name, src: src}
	}
	if err := r.install(); err != nil {
		return nil, err
	}
	if opts.Setup != nil {
		if err := r.callSafely(func() { opts.Setup(r.vm) }); err != nil {
			return nil, fmt.Errorf("jsloop: Setup: %w", err)
		}
	}
	if r.jsPool == nil {
		// Idle workers wait a while for the next call, keeping the stacks
		// goja grew: a fresh goroutine would copy its stack as it deepens.
		// Close retires them at once.
		r.jsPool, _ = workers.NewPool(workers.Config{Name: "vela-js", IdleTimeout: time.Second})
		r.ownJS = true
	}
	r.poolOpt = []workers.Option{workers.OnPool(r.pool)}
	r.jsPoolOpt = []workers.Option{workers.OnPool(r.jsPool)}
	r.closeCtx, r.closeCancel = context.WithCancel(context.Background())
	return r, nil
}

// callSafely runs fn through internal/safecall and turns a panic into an
// *async.PanicError; a runtime.Goexit goes on (the caller's goroutine
// exits) and marks r broken.
func (r *Runtime) callSafely(fn func()) error {
	_, rec, _ := safecall.Call(func(struct{}) (struct{}, error) {
		fn()
		return struct{}{}, nil
	}, struct{}{}, goexitRecorder{r})
	if rec != nil {
		return &async.PanicError{Value: rec.Value, Stack: rec.Stack}
	}
	return nil
}

// goexitRecorder marks the Runtime broken when Go code on the VM's
// goroutine calls runtime.Goexit: the VM was in use and is left as it was.
type goexitRecorder struct{ r *Runtime }

func (g goexitRecorder) Goexited() { g.r.broken.Store(true) }

// install sets the globals.
func (r *Runtime) install() error {
	vm := r.vm
	var ok bool
	if r.errorCtor, ok = goja.AssertConstructor(vm.Get("Error")); !ok {
		return errors.New("jsloop: no Error constructor")
	}
	natives := vm.NewObject()
	_ = natives.Set("uncaught", func(call goja.FunctionCall) goja.Value {
		rn := r.current()
		rn.fail(describe(r.guard, call.Argument(0), ""))
		return goja.Undefined()
	})
	_ = natives.Set("unrefTimer", func(call goja.FunctionCall) goja.Value {
		fn, ok := goja.AssertFunction(call.Argument(1))
		if ok {
			r.current().addTimer(fn, nil, delayOf(call.Argument(0)), false, false)
		}
		return goja.Undefined()
	})
	err := installDepthGuard(vm)
	if err != nil {
		return err
	}
	if r.asyncIterator, err = defineAsyncIterator(vm); err != nil {
		return err
	}
	r.returnThis = vm.ToValue(func(c goja.FunctionCall) goja.Value { return c.This })
	fnv, err := vm.RunProgram(preludeProgram)
	if err != nil {
		return fmt.Errorf("jsloop: prelude: %w", err)
	}
	fn, _ := goja.AssertFunction(fnv)
	exportsV, err := fn(goja.Undefined(), natives)
	if err != nil {
		return fmt.Errorf("jsloop: prelude: %w", err)
	}
	exports := exportsV.ToObject(vm)
	get := func(name string) goja.Callable {
		f, _ := goja.AssertFunction(exports.Get(name))
		return f
	}
	r.onAbort, r.toJSON, r.fromJSON, r.isPromise = get("onAbort"), get("toJSON"), get("fromJSON"), get("isPromise")
	r.spawnLabel, r.spawnJSLabel = vm.ToValue("spawn"), vm.ToValue("spawnJS")

	global := vm.GlobalObject()
	for _, name := range []string{"queueMicrotask", "structuredClone", "AbortController", "AbortSignal"} {
		if err := global.DefineDataProperty(name, exports.Get(name), goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE); err != nil {
			return err
		}
	}
	r.installTimers()
	if err := r.installGlobals(); err != nil {
		return err
	}
	r.installSpawn()
	r.installSpawnJS()
	r.channelKey = goja.NewSymbol("vela.channel")
	if err := r.installChannel(); err != nil {
		return err
	}
	vm.SetPromiseRejectionTracker(r.trackRejection)
	return nil
}

// Register makes fn callable from JavaScript as spawn(name, ...). It is safe
// from any goroutine, also while a script runs. An empty name, a nil fn or
// a name already registered is an error wrapping
// workers.ErrInvalidArgument.
func (r *Runtime) Register(name string, fn Func) error {
	if fn == nil {
		return fmt.Errorf("jsloop: Register(%q) with a nil function: %w", name, workers.ErrInvalidArgument)
	}
	return r.register("Register", name, goFunc{plain: fn})
}

// goFunc is a Go function spawn can call: a Register function (plain),
// or a RegisterFunc one, whose decode turns the JavaScript arguments into
// its input on the loop (a non-nil second result is the JavaScript value
// the promise rejects with) and whose call runs on the pool.
type goFunc struct {
	plain  Func
	decode func(r *Runtime, name string, args []goja.Value) (any, goja.Value)
	call   func(ctx context.Context, in any) (any, error)
}

func (r *Runtime) register(what, name string, gf goFunc) error {
	if name == "" {
		return fmt.Errorf("jsloop: %s with an empty name: %w", what, workers.ErrInvalidArgument)
	}
	r.funcsMu.Lock()
	defer r.funcsMu.Unlock()
	if _, taken := r.funcs[name]; taken {
		return fmt.Errorf("jsloop: %s(%q): name already registered: %w", what, name, workers.ErrInvalidArgument)
	}
	r.funcs[name] = gf
	return nil
}

func (r *Runtime) lookup(name string) (goFunc, bool) {
	r.funcsMu.RLock()
	gf, ok := r.funcs[name]
	r.funcsMu.RUnlock()
	return gf, ok
}

// Loop returns the loop the VM runs on. Go code may Post callbacks to it
// (they run on the loop goroutine, where they may touch the VM, while a
// RunScript runs), but must not Run it itself.
func (r *Runtime) Loop() *async.Loop { return r.loop }

// Close stops the Runtime: a RunScript in progress returns promptly (its
// JavaScript is interrupted and every spawned task's context ends), later
// RunScript calls return an error wrapping async.ErrLoopClosed, and the
// spawnJS pool is closed if the Runtime made it. Close waits for the
// goroutine that prepares spawnJS runtimes ahead of the calls (at most one
// preparation, tens of microseconds), but not for Go functions that ignore
// their context; a second Close does nothing. Safe from any goroutine.
func (r *Runtime) Close() {
	r.closeCancel()
	r.loop.Close()
	if r.ownJS {
		r.jsPool.Close()
	}
	r.spares.close()
}

// RunScript evaluates src (a script, not a module; name appears in stack
// traces) on the calling goroutine, which becomes the loop goroutine, then
// runs the loop until no work is left: no timer (AbortSignal.timeout's
// excepted), no spawned Go or JavaScript call, no pending Await. It returns
// the script's completion value exported to Go; if that value is a
// promise, the value it fulfilled with, or its rejection as a *JSError, or
// ErrUnsettled if it is still pending when no work is left.
//
// An uncaught exception (in the script, a timer, a microtask or an abort
// listener), or a promise rejected with no handler by the end of a loop
// turn, ends RunScript at once with a *JSError, whatever the value thrown
// (getters and proxies that throw give a best-effort name and message). A
// Go function that panics on the loop (one Setup installed) ends it with an
// error wrapping *async.PanicError, and the Runtime is unusable afterwards
// (ErrBroken). When ctx ends, RunScript interrupts any JavaScript running
// on the loop (a getter run while exporting the result included) and
// returns ctx.Err() promptly. However RunScript ends, the contexts of the
// Go functions and spawnJS calls it started end, its timers are dropped,
// and callbacks still queued for it never run.
func (r *Runtime) RunScript(ctx context.Context, name, src string) (any, error) {
	if ctx == nil {
		return nil, fmt.Errorf("jsloop: RunScript with a nil context: %w", workers.ErrInvalidArgument)
	}
	if !r.running.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("jsloop: RunScript: %w", async.ErrLoopRunning)
	}
	defer r.running.Store(false)
	if r.broken.Load() {
		return nil, ErrBroken
	}
	if r.closeCtx.Err() != nil {
		return nil, fmt.Errorf("jsloop: RunScript: %w", async.ErrLoopClosed)
	}
	prg, err := compile(name, src, false)
	if err != nil {
		return nil, exceptionError(r.guard, err)
	}

	rn := r.newRun(ctx)
	r.guard.ctx = rn.ctx
	stopClose := context.AfterFunc(r.closeCtx, func() { rn.cancel(async.ErrLoopClosed) })
	r.cur = rn
	r.vm.ClearInterrupt()
	r.arm(rn)
	stopInterrupt := context.AfterFunc(rn.ctx, func() { r.interrupt(rn) })

	var completion goja.Value
	r.loop.Post(func() {
		rn.turn(func() {
			v, err := r.vm.RunProgram(prg)
			if err != nil {
				rn.failJS(err)
				return
			}
			completion = v
		})
	})
	runErr := r.runLoop(rn)
	var result any
	var resultErr error
	if runErr == nil && rn.failErr == nil && rn.ctx.Err() == nil {
		// Still armed: exporting may run getters, which the ctx can
		// interrupt.
		result, resultErr = r.settle(rn, completion)
	}

	// The end of this run, on the loop goroutine still.
	stopInterrupt()
	stopClose()
	r.arm(nil)
	r.vm.ClearInterrupt()
	if r.guard.panicked {
		r.broken.Store(true)
	}
	endCause := context.Cause(rn.ctx)
	if endCause == nil {
		endCause = errRunEnded
	}
	rn.end(endCause)
	r.cur = nil

	switch {
	case rn.failErr != nil:
		return nil, rn.failErr
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(runErr, async.ErrLoopClosed) || r.closeCtx.Err() != nil:
		return nil, fmt.Errorf("jsloop: RunScript: %w", async.ErrLoopClosed)
	case runErr != nil:
		return nil, runErr
	}
	return result, resultErr
}

// arm makes rn the run whose context may interrupt the VM (nil: none).
func (r *Runtime) arm(rn *run) {
	r.interruptMu.Lock()
	r.armed = rn
	r.interruptMu.Unlock()
}

// interrupt interrupts the VM for rn, if rn is still armed.
func (r *Runtime) interrupt(rn *run) {
	r.interruptMu.Lock()
	if r.armed == rn {
		r.vm.Interrupt(context.Cause(rn.ctx))
	}
	r.interruptMu.Unlock()
}

// current is the run in progress, for a native function; called outside a
// run (from Setup, say), it throws a TypeError.
func (r *Runtime) current() *run {
	if r.cur == nil {
		panic(r.vm.NewTypeError("jsloop: no script is running"))
	}
	return r.cur
}

// errRunEnded is the cause of the end of a task's context when the
// RunScript that started it ended without error before the task finished
// (an await that nobody waits for, say).
var errRunEnded = fmt.Errorf("jsloop: the RunScript that spawned the task ended: %w", context.Canceled)

// runLoop runs the loop. A panic in a loop callback (a Go function Setup
// installed on the VM, or a callback posted to Loop() by Go code) is
// recovered through internal/safecall and ends the run with an error
// wrapping *async.PanicError instead of unwinding RunScript; the VM may
// have been in use, so the Runtime is marked broken.
func (r *Runtime) runLoop(rn *run) error {
	_, rec, err := safecall.Call(func(ctx context.Context) (struct{}, error) {
		return struct{}{}, r.loop.Run(ctx)
	}, rn.ctx, goexitRecorder{r})
	if rec != nil {
		r.broken.Store(true)
		perr := fmt.Errorf("jsloop: a Go function panicked on the loop: %w", &async.PanicError{Value: rec.Value, Stack: rec.Stack})
		rn.fail(perr)
		if rn.failErr == nil {
			rn.failErr = perr
		}
		return nil
	}
	return err
}

// settle is RunScript's result for the completion value v, read through
// the guard.
func (r *Runtime) settle(rn *run, v goja.Value) (any, error) {
	if v == nil {
		return nil, nil
	}
	var out any
	var outErr error
	err := r.guard.run(func() {
		if p, ok := v.Export().(*goja.Promise); ok {
			switch p.State() {
			case goja.PromiseStateFulfilled:
				out = exportValue(p.Result())
			case goja.PromiseStateRejected:
				outErr = describe(r.guard, p.Result(), "")
			default:
				outErr = ErrUnsettled
			}
			return
		}
		out = v.Export()
	})
	switch {
	case err == nil:
		return out, outErr
	case rn.ctx.Err() != nil:
		return nil, rn.ctx.Err()
	}
	return nil, exceptionError(r.guard, err)
}

func exportValue(v goja.Value) any {
	if v == nil {
		return nil
	}
	return v.Export()
}

func (r *Runtime) trackRejection(p *goja.Promise, op goja.PromiseRejectionOperation) {
	rn := r.cur
	if rn == nil {
		return
	}
	switch op {
	case goja.PromiseRejectionReject:
		rn.rejected = append(rn.rejected, p)
	case goja.PromiseRejectionHandle:
		for i, q := range rn.rejected {
			if q == p {
				rn.rejected = append(rn.rejected[:i], rn.rejected[i+1:]...)
				break
			}
		}
	}
}

package jsloop

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
	"github.com/velalang/runtime/async"
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
	// once, by New, and the compiled program is shared by every call.
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
	funcs   map[string]Func

	modules map[string]*goja.Program

	closeCtx    context.Context
	closeCancel context.CancelFunc
	running     atomic.Bool
	broken      atomic.Bool

	// interrupt guards the VM's interrupt flag: an interrupt is only
	// delivered while armed, so that it can be cleared for good after.
	interruptMu sync.Mutex
	armed       uint64 // the run whose context may interrupt; 0 for none
	runs        uint64

	// Loop-goroutine state.
	runCtx    context.Context
	taskCtx   context.Context // runCtx's values, never cancelled: the parent of tasks
	cancelRun context.CancelCauseFunc
	live      *call           // spawn and spawnJS calls not finished
	gen       uint64          // bumped when a RunScript ends: older callbacks are dropped
	failErr   error           // first error that ends the current RunScript
	refs      int             // timers and awaits keeping RunScript alive
	release   func()          // the loop's Hold while refs > 0
	rejected  []*goja.Promise // rejected with no handler, in order
	timers    timerQueue
	turnStart time.Time // when the current turn began: the "now" of new timers

	errorCtor  goja.Constructor
	onAbort    goja.Callable
	toJSON     goja.Callable
	fromJSON   goja.Callable
	isPromise  goja.Callable
	spawnValue *goja.Object
	poolOpt    []workers.Option // OnPool(pool), made once
	jsPoolOpt  []workers.Option // OnPool(jsPool), made once
}

// New makes a Runtime: a VM with the globals described in the package
// documentation, then Setup's. It compiles every module of opts.Modules; a
// module that does not compile gives an error naming it that wraps both
// workers.ErrInvalidArgument and a *JSError (Name "SyntaxError"). A Setup
// that panics gives an error wrapping *async.PanicError.
func New(opts Options) (rt *Runtime, err error) {
	r := &Runtime{
		loop:    async.NewLoop(),
		vm:      goja.New(),
		pool:    opts.Pool,
		jsPool:  opts.JSPool,
		funcs:   make(map[string]Func),
		modules: make(map[string]*goja.Program, len(opts.Modules)),
	}
	if r.pool == nil {
		r.pool = workers.Default()
	}
	for name, src := range opts.Modules {
		prg, err := goja.Compile(name, "(function (exports, module) {"+src+"\n})", false)
		if err != nil {
			return nil, fmt.Errorf("jsloop: module %q does not compile: %w: %w", name, workers.ErrInvalidArgument, exceptionError(err))
		}
		r.modules[name] = prg
	}
	if err := r.install(); err != nil {
		return nil, err
	}
	if opts.Setup != nil {
		if err := callSafely(func() { opts.Setup(r.vm) }); err != nil {
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

// callSafely runs fn and turns a panic into an *async.PanicError.
func callSafely(fn func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &async.PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	fn()
	return nil
}

// install sets the globals.
func (r *Runtime) install() error {
	vm := r.vm
	var ok bool
	if r.errorCtor, ok = goja.AssertConstructor(vm.Get("Error")); !ok {
		return errors.New("jsloop: no Error constructor")
	}
	natives := vm.NewObject()
	_ = natives.Set("uncaught", func(call goja.FunctionCall) goja.Value {
		r.fail(jsErrorOf(call.Argument(0), ""))
		return goja.Undefined()
	})
	_ = natives.Set("unrefTimer", func(call goja.FunctionCall) goja.Value {
		fn, ok := goja.AssertFunction(call.Argument(1))
		if ok {
			r.addTimer(fn, nil, delayOf(call.Argument(0)), false, false)
		}
		return goja.Undefined()
	})
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
	global := vm.GlobalObject()
	for _, name := range []string{"queueMicrotask", "AbortController", "AbortSignal"} {
		if err := global.DefineDataProperty(name, exports.Get(name), goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE); err != nil {
			return err
		}
	}
	r.installTimers()
	r.installSpawn()
	r.installSpawnJS()
	vm.SetPromiseRejectionTracker(r.trackRejection)
	return nil
}

// Register makes fn callable from JavaScript as spawn(name, ...). It is safe
// from any goroutine, also while a script runs. An empty name, a nil fn or
// a name already registered is an error wrapping
// workers.ErrInvalidArgument.
func (r *Runtime) Register(name string, fn Func) error {
	switch {
	case name == "":
		return fmt.Errorf("jsloop: Register with an empty name: %w", workers.ErrInvalidArgument)
	case fn == nil:
		return fmt.Errorf("jsloop: Register(%q) with a nil function: %w", name, workers.ErrInvalidArgument)
	}
	r.funcsMu.Lock()
	defer r.funcsMu.Unlock()
	if _, taken := r.funcs[name]; taken {
		return fmt.Errorf("jsloop: Register(%q): name already registered: %w", name, workers.ErrInvalidArgument)
	}
	r.funcs[name] = fn
	return nil
}

func (r *Runtime) lookup(name string) Func {
	r.funcsMu.RLock()
	fn := r.funcs[name]
	r.funcsMu.RUnlock()
	return fn
}

// Loop returns the loop the VM runs on. Go code may Post callbacks to it
// (they run on the loop goroutine, where they may touch the VM, while a
// RunScript runs), but must not Run it itself.
func (r *Runtime) Loop() *async.Loop { return r.loop }

// Close stops the Runtime: a RunScript in progress returns promptly (its
// JavaScript is interrupted and every spawned task's context ends), later
// RunScript calls return an error wrapping async.ErrLoopClosed, and the
// spawnJS pool is closed if the Runtime made it. Close does not wait for Go
// functions that ignore their context; a second Close does nothing. Safe
// from any goroutine.
func (r *Runtime) Close() {
	r.closeCancel()
	r.loop.Close()
	if r.ownJS {
		r.jsPool.Close()
	}
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
// turn, ends RunScript at once with a *JSError. A Go function that panics
// on the loop (one Setup installed) ends it with an error wrapping
// *async.PanicError, and the Runtime is unusable afterwards (ErrBroken).
// When ctx ends, RunScript interrupts any JavaScript running on the loop
// and returns ctx.Err() promptly. However RunScript ends, the contexts of
// the Go functions and spawnJS calls it started end, its timers are
// dropped, and callbacks still queued for it never run.
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
	prg, err := goja.Compile(name, src, false)
	if err != nil {
		return nil, exceptionError(err)
	}

	runCtx, cancel := context.WithCancelCause(ctx)
	stopClose := context.AfterFunc(r.closeCtx, func() { cancel(async.ErrLoopClosed) })
	r.runCtx, r.cancelRun, r.failErr = runCtx, cancel, nil
	r.taskCtx = context.WithoutCancel(runCtx)
	r.vm.ClearInterrupt()
	r.interruptMu.Lock()
	r.runs++
	run := r.runs
	r.armed = run
	r.interruptMu.Unlock()
	stopInterrupt := context.AfterFunc(runCtx, func() {
		r.interruptMu.Lock()
		if r.armed == run {
			r.vm.Interrupt(context.Cause(runCtx))
		}
		r.interruptMu.Unlock()
	})

	var completion goja.Value
	gen := r.gen
	r.loop.Post(func() {
		if gen != r.gen {
			return
		}
		r.turn(func() {
			v, err := r.vm.RunProgram(prg)
			if err != nil {
				r.failJS(err)
				return
			}
			completion = v
		})
	})
	runErr := r.runLoop(runCtx)

	// The end of this run, on the loop goroutine still.
	stopInterrupt()
	stopClose()
	r.interruptMu.Lock()
	r.armed = 0
	r.interruptMu.Unlock()
	r.vm.ClearInterrupt()
	r.gen++
	endCause := context.Cause(runCtx)
	if endCause == nil {
		endCause = errRunEnded
	}
	r.cancelLive(endCause)
	r.clearTimers()
	r.rejected = nil
	if r.refs > 0 {
		r.refs = 0
		r.release()
		r.release = nil
	}
	failErr := r.failErr
	r.failErr = nil
	cancel(context.Canceled)
	r.runCtx, r.cancelRun, r.taskCtx = nil, nil, nil

	switch {
	case failErr != nil:
		return nil, failErr
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(runErr, async.ErrLoopClosed) || r.closeCtx.Err() != nil:
		return nil, fmt.Errorf("jsloop: RunScript: %w", async.ErrLoopClosed)
	case runErr != nil:
		return nil, runErr
	}
	return r.settleCompletion(completion)
}

// errRunEnded is the cause of the end of a task's context when the
// RunScript that started it ended without error before the task finished
// (an await that nobody waits for, say).
var errRunEnded = fmt.Errorf("jsloop: the RunScript that spawned the task ended: %w", context.Canceled)

// runLoop runs the loop; a panic in a callback posted to Loop() by Go code
// (turns recover their own) ends the run with an error wrapping
// *async.PanicError instead of unwinding RunScript. The VM may have been
// in use, so the Runtime is marked broken.
func (r *Runtime) runLoop(ctx context.Context) (err error) {
	defer func() {
		if v := recover(); v != nil {
			r.broken.Store(true)
			err = fmt.Errorf("jsloop: a callback posted to the loop panicked: %w", &async.PanicError{Value: v, Stack: debug.Stack()})
			if r.failErr == nil {
				r.failErr = err
			}
		}
	}()
	return r.loop.Run(ctx)
}

// settleCompletion is RunScript's result for the completion value v.
func (r *Runtime) settleCompletion(v goja.Value) (any, error) {
	if v == nil {
		return nil, nil
	}
	if p, ok := v.Export().(*goja.Promise); ok {
		switch p.State() {
		case goja.PromiseStateFulfilled:
			return exportValue(p.Result()), nil
		case goja.PromiseStateRejected:
			return nil, jsErrorOf(p.Result(), "")
		default:
			return nil, ErrUnsettled
		}
	}
	return exportValue(v), nil
}

func exportValue(v goja.Value) any {
	if v == nil {
		return nil
	}
	return v.Export()
}

// turn runs fn, one loop turn that touches the VM, unless this RunScript
// has already failed. Like libuv's loop time, the turn's start is the "now"
// from which the timers it makes count their delay, so that the order of
// timers made by one synchronous block does not depend on how long it ran. goja drains its microtask queue when the outermost
// call into the VM returns, so by the end of fn every microtask has run;
// turn then reports a promise rejected with no handler, and turns a Go
// panic into a failure.
func (r *Runtime) turn(fn func()) {
	if r.failErr != nil || r.runCtx == nil || r.runCtx.Err() != nil {
		return
	}
	r.turnStart = time.Now()
	defer func() {
		r.turnStart = time.Time{} // outside a turn, timers count from time.Now()
		if v := recover(); v != nil {
			r.broken.Store(true)
			r.fail(fmt.Errorf("jsloop: a Go function panicked on the loop: %w", &async.PanicError{Value: v, Stack: debug.Stack()}))
		}
	}()
	fn()
	if len(r.rejected) > 0 && r.failErr == nil {
		p := r.rejected[0]
		r.rejected = r.rejected[:0]
		e := jsErrorOf(p.Result(), "")
		if e.Name == "" {
			e.Message = "unhandled promise rejection: " + e.Message
		}
		r.fail(e)
	}
}

// failJS ends the run with the error goja returned, unless it is the
// interrupt of the run's own ending.
func (r *Runtime) failJS(err error) {
	var ie *goja.InterruptedError
	if errors.As(err, &ie) && r.runCtx != nil && r.runCtx.Err() != nil {
		return
	}
	r.fail(exceptionError(err))
}

// fail ends the current RunScript with err, if nothing ended it before.
func (r *Runtime) fail(err error) {
	if r.failErr != nil || r.cancelRun == nil {
		return
	}
	r.failErr = err
	r.cancelRun(err)
}

func (r *Runtime) trackRejection(p *goja.Promise, op goja.PromiseRejectionOperation) {
	switch op {
	case goja.PromiseRejectionReject:
		r.rejected = append(r.rejected, p)
	case goja.PromiseRejectionHandle:
		for i, q := range r.rejected {
			if q == p {
				r.rejected = append(r.rejected[:i], r.rejected[i+1:]...)
				break
			}
		}
	}
}

// ref counts one more thing (a timer, an Await) that keeps RunScript
// running; unref ends it. Both run on the loop goroutine. While the count
// is positive the Runtime holds the loop (async.Loop.Hold) once.
func (r *Runtime) ref() {
	if r.refs == 0 {
		r.release = r.loop.Hold()
	}
	r.refs++
}

func (r *Runtime) unref() {
	if r.refs == 0 {
		return
	}
	r.refs--
	if r.refs == 0 {
		r.release()
		r.release = nil
	}
}

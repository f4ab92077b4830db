package jsloop

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"
	"github.com/velalang/runtime/channel"
	"github.com/velalang/runtime/workers"
)

func (r *Runtime) installSpawnJS() {
	fn := r.installCall("spawnJS", r.spawnJS)
	_ = fn.Set("stream", r.installCall("spawnJS.stream", r.spawnJSStream))
	_ = r.vm.Set("spawnJS", fn)
}

// spawnJS is spawnJS(module, exportName, ...args) with options o.
func (r *Runtime) spawnJS(o callOptions, args []goja.Value) goja.Value {
	vm := r.vm
	rn := r.current()
	p, resolve, reject := vm.NewPromise()
	task, err := r.newJSTask(args)
	if err != nil {
		_ = reject(err)
		return vm.ToValue(p)
	}
	c := &call{rn: rn, resolve: resolve, reject: reject, convert: r.fromWorker}
	if !c.watchSignal(o.signal) {
		return vm.ToValue(p)
	}
	taskName := o.name
	if taskName == "" {
		taskName = task.module + "." + task.export
	}
	c.js = task
	c.f = workers.Spawn(rn.taskCtx, c.run, r.spawnOptions(r.jsPool, o.timeout, taskName)...)
	c.start()
	return vm.ToValue(p)
}

// spawnJSStream is spawnJS.stream(module, exportName, ...args) with
// options o: the export, a generator or async generator function, runs in
// a worker runtime, and each value it yields crosses as JSON into a
// stream of o's buffer (default 16). The generator is suspended while the
// buffer is full. When JavaScript stops early, the worker's Send fails
// (its ctx ends with cause channel.ErrClosed) and the generator's return()
// runs in its runtime, so its finally blocks execute; an interrupt follows
// after streamStopGrace if they take longer.
func (r *Runtime) spawnJSStream(o callOptions, args []goja.Value) goja.Value {
	rn := r.current()
	task, err := r.newJSTask(args)
	if err != nil {
		return r.failedReader(rn, err)
	}
	taskName := o.name
	if taskName == "" {
		taskName = task.module + "." + task.export
	}
	tx, rx := channel.New[any](o.bufferOr(defaultStreamBuffer))
	task.out = tx
	f := workers.Spawn(rn.taskCtx, func(ctx context.Context) (struct{}, error) {
		_, err := task.run(ctx)
		return struct{}{}, err
	}, r.spawnOptions(r.jsPool, o.timeout, taskName)...)
	return r.streamOf(rn, o, f, tx, rx, r.fromWorker)
}

// newJSTask reads spawnJS's module, export and arguments; the error is the
// JavaScript value to reject with (a TypeError, a DataCloneError).
func (r *Runtime) newJSTask(args []goja.Value) (*jsTask, goja.Value) {
	vm := r.vm
	var modName, export string
	if len(args) > 0 {
		modName = args[0].String()
	}
	if len(args) > 1 {
		export = args[1].String()
	}
	mod := r.modules[modName]
	if mod == nil {
		return nil, vm.NewTypeError("spawnJS: no module named %q", modName)
	}
	prg, err := mod.program()
	if err != nil {
		return nil, r.errorValue(err)
	}
	var rest []goja.Value
	if len(args) > 2 {
		rest = args[2:]
	}
	r.cloning = r.cloning[:0]
	argsJSON, err := r.toJSON(goja.Undefined(), vm.NewArray(toAnys(rest)...), r.spawnJSLabel)
	channels := slices.Clone(r.cloning)
	clear(r.cloning)
	if err != nil {
		if isUncatchable(err) {
			panic(err) // an interrupt ends the JavaScript; it is not a rejection
		}
		return nil, r.thrownValue(err)
	}
	return &jsTask{prg: prg, module: modName, export: export, argsJSON: argsJSON.String(), channels: channels, spares: &r.spares,
		asyncIt: len(channels) > 0 || mod.usesAsyncIt}, nil
}

func toAnys(vs []goja.Value) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// module is one of Options.Modules, compiled on first use (on the loop
// goroutine, so without a lock).
type module struct {
	name, src   string
	prg         *goja.Program
	err         error // the *JSError of a source that does not compile
	usesAsyncIt bool  // the source names Symbol.asyncIterator
}

func (m *module) program() (*goja.Program, error) {
	if m.prg == nil && m.err == nil {
		// Lowered code finds the symbol through Symbol.for without it.
		m.usesAsyncIt = strings.Contains(m.src, "asyncIterator")
		prg, err := compileModule(m.name, m.src)
		if err != nil {
			m.err = exceptionError(nil, err)
		} else {
			m.prg = prg
		}
		m.src = ""
	}
	return m.prg, m.err
}

// jsTask is what a spawnJS call runs on its worker.
type jsTask struct {
	prg                      *goja.Program
	module, export, argsJSON string
	channels                 []*Channel           // the Channels among the arguments
	out                      *channel.Sender[any] // spawnJS.stream: where the yielded values go
	spares                   *spares              // the Runtime's prepared worker runtimes
	asyncIt                  bool                 // define Symbol.asyncIterator in the worker
}

// fromWorker turns a worker's JSON result into a value of the loop's VM.
func (r *Runtime) fromWorker(v any) (goja.Value, error) {
	s, _ := v.(string)
	return r.fromJSON(goja.Undefined(), r.vm.ToValue(s))
}

// streamStopGrace is how long a spawnJS.stream generator stopped early
// (its consumer broke out) may take in its finally blocks before its
// runtime is interrupted.
const streamStopGrace = time.Second

// run runs one spawnJS call on a worker goroutine, in a runtime of its own
// that nothing else uses, made for this call and dropped after it: each
// call starts from a global state no earlier call could have changed. The
// module's compiled program is shared. ctx's end interrupts the
// JavaScript (after streamStopGrace when the cause is a stream's consumer
// stopping); the interrupt dies with the runtime, so it can never reach a
// later call.
func (t *jsTask) run(ctx context.Context) (any, error) {
	w, err := newWorkerVM(ctx, t)
	if err != nil {
		return nil, err
	}
	defer w.stop()
	var out string
	if t.out != nil {
		err = w.stream()
	} else {
		out, err = w.call()
	}
	if err != nil {
		if _, interrupted := err.(*goja.InterruptedError); interrupted {
			if cause := context.Cause(ctx); cause != nil {
				return nil, cause
			}
		}
		return nil, workerError(w.guard(), err)
	}
	return out, nil
}

// workerVM is the runtime of one spawnJS call.
type workerVM struct {
	t       *jsTask
	ctx     context.Context
	vm      *goja.Runtime
	g       *guard
	results *guard        // reads a stream's iterator results
	clone   goja.Callable // the worker's toJSON
	parse   goja.Callable // JSON.parse
	asyncIt *goja.Symbol
	harness goja.Callable

	mu       sync.Mutex
	grace    *time.Timer // the delayed interrupt of a stopped stream
	finished bool
	stopCtx  func() bool
}

func newWorkerVM(ctx context.Context, t *jsTask) (*workerVM, error) {
	p, err := t.spares.take()
	if err != nil {
		return nil, err
	}
	vm := p.vm
	w := &workerVM{t: t, ctx: ctx, vm: vm,
		clone: p.clone, parse: p.parse, harness: p.harness}
	if t.asyncIt {
		// Touching Symbol builds goja's whole Symbol constructor, a fifth
		// of a call's CPU (measured): only for the calls that need it.
		if w.asyncIt, err = defineAsyncIterator(vm); err != nil {
			return nil, err
		}
	}
	w.stopCtx = context.AfterFunc(ctx, w.interrupt)
	return w, nil
}

// guard is the call's guard, made on first use (most calls never need
// one); it refuses to call into the VM once ctx has ended.
func (w *workerVM) guard() *guard {
	if w.g == nil {
		w.g = newGuard(w.vm)
		w.g.ctx = w.ctx
	}
	return w.g
}

// interrupt is ctx's end: at once, or after streamStopGrace when a stream's
// consumer stopped (so the generator's finally blocks may run).
func (w *workerVM) interrupt() {
	cause := context.Cause(w.ctx)
	if w.t.out == nil || !errors.Is(cause, channel.ErrClosed) {
		w.vm.Interrupt(cause)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.finished {
		w.grace = time.AfterFunc(streamStopGrace, func() { w.vm.Interrupt(cause) })
	}
}

// stop is the end of the call: no interrupt reaches the runtime after it.
func (w *workerVM) stop() {
	w.stopCtx()
	w.mu.Lock()
	w.finished = true
	if w.grace != nil {
		w.grace.Stop()
	}
	w.mu.Unlock()
}

// start instantiates the module and calls the export with the arguments.
func (w *workerVM) start() (goja.Value, error) {
	vm := w.vm
	modFn, err := vm.RunProgram(w.t.prg)
	if err != nil {
		return nil, err
	}
	harness := w.harness
	var channelAt goja.Value = goja.Undefined()
	if len(w.t.channels) > 0 {
		channelAt = vm.ToValue(func(c goja.FunctionCall) goja.Value {
			i := int(c.Argument(0).ToInteger())
			if i < 0 || i >= len(w.t.channels) {
				return goja.Null()
			}
			return workerChannel(vm, w.ctx, w.asyncIt, w.clone, w.parse, w.t.channels[i])
		})
	}
	return harness(goja.Undefined(), modFn, vm.ToValue(w.t.module), vm.ToValue(w.t.export), vm.ToValue(w.t.argsJSON), channelAt)
}

// settled is v, or the value of the promise v, which microtasks alone must
// have settled (a worker has no event loop).
func (w *workerVM) settled(v goja.Value, what string) (goja.Value, error) {
	obj, ok := v.(*goja.Object)
	if !ok || obj.ExportType() != promiseType {
		return v, nil
	}
	p := obj.Export().(*goja.Promise)
	switch p.State() {
	case goja.PromiseStateFulfilled:
		return p.Result(), nil
	case goja.PromiseStateRejected:
		e := describe(w.guard(), p.Result(), "")
		return nil, &JSError{Name: e.Name, Message: e.Message, Stack: e.Stack}
	}
	return nil, &JSError{Name: "Error", Message: fmt.Sprintf("spawnJS: %s.%s %s a promise that did not settle; spawnJS workers have no timers or event loop", w.t.module, w.t.export, what)}
}

// call is a spawnJS call: the export's result as JSON.
func (w *workerVM) call() (string, error) {
	res, err := w.start()
	if err != nil {
		return "", err
	}
	if res, err = w.settled(res, "returned"); err != nil {
		return "", err
	}
	js, err := w.clone(goja.Undefined(), res)
	if err != nil {
		return "", err
	}
	return js.String(), nil
}

// stream is a spawnJS.stream call: each value the iterator the export
// returned yields goes to t.out as JSON, Send blocking while the buffer is
// full. When Send fails (the consumer stopped, the ctx ended), or a value
// cannot be cloned, the iterator's return() runs so its finally blocks
// execute.
func (w *workerVM) stream() (err error) {
	res, err := w.start()
	if err != nil {
		return err
	}
	it, ok := res.(*goja.Object)
	var next, ret goja.Callable
	if ok {
		_ = w.guard().run(func() {
			next, _ = goja.AssertFunction(it.Get("next"))
			ret, _ = goja.AssertFunction(it.Get("return"))
		})
	}
	if next == nil {
		return &JSError{Name: "TypeError", Message: fmt.Sprintf("spawnJS.stream: %s.%s did not return an iterator (export a generator or async generator function)", w.t.module, w.t.export)}
	}
	stopIt := func() {
		if ret != nil {
			if r, err := ret(it); err == nil {
				_, _ = w.settled(r, "returned from return()")
			}
		}
	}
	for {
		r, err := next(it)
		if err != nil {
			return err
		}
		if r, err = w.settled(r, "yielded"); err != nil {
			return err
		}
		var done bool
		var value goja.Value
		// Not w.g, which refuses once ctx has ended: a consumer that
		// stopped ends ctx, and the generator's return() must still run.
		// The grace interrupt stops an endless getter here.
		if w.results == nil {
			w.results = newGuard(w.vm)
		}
		if gerr := w.results.run(func() {
			obj := r.ToObject(w.vm)
			done = obj.Get("done").ToBoolean()
			value = obj.Get("value")
		}); gerr != nil {
			return gerr
		}
		if done {
			return nil
		}
		js, err := w.clone(goja.Undefined(), value)
		if err != nil {
			stopIt()
			return err
		}
		if err := w.t.out.Send(w.ctx, js.String()); err != nil {
			stopIt()
			if errors.Is(err, channel.ErrClosed) {
				return nil // the consumer stopped
			}
			return err
		}
	}
}

var promiseType = reflect.TypeOf((*goja.Promise)(nil))

// workerError is the error of a call whose JavaScript threw: a *JSError
// with plain strings only, since the worker's values die with its runtime.
func workerError(g *guard, err error) error {
	e := exceptionError(g, err)
	if je, ok := e.(*JSError); ok {
		return &JSError{Name: je.Name, Message: je.Message, Stack: je.Stack}
	}
	return e
}

package jsloop

import (
	"context"
	"fmt"

	"github.com/dop251/goja"
	"github.com/velalang/runtime/workers"
)

func (r *Runtime) installSpawnJS() {
	fn := r.installCall("spawnJS", r.spawnJS)
	_ = r.vm.Set("spawnJS", fn)
}

// spawnJS is spawnJS(module, exportName, ...args) with options o.
func (r *Runtime) spawnJS(o callOptions, args []goja.Value) goja.Value {
	vm := r.vm
	rn := r.current()
	p, resolve, reject := vm.NewPromise()
	var modName, export string
	if len(args) > 0 {
		modName = args[0].String()
	}
	if len(args) > 1 {
		export = args[1].String()
	}
	prg := r.modules[modName]
	if prg == nil {
		_ = reject(vm.NewTypeError("spawnJS: no module named %q", modName))
		return vm.ToValue(p)
	}
	var rest []goja.Value
	if len(args) > 2 {
		rest = args[2:]
	}
	argsJSON, err := r.toJSON(goja.Undefined(), vm.NewArray(toAnys(rest)...), r.spawnJSLabel)
	if err != nil {
		if isUncatchable(err) {
			panic(err) // an interrupt ends the JavaScript; it is not a rejection
		}
		_ = reject(r.thrownValue(err))
		return vm.ToValue(p)
	}
	in := argsJSON.String()
	c := &call{rn: rn, resolve: resolve, reject: reject, convert: r.fromWorker}
	if !c.watchSignal(o.signal) {
		return vm.ToValue(p)
	}
	taskName := o.name
	if taskName == "" {
		taskName = modName + "." + export
	}
	c.js = &jsTask{prg: prg, module: modName, export: export, argsJSON: in}
	c.f = workers.Spawn(rn.taskCtx, c.run, r.spawnOptions(r.jsPool, o.timeout, taskName)...)
	c.start()
	return vm.ToValue(p)
}

func toAnys(vs []goja.Value) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// jsTask is what a spawnJS call runs on its worker.
type jsTask struct {
	prg                      *goja.Program
	module, export, argsJSON string
}

func (t *jsTask) run(ctx context.Context) (any, error) {
	return runInWorker(ctx, t.prg, t.module, t.export, t.argsJSON)
}

// fromWorker turns a worker's JSON result into a value of the loop's VM.
func (r *Runtime) fromWorker(v any) (goja.Value, error) {
	s, _ := v.(string)
	return r.fromJSON(goja.Undefined(), r.vm.ToValue(s))
}

// runInWorker runs one spawnJS call on a worker goroutine, in a runtime of
// its own that nothing else uses, made for this call and dropped after it:
// each call starts from a global state no earlier call could have changed.
// The module's compiled program is shared. ctx's end interrupts the
// JavaScript; the interrupt dies with the runtime, so it can never reach a
// later call.
func runInWorker(ctx context.Context, prg *goja.Program, modName, export, argsJSON string) (any, error) {
	vm := goja.New()
	if err := installDepthGuard(vm); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { vm.Interrupt(context.Cause(ctx)) })
	defer stop()
	g := newGuard(vm)
	g.ctx = ctx
	out, err := workerCall(vm, g, prg, modName, export, argsJSON)
	if err != nil {
		if _, interrupted := err.(*goja.InterruptedError); interrupted {
			if cause := context.Cause(ctx); cause != nil {
				return nil, cause
			}
		}
		return nil, workerError(g, err)
	}
	return out, nil
}

func workerCall(vm *goja.Runtime, g *guard, prg *goja.Program, modName, export, argsJSON string) (string, error) {
	modFn, err := vm.RunProgram(prg)
	if err != nil {
		return "", err
	}
	harnessV, err := vm.RunProgram(workerHarnessProgram)
	if err != nil {
		return "", err
	}
	harness, _ := goja.AssertFunction(harnessV)
	res, err := harness(goja.Undefined(), modFn, vm.ToValue(modName), vm.ToValue(export), vm.ToValue(argsJSON))
	if err != nil {
		return "", err
	}
	if p, ok := res.Export().(*goja.Promise); ok {
		switch p.State() {
		case goja.PromiseStateFulfilled:
			res = p.Result()
		case goja.PromiseStateRejected:
			e := describe(g, p.Result(), "")
			return "", &JSError{Name: e.Name, Message: e.Message, Stack: e.Stack}
		default:
			return "", &JSError{Name: "Error", Message: fmt.Sprintf("spawnJS: %s.%s returned a promise that did not settle; spawnJS workers have no timers or event loop", modName, export)}
		}
	}
	cloneV, err := vm.RunProgram(workerCloneProgram)
	if err != nil {
		return "", err
	}
	clone, _ := goja.AssertFunction(cloneV)
	js, err := clone(goja.Undefined(), res)
	if err != nil {
		return "", err
	}
	return js.String(), nil
}

// workerError is the error of a call whose JavaScript threw: a *JSError
// with plain strings only, since the worker's values die with its runtime.
func workerError(g *guard, err error) error {
	e := exceptionError(g, err)
	if je, ok := e.(*JSError); ok {
		return &JSError{Name: je.Name, Message: je.Message, Stack: je.Stack}
	}
	return e
}

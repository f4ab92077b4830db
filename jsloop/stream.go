package jsloop

import (
	"context"
	"fmt"

	"github.com/dop251/goja"
	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/channel"
	"github.com/velalang/runtime/workers"
)

// defaultStreamBuffer is the capacity of a stream's channel when
// spawn.stream.with or spawnJS.stream.with give no buffer.
const defaultStreamBuffer = 16

// RegisterStream makes fn callable from JavaScript as spawn.stream(name,
// ...args), an async iterable over the values fn sends. fn runs on
// Options.Pool with the arguments exported as for spawn; it blocks in Send
// while the stream's buffer (spawn.stream.with's buffer, default 16) is
// full. Returning nil ends the stream; returning an error (or panicking,
// or timing out) ends it with that error after the values already sent,
// as spawn rejects. When JavaScript stops early (break, return or throw
// out of a for await), fn's ctx ends with cause channel.ErrClosed and its
// Send returns channel.ErrClosed. Stream names are apart from Register's.
// It is safe from any goroutine; an empty name, a nil fn or a name already
// registered is an error wrapping workers.ErrInvalidArgument.
func (r *Runtime) RegisterStream(name string, fn func(ctx context.Context, args []any, out *channel.Sender[any]) error) error {
	switch {
	case name == "":
		return fmt.Errorf("jsloop: RegisterStream with an empty name: %w", workers.ErrInvalidArgument)
	case fn == nil:
		return fmt.Errorf("jsloop: RegisterStream(%q) with a nil function: %w", name, workers.ErrInvalidArgument)
	}
	r.funcsMu.Lock()
	defer r.funcsMu.Unlock()
	if _, taken := r.streams[name]; taken {
		return fmt.Errorf("jsloop: RegisterStream(%q): name already registered: %w", name, workers.ErrInvalidArgument)
	}
	r.streams[name] = fn
	return nil
}

type streamFunc = func(ctx context.Context, args []any, out *channel.Sender[any]) error

func (r *Runtime) lookupStream(name string) streamFunc {
	r.funcsMu.RLock()
	fn := r.streams[name]
	r.funcsMu.RUnlock()
	return fn
}

// spawnStream is spawn.stream(name, ...args) with options o.
func (r *Runtime) spawnStream(o callOptions, args []goja.Value) goja.Value {
	rn := r.current()
	name := ""
	if len(args) > 0 {
		name = args[0].String()
		args = args[1:]
	}
	fn := r.lookupStream(name)
	if fn == nil {
		return r.failedReader(rn, r.vm.NewTypeError("spawn.stream: no Go stream function registered as %q", name))
	}
	goArgs, err := r.exportArgs(args)
	if err != nil {
		return r.failedReader(rn, r.thrownValue(err))
	}
	taskName := o.name
	if taskName == "" && o.timeout > 0 {
		taskName = name
	}
	tx, rx := channel.New[any](o.bufferOr(defaultStreamBuffer))
	f := workers.Spawn(rn.taskCtx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, fn(ctx, goArgs, tx)
	}, r.spawnOptions(r.pool, o.timeout, taskName)...)
	return r.streamOf(rn, o, f, tx, rx, r.goToJS)
}

// streamOf is the JavaScript side of a stream produced by the task of f
// into tx: an async iterable over rx. When f settles, the channel closes,
// with f's error if any (after the values sent). Stopping early, an abort
// of o.signal, or the end of the run cancels f.
func (r *Runtime) streamOf(rn *run, o callOptions, f *async.Future[struct{}], tx *channel.Sender[any], rx *channel.Receiver[any], toJS func(any) (goja.Value, error)) goja.Value {
	closeWith := func() {
		res, _ := f.Result()
		tx.CloseWithError(res.Err) // nil: a normal close, even if fn cloned tx
	}
	if f.Poll(async.WakerFunc(closeWith)).IsReady() {
		closeWith()
	}
	rn.onEnd(runEndFunc(func(cause error) {
		f.CancelWithCause(cause)
		_ = rx.Close()
	}))
	rd, obj := r.newReader(rn, source{
		tryRecv:   rx.TryRecv,
		recvAsync: recvAsyncOf(rx),
		toJS:      toJS,
		stop: func() {
			// The cause first: a producer woken by the close finds it.
			f.CancelWithCause(channel.ErrClosed)
			_ = rx.Close()
		},
		hold: true,
	})
	if o.signal != nil {
		abort := func(reason goja.Value) {
			f.CancelWithCause(errAborted)
			_ = rx.Close()
			rd.fail(reason)
		}
		if _, aborted := r.watchAbort(o.signal, abort); aborted {
			abort(o.signal.Get("reason"))
		}
	}
	return obj
}

// recvAsyncOf is source.recvAsync for rx.
func recvAsyncOf[T any](rx *channel.Receiver[T]) func(func(any, error)) func() bool {
	return func(deliver func(any, error)) func() bool {
		f := rx.RecvAsync()
		wake := func() {
			res, _ := f.Result()
			deliver(res.Value, res.Err)
		}
		if f.Poll(async.WakerFunc(wake)).IsReady() {
			wake()
		}
		return f.Cancel
	}
}

func (r *Runtime) goToJS(v any) (goja.Value, error) { return r.vm.ToValue(v), nil }

// Iterate returns, on the loop, a JavaScript async iterable over the
// values received from rx (each through goja's ToValue), for a Go function
// installed on the VM to return: for await (const v of goFn()) ... The
// iterable owns rx: it closes rx when JavaScript stops early (break,
// return, throw) and when the RunScript ends. The end of the channel ends
// the loop; a CloseWithError error rejects it as Await's errors do. A
// next() waiting for a value keeps the RunScript alive; values already in
// the channel are handed over without a loop wake-up each. Call it only on
// the loop goroutine while a RunScript runs; otherwise, or with a nil rx,
// the iterable's first next() rejects with a TypeError.
func Iterate[T any](r *Runtime, rx *channel.Receiver[T]) goja.Value {
	rn := r.cur
	switch {
	case rn == nil:
		p, _, reject := r.vm.NewPromise()
		_ = reject(r.vm.NewTypeError("Iterate outside a RunScript"))
		obj := r.vm.NewObject()
		_ = obj.Set("next", func(goja.FunctionCall) goja.Value { return r.vm.ToValue(p) })
		return obj
	case rx == nil:
		return r.failedReader(rn, r.vm.NewTypeError("Iterate of a nil receiver"))
	}
	rn.onEnd(runEndFunc(func(error) { _ = rx.Close() }))
	_, obj := r.newReader(rn, source{
		tryRecv:   func() (any, error) { return rx.TryRecv() },
		recvAsync: recvAsyncOf(rx),
		toJS:      r.goToJS,
		stop:      func() { _ = rx.Close() },
		hold:      true,
	})
	return obj
}

// runEnder is told when its run ends.
type runEnder interface{ endRun(cause error) }

type runEndFunc func(cause error)

func (f runEndFunc) endRun(cause error) { f(cause) }

// onEnd registers e for the end of the run.
func (rn *run) onEnd(e runEnder) { rn.enders = append(rn.enders, e) }

package jsloop

import (
	"context"
	"encoding/json"
	"errors"
	"math"

	"github.com/dop251/goja"
	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/channel"
)

// Channel is the Go side of a JavaScript Channel (new Channel(capacity)):
// one channel of the channel package shared by everyone who holds it, the
// loop's script and the spawnJS workers it was passed to alike. Values
// cross as JSON on every send: a value sent from JavaScript is in the
// channel as the Go value its JSON decodes to (as spawn's arguments:
// map[string]any, []any, int64 or float64, string, bool, nil), and a value
// received by JavaScript is the JSON encoding (encoding/json) of the Go
// value in the channel, parsed by that runtime. A Go function called by
// spawn with a Channel as a top-level argument receives the *Channel.
type Channel struct {
	tx *channel.Sender[any]
	rx *channel.Receiver[any]
}

// Sender is the channel's sending end, shared with JavaScript: closing it
// (Close or CloseWithError) closes the channel for everyone.
func (c *Channel) Sender() *channel.Sender[any] { return c.tx }

// Receiver is the channel's receiving end, shared with JavaScript; values
// go to whichever party receives first.
func (c *Channel) Receiver() *channel.Receiver[any] { return c.rx }

// channelMarker is the key of the JSON object a Channel becomes when it is
// cloned into a spawnJS call's arguments; its value indexes the call's
// channels.
const channelMarker = "$velaChannel"

// channelCapacity reads new Channel(capacity): a whole number >= 0, or
// Infinity for an unbounded channel; 0 (a rendezvous) when omitted.
func (r *Runtime) channelCapacity(v goja.Value) int {
	if v == nil || goja.IsUndefined(v) {
		return 0
	}
	n := v.ToFloat()
	switch {
	case math.IsInf(n, 1):
		return channel.Unbounded
	case math.IsNaN(n) || n < 0 || n > math.MaxInt32 || n != math.Trunc(n):
		panic(r.newRangeError("Channel: capacity must be a whole number >= 0 or Infinity, got " + v.String()))
	}
	return int(n)
}

// installChannel sets the global Channel constructor of the loop's VM.
func (r *Runtime) installChannel() error {
	ctor := func(call goja.ConstructorCall) *goja.Object {
		tx, rx := channel.New[any](r.channelCapacity(call.Argument(0)))
		r.bindChannel(call.This, &Channel{tx: tx, rx: rx})
		return nil
	}
	return r.vm.GlobalObject().DefineDataProperty("Channel", r.vm.ToValue(ctor), goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE)
}

// channelObject is a new Channel object of the loop's VM on ch (a spawn
// argument's channel seen again, say).
func (r *Runtime) bindChannel(obj *goja.Object, ch *Channel) {
	vm := r.vm
	_ = obj.DefineDataPropertySymbol(r.channelKey, vm.ToValue(ch), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	_ = obj.Set("send", func(call goja.FunctionCall) goja.Value { return r.channelSend(ch, call.Argument(0)) })
	_ = obj.Set("recv", func(goja.FunctionCall) goja.Value { return r.channelRecv(ch) })
	_ = obj.Set("close", func(goja.FunctionCall) goja.Value {
		ch.tx.CloseWithError(nil)
		return goja.Undefined()
	})
	_ = obj.Set("toJSON", func(goja.FunctionCall) goja.Value {
		// In a spawnJS call's arguments: a marker the worker turns back
		// into a handle on the same channel.
		r.cloning = append(r.cloning, ch)
		m := vm.NewObject()
		_ = m.Set(channelMarker, len(r.cloning)-1)
		return m
	})
	_ = obj.SetSymbol(r.asyncIterator, func(goja.FunctionCall) goja.Value {
		// A for await over a Channel: break stops this loop only; the
		// channel stays open. A waiting next() does not keep RunScript
		// alive.
		_, it := r.newReader(r.current(), source{
			tryRecv:   ch.rx.TryRecv,
			recvAsync: recvAsyncOf(ch.rx),
			toJS:      r.goValueToJS,
		})
		return it
	})
}

// channelOf is the *Channel of a Channel object, or nil.
func (r *Runtime) channelOf(v goja.Value) *Channel {
	obj, ok := v.(*goja.Object)
	if !ok {
		return nil
	}
	h := obj.GetSymbol(r.channelKey)
	if h == nil {
		return nil
	}
	ch, _ := h.Export().(*Channel)
	return ch
}

// channelSend is send(v): a promise fulfilled once v is in the channel,
// rejected with the Error of channel.ErrClosed once it is closed, or with a
// DataCloneError for a value JSON cannot carry. A pending send does not
// keep RunScript alive; when the run ends it is withdrawn (v is never
// delivered).
func (r *Runtime) channelSend(ch *Channel, v goja.Value) goja.Value {
	rn := r.current()
	p, resolve, reject := r.vm.NewPromise()
	gv, err := r.jsToGo(v, "Channel.send")
	if err != nil {
		_ = reject(r.thrownValue(err))
		return r.vm.ToValue(p)
	}
	f := ch.tx.SendAsync(gv)
	settle := func(err error) {
		if err != nil {
			_ = reject(r.errorValue(err))
			return
		}
		_ = resolve(goja.Undefined())
	}
	if res, ok := f.Result(); ok {
		settle(res.Err)
		return r.vm.ToValue(p)
	}
	r.whenSettled(rn, f.Cancel, func(wake func()) bool { return f.Poll(async.WakerFunc(wake)).IsReady() }, func() {
		res, _ := f.Result()
		settle(res.Err)
	})
	return r.vm.ToValue(p)
}

// channelRecv is recv(): a promise of the next value, or of undefined once
// the channel is closed and drained (rejected with a CloseWithError
// error). A pending recv does not keep RunScript alive; when the run ends
// it is withdrawn (it takes nothing).
func (r *Runtime) channelRecv(ch *Channel) goja.Value {
	rn := r.current()
	p, resolve, reject := r.vm.NewPromise()
	settle := func(v any, err error) {
		switch {
		case errors.Is(err, channel.ErrClosed):
			_ = resolve(goja.Undefined())
		case err != nil:
			_ = reject(r.errorValue(err))
		default:
			jv, cerr := r.goValueToJS(v)
			if cerr != nil {
				_ = reject(r.thrownValue(cerr))
				return
			}
			_ = resolve(jv)
		}
	}
	v, err := ch.rx.TryRecv()
	if !errors.Is(err, channel.ErrEmpty) {
		settle(v, err)
		return r.vm.ToValue(p)
	}
	f := ch.rx.RecvAsync()
	r.whenSettled(rn, f.Cancel, func(wake func()) bool { return f.Poll(async.WakerFunc(wake)).IsReady() }, func() {
		res, _ := f.Result()
		settle(res.Value, res.Err)
	})
	return r.vm.ToValue(p)
}

// whenSettled runs done in a turn of rn once a channel operation's future
// settles, without holding the run; when the run ends first, cancel
// withdraws the operation.
func (r *Runtime) whenSettled(rn *run, cancel func() bool, poll func(wake func()) bool, done func()) {
	op := &pendingOp{cancel: cancel}
	if rn.ops == nil {
		rn.ops = make(map[*pendingOp]struct{})
	}
	rn.ops[op] = struct{}{}
	loop := r.loop
	wake := func() {
		loop.Post(func() {
			if r.cur != rn || op.ended {
				return
			}
			op.ended = true
			delete(rn.ops, op)
			rn.turn(done)
		})
	}
	if poll(wake) {
		wake()
	}
}

// pendingOp is a channel operation of a run that is still pending; the
// run's end withdraws it.
type pendingOp struct {
	cancel func() bool
	ended  bool
}

// jsToGo is v as a Go value, through JSON (the spawnJS rules).
func (r *Runtime) jsToGo(v goja.Value, who string) (any, error) {
	if gv, ok := plainPrimitive(v); ok {
		return gv, nil
	}
	s, err := r.toJSON(goja.Undefined(), v, r.vm.ToValue(who))
	if err != nil {
		if isUncatchable(err) {
			panic(err)
		}
		return nil, err
	}
	jv, err := r.fromJSON(goja.Undefined(), s)
	if err != nil {
		return nil, err
	}
	return jv.Export(), nil
}

// goValueToJS is a Go value from a channel as a fresh JavaScript value of
// the loop's VM, through JSON; a value JSON cannot encode is a
// DataCloneError.
func (r *Runtime) goValueToJS(v any) (goja.Value, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &JSError{Name: "DataCloneError", Message: "Channel: " + err.Error()}
	}
	return r.fromJSON(goja.Undefined(), r.vm.ToValue(string(b)))
}

// workerChannel binds a Channel handle in a spawnJS worker's runtime. Its
// methods block the worker (which has no event loop) until done, and
// return settled promises, so await works as on the loop: send(v) until v
// is in the channel, recv() until a value comes or the channel is closed
// and drained, a for await's next() likewise. ctx is the call's: when it
// ends, a blocked operation rejects with its cause.
func workerChannel(vm *goja.Runtime, ctx context.Context, asyncIterator *goja.Symbol, clone, parse goja.Callable, ch *Channel) *goja.Object {
	obj := vm.NewObject()
	settled := func(v goja.Value, err error) goja.Value {
		p, resolve, reject := vm.NewPromise()
		if err != nil {
			_ = reject(vm.NewGoError(err))
		} else {
			_ = resolve(v)
		}
		return vm.ToValue(p)
	}
	recv := func() (goja.Value, bool, error) {
		v, err := ch.rx.Recv(ctx)
		switch {
		case errors.Is(err, channel.ErrClosed):
			return goja.Undefined(), true, nil
		case err != nil:
			return nil, false, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, false, err
		}
		jv, err := parse(goja.Undefined(), vm.ToValue(string(b)))
		return jv, false, err
	}
	_ = obj.Set("send", func(call goja.FunctionCall) goja.Value {
		s, err := clone(goja.Undefined(), call.Argument(0))
		if err != nil {
			panic(err) // the DataCloneError, thrown where send was called
		}
		var gv any
		if str := s.String(); str != "" {
			jv, err := parse(goja.Undefined(), s)
			if err != nil {
				panic(err)
			}
			gv = jv.Export()
		}
		return settled(goja.Undefined(), ch.tx.Send(ctx, gv))
	})
	_ = obj.Set("recv", func(goja.FunctionCall) goja.Value {
		v, _, err := recv()
		return settled(v, err)
	})
	_ = obj.Set("close", func(goja.FunctionCall) goja.Value {
		ch.tx.CloseWithError(nil)
		return goja.Undefined()
	})
	_ = obj.SetSymbol(asyncIterator, func(goja.FunctionCall) goja.Value {
		it := vm.NewObject()
		done := false
		result := func(v goja.Value, end bool) goja.Value {
			o := vm.NewObject()
			_ = o.Set("value", v)
			_ = o.Set("done", end)
			return o
		}
		_ = it.Set("next", func(goja.FunctionCall) goja.Value {
			if done {
				return settled(result(goja.Undefined(), true), nil)
			}
			v, end, err := recv()
			if err != nil {
				done = true
				return settled(nil, err)
			}
			done = end
			return settled(result(v, end), nil)
		})
		_ = it.Set("return", func(call goja.FunctionCall) goja.Value {
			done = true
			return settled(result(call.Argument(0), true), nil)
		})
		return it
	})
	return obj
}

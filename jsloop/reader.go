package jsloop

import (
	"errors"

	"github.com/dop251/goja"
	"github.com/velalang/runtime/channel"
)

// source is what a JavaScript async iterator reads: the receiving end of a
// channel, its values turned into JavaScript on the loop.
type source struct {
	// tryRecv takes a value if one is there: channel.ErrEmpty if not, the
	// end of the stream (channel.ErrClosed, or the producer's error)
	// otherwise.
	tryRecv func() (any, error)
	// recvAsync arranges for deliver to be called, from any goroutine,
	// with the next value or the end; cancel withdraws it (true: nothing
	// was taken).
	recvAsync func(deliver func(any, error)) (cancel func() bool)
	// toJS turns a value into JavaScript, on the loop.
	toJS func(any) (goja.Value, error)
	// stop is called once when the consumer stops early (break, return or
	// throw out of a for await); nil for none.
	stop func()
	// hold: a next() waiting for a value keeps the run alive.
	hold bool
}

// reader is one JavaScript async iterator over a source. Every method runs
// on the loop goroutine. A value already in the channel is handed to
// next() at once, without a loop wake-up; only an empty channel makes
// next() wait, through one receive in flight for the oldest waiting
// next().
type reader struct {
	rn      *run
	src     source
	waiting []request   // next() calls not answered yet, oldest first
	cancel  func() bool // withdraws the receive in flight; nil if none
	ended   bool        // every later next() gives {done: true}
	failure goja.Value  // rejects the next next(), once (an abort's reason)
	held    bool        // holds a ref of the run
}

type request struct{ resolve, reject func(any) error }

// newReader returns the JavaScript object: next, return and
// [Symbol.asyncIterator] (itself).
func (r *Runtime) newReader(rn *run, src source) (*reader, *goja.Object) {
	rd := &reader{rn: rn, src: src}
	obj := r.vm.NewObject()
	_ = obj.Set("next", rd.next)
	_ = obj.Set("return", rd.ret)
	_ = obj.SetSymbol(r.asyncIterator, r.returnThis)
	rn.onEnd(rd)
	return rd, obj
}

// failedReader is an iterator whose first next() rejects with reason.
func (r *Runtime) failedReader(rn *run, reason goja.Value) goja.Value {
	rd, obj := r.newReader(rn, source{})
	rd.failure = reason
	return obj
}

func (rd *reader) next(goja.FunctionCall) goja.Value {
	r := rd.rn.r
	p, resolve, reject := r.vm.NewPromise()
	switch {
	case rd.failure != nil:
		f := rd.failure
		rd.failure, rd.ended = nil, true
		_ = reject(f)
	case rd.ended:
		_ = resolve(r.iterResult(goja.Undefined(), true))
	case len(rd.waiting) > 0 || rd.cancel != nil:
		rd.waiting = append(rd.waiting, request{resolve, reject})
	default:
		v, err := rd.src.tryRecv()
		switch {
		case err == nil:
			rd.answer(request{resolve, reject}, v, nil)
		case errors.Is(err, channel.ErrEmpty):
			rd.waiting = append(rd.waiting, request{resolve, reject})
			rd.receive()
		default:
			rd.answer(request{resolve, reject}, nil, err)
		}
	}
	return r.vm.ToValue(p)
}

// answer settles one next() with v, or with the end err (ErrClosed:
// done; anything else: a rejection, and the end).
func (rd *reader) answer(q request, v any, err error) {
	r := rd.rn.r
	if err != nil {
		// The end: this next() gets it, every other waiting one done.
		rest := rd.finish()
		if errors.Is(err, channel.ErrClosed) {
			_ = q.resolve(r.iterResult(goja.Undefined(), true))
		} else {
			_ = q.reject(r.errorValue(err))
		}
		for _, q := range rest {
			_ = q.resolve(r.iterResult(goja.Undefined(), true))
		}
		return
	}
	jv, cerr := rd.src.toJS(v)
	if cerr != nil {
		_ = q.reject(r.thrownValue(cerr))
		return
	}
	_ = q.resolve(r.iterResult(jv, false))
}

// receive starts the receive for the oldest waiting next().
func (rd *reader) receive() {
	rn := rd.rn
	if rd.src.hold && !rd.held {
		rd.held = true
		rn.ref()
	}
	loop := rn.r.loop
	rd.cancel = rd.src.recvAsync(func(v any, err error) {
		loop.Post(func() { rd.received(v, err) })
	})
}

// received is the value (or end) the receive in flight got.
func (rd *reader) received(v any, err error) {
	rn := rd.rn
	if rn.r.cur != rn || rd.cancel == nil {
		return // the run ended, or return() withdrew the receive
	}
	rd.cancel = nil
	defer rd.unhold() // after the turn, so the loop cannot end in between
	rn.turn(func() {
		q := rd.waiting[0]
		rd.waiting = rd.waiting[1:]
		rd.answer(q, v, err)
		rd.serve()
	})
}

// serve answers the waiting next() calls with what is there already, then
// waits again for the oldest. Settling a promise runs JavaScript
// (microtasks) that may call next() again, re-entering the reader: so
// each step first checks that no receive is in flight, since one serves
// the oldest waiting call.
func (rd *reader) serve() {
	for len(rd.waiting) > 0 && !rd.ended && rd.cancel == nil {
		v, err := rd.src.tryRecv()
		if errors.Is(err, channel.ErrEmpty) {
			rd.receive()
			return
		}
		q := rd.waiting[0]
		rd.waiting = rd.waiting[1:]
		rd.answer(q, v, err)
	}
}

// ret is return(v): the consumer stops. A waiting next() gets {done:
// true} at once, the receive in flight is withdrawn, and the producer is
// told (stop).
func (rd *reader) ret(call goja.FunctionCall) goja.Value {
	r := rd.rn.r
	p, resolve, _ := r.vm.NewPromise()
	rd.stop()
	_ = resolve(r.iterResult(call.Argument(0), true))
	return r.vm.ToValue(p)
}

func (rd *reader) stop() {
	if rd.ended && rd.cancel == nil && len(rd.waiting) == 0 {
		return
	}
	r := rd.rn.r
	waiting := rd.finish()
	for _, q := range waiting {
		_ = q.resolve(r.iterResult(goja.Undefined(), true))
	}
	if rd.src.stop != nil {
		rd.src.stop()
		rd.src.stop = nil
	}
}

// fail ends the iterator with reason: the waiting next() calls reject
// with it, or else the next one.
func (rd *reader) fail(reason goja.Value) {
	waiting := rd.finish()
	if len(waiting) == 0 {
		rd.failure = reason
		return
	}
	for _, q := range waiting {
		_ = q.reject(reason)
	}
}

// finish marks the end: no receive in flight, nothing waiting. It returns
// the next() calls that were waiting, for the caller to settle.
func (rd *reader) finish() []request {
	waiting := rd.waiting
	rd.ended = true
	rd.waiting = nil
	if rd.cancel != nil {
		rd.cancel()
		rd.cancel = nil
	}
	rd.unhold()
	return waiting
}

func (rd *reader) unhold() {
	if rd.held && (rd.cancel == nil || rd.ended) {
		rd.held = false
		rd.rn.unref()
	}
}

// endRun is the end of the run: the receive in flight is withdrawn, so no
// value is taken for a consumer that is gone.
func (rd *reader) endRun(error) {
	if rd.cancel != nil {
		rd.cancel()
		rd.cancel = nil
	}
	if rd.src.stop != nil {
		rd.src.stop()
		rd.src.stop = nil
	}
}

// iterResult is {value, done}.
func (r *Runtime) iterResult(v goja.Value, done bool) *goja.Object {
	obj := r.vm.NewObject()
	_ = obj.Set("value", v)
	_ = obj.Set("done", done)
	return obj
}

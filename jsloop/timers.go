package jsloop

import (
	"container/heap"
	"math"
	"time"

	"github.com/dop251/goja"
)

// jsTimer is one setTimeout, setInterval or AbortSignal.timeout timer.
type jsTimer struct {
	id       int64
	when     time.Time
	seq      uint64 // creation order, for timers due at the same instant
	fn       goja.Callable
	args     []goja.Value
	interval time.Duration // 0 for a one-shot timer
	ref      bool          // keeps RunScript alive
	index    int           // in the heap; -1 once out of it
}

// timerQueue is a run's one ordered timer queue: a heap by due time,
// then creation order, so timers with equal delays fire in the order they
// were made. One Go timer, armed for the earliest, posts the firing to the
// loop. All of it is touched on the loop goroutine only, but for the Go
// timer's callback, which only posts.
type timerQueue struct {
	heap   timerHeap
	byID   map[int64]*jsTimer
	nextID int64
	seq    uint64
	wake   *time.Timer
	fire   func() // the run's fireTimers, made once
}

type timerHeap []*jsTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*jsTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

// delayOf is Node's reading of a timer delay: a number of milliseconds;
// anything below 1, not a number, or above 2^31-1 means 1.
func delayOf(v goja.Value) time.Duration {
	ms := 1.0
	if v != nil && !goja.IsUndefined(v) {
		ms = v.ToFloat()
	}
	if math.IsNaN(ms) || ms < 1 || ms > math.MaxInt32 {
		ms = 1
	}
	return time.Duration(ms * float64(time.Millisecond))
}

func (r *Runtime) installTimers() {
	vm := r.vm
	set := func(name string, repeat bool) {
		_ = vm.Set(name, func(call goja.FunctionCall) goja.Value {
			fn, ok := goja.AssertFunction(call.Argument(0))
			if !ok {
				panic(vm.NewTypeError("%s: the callback must be a function", name))
			}
			var args []goja.Value
			if len(call.Arguments) > 2 {
				args = append(args, call.Arguments[2:]...)
			}
			return vm.ToValue(r.cur.addTimer(fn, args, delayOf(call.Argument(1)), repeat, true))
		})
	}
	set("setTimeout", false)
	set("setInterval", true)
	clear := func(call goja.FunctionCall) goja.Value {
		v := call.Argument(0)
		if goja.IsUndefined(v) || goja.IsNull(v) {
			return goja.Undefined()
		}
		f := v.ToFloat()
		if math.IsNaN(f) {
			return goja.Undefined()
		}
		r.cur.clearTimer(int64(f))
		return goja.Undefined()
	}
	_ = vm.Set("clearTimeout", clear)
	_ = vm.Set("clearInterval", clear)
}

// addTimer queues a timer and returns its id.
func (rn *run) addTimer(fn goja.Callable, args []goja.Value, d time.Duration, repeat, ref bool) int64 {
	q := &rn.timers
	if q.byID == nil {
		q.byID = make(map[int64]*jsTimer)
		q.fire = rn.fireTimers
	}
	q.nextID++
	q.seq++
	now := rn.turnStart
	if now.IsZero() {
		now = time.Now()
	}
	t := &jsTimer{id: q.nextID, when: now.Add(d), seq: q.seq, fn: fn, args: args, ref: ref}
	if repeat {
		t.interval = d
	}
	q.byID[t.id] = t
	heap.Push(&q.heap, t)
	if ref {
		rn.ref()
	}
	rn.armTimers()
	return t.id
}

func (rn *run) clearTimer(id int64) {
	q := &rn.timers
	t := q.byID[id]
	if t == nil {
		return
	}
	delete(q.byID, t.id)
	if t.index >= 0 {
		heap.Remove(&q.heap, t.index)
	}
	if t.ref {
		rn.unref()
	}
	rn.armTimers()
}

// armTimers points the Go timer at the earliest due timer.
func (rn *run) armTimers() {
	q := &rn.timers
	if len(q.heap) == 0 {
		if q.wake != nil {
			q.wake.Stop()
		}
		return
	}
	d := time.Until(q.heap[0].when)
	if q.wake == nil {
		loop, fire := rn.r.loop, q.fire
		q.wake = time.AfterFunc(d, func() { loop.Post(fire) })
		return
	}
	q.wake.Reset(d)
}

// fireTimers runs every timer due now, each as its own turn (so microtasks
// run between two timer callbacks, as in Node), in due-time then creation
// order. A timer made by a callback is not due before the next firing.
func (rn *run) fireTimers() {
	q := &rn.timers
	now := time.Now()
	for len(q.heap) > 0 && !q.heap[0].when.After(now) {
		if !rn.active() {
			return
		}
		t := heap.Pop(&q.heap).(*jsTimer)
		if t.interval > 0 {
			q.seq++
			t.when, t.seq = now.Add(t.interval), q.seq
			heap.Push(&q.heap, t)
		} else {
			delete(q.byID, t.id)
			if t.ref {
				defer rn.unref() // after the callback, so the loop cannot end in between
			}
		}
		rn.turn(func() {
			if _, err := t.fn(goja.Undefined(), t.args...); err != nil {
				rn.failJS(err)
			}
		})
	}
	rn.armTimers()
}

// stop drops every timer, at the end of the run.
func (q *timerQueue) stop() {
	for _, t := range q.heap {
		t.index = -1
	}
	q.heap = nil
	q.byID = nil
	if q.wake != nil {
		q.wake.Stop()
	}
}

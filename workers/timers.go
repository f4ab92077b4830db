package workers

import (
	"container/heap"
	"time"

	"github.com/velalang/runtime/internal/safecall"
)

// deadlines is a pool's timeouts: a min-heap of pending deadlines and one
// timer, set for the earliest. Arming a deadline costs a heap insertion
// under the pool's mutex and no allocation beyond the heap's slice. The
// timer is made when the first deadline is armed, by whichever goroutine
// does so, stopped whenever the heap is empty and reused: under
// testing/synctest, a pool whose tasks have timeouts belongs to the bubble
// that armed the first. Guarded by pool.mu.
type deadlines struct {
	h       deadlineHeap
	timer   *time.Timer   // nil until the first deadline is armed
	at      time.Duration // what the timer is set for, while running
	running bool          // the timer is set
}

// deadline is one timeout, armed or not. When it passes, its owner's
// expired runs on the timer's goroutine, without the pool's mutex, with the
// generation it was armed with: an owner that reuses its deadline (a
// batch's item) tells a stale firing from a current one by it. The zero
// deadline is not armed and has no owner.
type deadline struct {
	at    time.Duration // since pool.epoch
	i     int           // 1 + its index in the heap; 0 when not armed
	gen   uint64        // incremented at each arming
	owner expirer
}

// expirer owns deadlines.
type expirer interface {
	expired(d *deadline, gen uint64)
}

// armLocked arms d, owned by owner, to fire at at (since the pool's
// epoch). d must not be armed already.
func (p *Pool) armLocked(d *deadline, owner expirer, at time.Duration) {
	d.at, d.owner = at, owner
	d.gen++
	heap.Push(&p.timeouts.h, d)
	p.resetTimerLocked()
}

// disarmLocked disarms d if it is armed, and reports whether it was.
func (p *Pool) disarmLocked(d *deadline) bool {
	if d.i == 0 {
		return false
	}
	heap.Remove(&p.timeouts.h, d.i-1)
	p.resetTimerLocked()
	return true
}

// resetTimerLocked sets the timer for the earliest deadline, or stops it
// when none is armed.
func (p *Pool) resetTimerLocked() {
	ts := &p.timeouts
	if len(ts.h) == 0 {
		if ts.running {
			ts.timer.Stop()
			ts.running = false
		}
		return
	}
	at := ts.h[0].at
	switch {
	case ts.timer == nil:
		ts.timer = time.AfterFunc(at-p.now(), p.expire)
	case !ts.running || at != ts.at:
		ts.timer.Reset(at - p.now())
	default:
		return
	}
	ts.at, ts.running = at, true
}

// expire fires every deadline that has passed, in order, outside the
// mutex, then sets the timer for the next. What it needs of each deadline
// (its owner and generation) is read under the mutex: once released, the
// owner may re-arm the deadline at any moment.
func (p *Pool) expire() {
	type firing struct {
		d     *deadline
		owner expirer
		gen   uint64
	}
	var due []firing
	p.mu.Lock()
	ts := &p.timeouts
	now := p.now()
	for len(ts.h) > 0 && ts.h[0].at <= now {
		d := heap.Pop(&ts.h).(*deadline)
		due = append(due, firing{d, d.owner, d.gen})
	}
	ts.running = false // it fired; a stale firing finds the heap as it is
	p.resetTimerLocked()
	p.mu.Unlock()
	// A firing settles futures, which runs user code (wakers, Then
	// functions): one that calls runtime.Goexit or panics must not lose the
	// firings after it, which have left the heap.
	safecall.Each(due, func(f firing) { f.owner.expired(f.d, f.gen) })
}

// deadlineHeap orders deadlines, the earliest first.
type deadlineHeap []*deadline

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].i, h[j].i = i+1, j+1
}
func (h *deadlineHeap) Push(x any) {
	d := x.(*deadline)
	*h = append(*h, d)
	d.i = len(*h)
}
func (h *deadlineHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	d.i = 0
	return d
}

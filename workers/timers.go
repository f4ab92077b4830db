package workers

import (
	"container/heap"
	"time"
)

// deadlines is a pool's timeouts: a min-heap of pending deadlines and one
// timer, set for the earliest. Arming a deadline costs a heap insertion
// under the pool's mutex and no allocation beyond the heap's slice; a
// pool whose tasks have no timeout holds no timer. Guarded by pool.mu.
//
// The timer is made when the first deadline is armed and dropped when the
// last one goes, by whichever goroutine does so; under testing/synctest a
// pool with timeouts is thus used from one bubble at a time.
type deadlines struct {
	h     deadlineHeap
	timer *time.Timer // fires at h[0].at; nil when h is empty
	at    time.Duration
}

// deadline is one timeout, armed or not. When it passes, fire runs on the
// timer's goroutine, without the pool's mutex, with the generation it was
// armed with: an owner that reuses its deadline (a batch's item) tells a
// stale firing from a current one by it.
type deadline struct {
	at   time.Duration // since pool.epoch
	i    int           // index in the heap, or -1 when not armed
	gen  uint64        // incremented at each arming
	fire func(gen uint64)
}

func newDeadline(fire func(gen uint64)) deadline { return deadline{i: -1, fire: fire} }

// armLocked arms d to fire at at (since the pool's epoch). d must not be
// armed already.
func (p *Pool) armLocked(d *deadline, at time.Duration) {
	d.at = at
	d.gen++
	heap.Push(&p.timeouts.h, d)
	p.resetTimerLocked()
}

// disarmLocked disarms d if it is armed, and reports whether it was.
func (p *Pool) disarmLocked(d *deadline) bool {
	if d.i < 0 {
		return false
	}
	heap.Remove(&p.timeouts.h, d.i)
	p.resetTimerLocked()
	return true
}

// resetTimerLocked sets the timer for the earliest deadline, or drops it.
func (p *Pool) resetTimerLocked() {
	ts := &p.timeouts
	if len(ts.h) == 0 {
		if ts.timer != nil {
			ts.timer.Stop()
			ts.timer = nil
		}
		return
	}
	at := ts.h[0].at
	switch {
	case ts.timer == nil:
		ts.timer = time.AfterFunc(at-p.now(), p.expire)
	case at != ts.at:
		ts.timer.Reset(at - p.now())
	default:
		return
	}
	ts.at = at
}

// expire fires every deadline that has passed, in order, outside the
// mutex, then sets the timer for the next.
func (p *Pool) expire() {
	type firing struct {
		d   *deadline
		gen uint64
	}
	var due []firing
	p.mu.Lock()
	ts := &p.timeouts
	now := p.now()
	for len(ts.h) > 0 && ts.h[0].at <= now {
		d := heap.Pop(&ts.h).(*deadline)
		due = append(due, firing{d, d.gen})
	}
	if len(ts.h) > 0 && ts.timer != nil {
		ts.at = ts.h[0].at
		ts.timer.Reset(ts.at - now)
	} else if ts.timer != nil {
		ts.timer = nil
	}
	p.mu.Unlock()
	for _, f := range due {
		f.d.fire(f.gen)
	}
}

// deadlineHeap orders deadlines, the earliest first.
type deadlineHeap []*deadline

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].i, h[j].i = i, j
}
func (h *deadlineHeap) Push(x any) {
	d := x.(*deadline)
	d.i = len(*h)
	*h = append(*h, d)
}
func (h *deadlineHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	d.i = -1
	return d
}

package workers

import (
	"context"

	"github.com/velalang/runtime/internal/safecall"
)

// A watch is a pool's one registration on a parent context (context.
// AfterFunc), shared by every Spawn made under it: when the parent ends,
// the watch takes its tasks off its list under the pool's mutex and
// cancels their futures, each with its own parent's cause. So a Spawn
// under a cancellable context costs a link in a list, not a registration
// of its own, and cancelling a context under which many tasks wait costs
// the cancel one callback.
//
// Parents are told apart by their Done channel: contexts that share one
// (a context.WithValue of a cancellable context, say) end together. A
// watch with no task left stays registered, so that a run of Spawns under
// one context registers once, until its parent ends, the pool closes, or
// the pool sweeps the empty watches out, which it does each time their
// number doubles past 64: a pool holds at most about twice as many watches
// as it has parents with live tasks, plus 64. All of it is guarded by the
// pool's mutex.
type watch struct {
	pool *Pool
	done <-chan struct{} // the parent's Done: the key in pool.watches
	stop func() bool     // ends the registration
	head *taskBase       // the tasks watching, linked through their taskExtra
	n    int             // how many
}

// watchLocked links task t, whose parent can end, to the pool's watch on
// its parent, registering one if there is none.
func (p *Pool) watchLocked(t *taskBase, x *taskExtra) {
	done := t.parent.Done()
	w := p.watches[done]
	if w == nil {
		if p.watches == nil {
			p.watches = make(map[<-chan struct{}]*watch)
		}
		if len(p.watches) >= max(p.sweepAt, 64) {
			p.sweepWatchesLocked()
			p.sweepAt = 2 * len(p.watches)
		}
		w = &watch{pool: p, done: done}
		w.stop = context.AfterFunc(t.parent, w.fire)
		p.watches[done] = w
	}
	x.watch, x.watchNext = w, w.head
	if w.head != nil {
		w.head.extra.Load().watchPrev = t
	}
	w.head = t
	w.n++
}

// unwatchLocked unlinks task t from its watch, if it is on one. The watch
// stays (see watch) unless the pool is closed.
func (p *Pool) unwatchLocked(t *taskBase, x *taskExtra) {
	w := x.watch
	if w == nil {
		return
	}
	if x.watchPrev == nil {
		w.head = x.watchNext
	} else {
		x.watchPrev.extra.Load().watchNext = x.watchNext
	}
	if x.watchNext != nil {
		x.watchNext.extra.Load().watchPrev = x.watchPrev
	}
	x.watch, x.watchPrev, x.watchNext = nil, nil, nil
	if w.n--; w.n == 0 && p.closed {
		p.dropWatchLocked(w)
	}
}

// sweepWatchesLocked drops the watches that no task uses, as does
// closing the pool.
func (p *Pool) sweepWatchesLocked() {
	for _, w := range p.watches {
		if w.n == 0 {
			p.dropWatchLocked(w)
		}
	}
}

// dropWatchLocked ends watch w's registration and forgets it.
func (p *Pool) dropWatchLocked(w *watch) {
	w.stop()
	delete(p.watches, w.done)
}

// fire runs, on a goroutine of the context package's, when the parent
// ends: it takes every task off the watch and cancels their futures, with
// the mutex released, each with context.Cause of its own parent. A
// continuation that panics or calls runtime.Goexit does not keep the
// others from being cancelled.
func (w *watch) fire() {
	p := w.pool
	p.mu.Lock()
	if p.watches[w.done] == w {
		delete(p.watches, w.done)
	}
	ts := make([]*taskBase, 0, w.n)
	for t := w.head; t != nil; {
		x := t.extra.Load()
		ts = append(ts, t)
		next := x.watchNext
		x.watch, x.watchPrev, x.watchNext = nil, nil, nil
		t = next
	}
	w.head, w.n = nil, 0
	p.mu.Unlock()
	safecall.Each(ts, func(t *taskBase) { t.body.cancel(context.Cause(t.parent)) })
}

package workers

import "time"

// parker is how an idle worker goroutine waits for work: a task (or nil,
// meaning "retire") is handed over on ch. Each goroutine makes its own on
// its first wait, so that the channel belongs to the goroutine (and to its
// testing/synctest bubble, if any).
type parker struct {
	ch    chan *taskBase // capacity 1: a hand-over never blocks
	since time.Duration  // pool.mu; when the worker began to wait
}

// parkLocked is where worker w goes when the queue is empty: with an
// IdleTimeout it joins the parked workers and reports true, and its
// goroutine waits on w.park.ch once the mutex is released; without one, or
// when the pool is closing or shrinking, w exits and it reports false.
//
// Waiting costs no timer per wait: one timer per pool (the reaper) retires
// the workers that have waited longer than IdleTimeout.
func (p *Pool) parkLocked(w *worker) bool {
	if p.idleTimeout <= 0 || p.closed || p.workers > p.max {
		p.exitLocked(w)
		return false
	}
	if w.park == nil {
		w.park = &parker{ch: make(chan *taskBase, 1)}
	}
	w.park.since = p.now()
	p.parked = append(p.parked, w)
	if p.reaper == nil {
		p.reaper = time.AfterFunc(p.idleTimeout, p.reap)
	}
	return true
}

// reap retires the workers that have waited for IdleTimeout or longer, and
// sets the reaper to come back when the next one will have.
func (p *Pool) reap() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reaper = nil
	now := p.now()
	// parked is in the order workers began to wait: the oldest first.
	n := 0
	for n < len(p.parked) && now-p.parked[n].park.since >= p.idleTimeout {
		n++
	}
	for _, w := range p.parked[:n] {
		p.retireLocked(w)
	}
	p.parked = append(p.parked[:0], p.parked[n:]...)
	if len(p.parked) > 0 && !p.closed {
		p.reaper = time.AfterFunc(p.parked[0].park.since+p.idleTimeout-now, p.reap)
	}
}

// unparkLocked takes the most recently parked worker, or nil if none waits.
func (p *Pool) unparkLocked() *worker {
	n := len(p.parked)
	if n == 0 {
		return nil
	}
	w := p.parked[n-1]
	p.parked[n-1] = nil
	p.parked = p.parked[:n-1]
	return w
}

// retireParkedLocked retires waiting workers, all of them or those beyond
// MaxWorkers, most recent first.
func (p *Pool) retireParkedLocked(all bool) {
	for len(p.parked) > 0 && (all || p.workers > p.max) {
		p.retireLocked(p.unparkLocked())
	}
	if len(p.parked) == 0 && p.reaper != nil {
		p.reaper.Stop()
		p.reaper = nil
	}
}

// retireLocked retires waiting worker w and tells its goroutine to return.
func (p *Pool) retireLocked(w *worker) {
	pk := w.park
	p.exitLocked(w)
	pk.ch <- nil
}

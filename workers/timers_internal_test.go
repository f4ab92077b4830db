package workers

import (
	"testing"
	"time"
)

// nopExpirer owns deadlines and does nothing when they pass, so that the
// timer's goroutine meets no lock after it has read the deadline.
type nopExpirer struct{}

func (nopExpirer) expired(*deadline, uint64) {}

// A deadline re-armed right after it fired, as a batch's item re-arms its
// run timeout for its next task: the timer's goroutine must not read the
// deadline outside the mutex while its owner re-arms it. The race detector
// reports the race this test provokes on every run when it exists.
func TestTimerRearmAfterFiringIsNotARace(t *testing.T) {
	p := &Pool{}
	p.ready()
	var d deadline
	p.mu.Lock()
	p.armLocked(&d, nopExpirer{}, p.now())
	p.mu.Unlock()
	for range 200 {
		for { // wait until the timer's goroutine has taken d off the heap
			p.mu.Lock()
			if d.i == 0 {
				break
			}
			p.mu.Unlock()
			time.Sleep(10 * time.Microsecond)
		}
		p.armLocked(&d, nopExpirer{}, p.now()) // due at once again
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.disarmLocked(&d)
	p.mu.Unlock()
}

package async

import "sync/atomic"

// Hold marks work the loop must wait for that it cannot see: a request in
// flight elsewhere, a stream whose next value will be posted later. Until
// release is called, Run does not return for lack of work (it still returns
// when its ctx ends or the loop is closed). release may be called from any
// goroutine, once or many times: only the first call counts, so a holder
// with several ways to finish can call it from each. Hold is safe from any
// goroutine and never blocks; it costs one small allocation.
//
// On a closed loop, Hold holds nothing and returns a release that does
// nothing. Closing the loop does not call release: the count simply stops
// mattering, since Run then returns ErrLoopClosed.
func (l *Loop) Hold() (release func()) {
	if !l.addWork() {
		return func() {}
	}
	h := &hold{l: l}
	return h.release
}

// hold is one Hold: done moves once from false to true, and whoever moves
// it ends the pending work.
type hold struct {
	l    *Loop
	done atomic.Bool
}

func (h *hold) release() {
	if h.done.CompareAndSwap(false, true) {
		h.l.doneWork()
	}
}

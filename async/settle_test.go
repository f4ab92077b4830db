package async_test

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/velalang/runtime/async"
)

// What a settle's observer and cancellation handlers write is visible to
// any goroutine that sees the future settled, even one that only polls its
// state (no Done, no waker): they run before the state is published.
func TestSettleEffectsVisibleToPollers(t *testing.T) {
	for range 500 {
		var observed, handled atomic.Bool // set by the settle, read by the poller
		var plain int                     // the race detector checks this one
		p, f := async.NewPromise[int]()
		p.Observe(observerFunc(func(async.State, error) { observed.Store(true); plain = 1 }))
		p.OnCancel(func(error) { handled.Store(true) })
		seen := make(chan [3]int)
		go func() {
			for f.State() == async.Pending {
				runtime.Gosched()
			}
			var o, h int
			if observed.Load() {
				o = 1
			}
			if handled.Load() {
				h = 1
			}
			seen <- [3]int{o, h, plain}
		}()
		f.Cancel()
		if got := <-seen; got != [3]int{1, 1, 1} {
			t.Fatalf("a poller saw the future cancelled before its observer and handler ran: %v", got)
		}
	}
}

type observerFunc func(async.State, error)

func (o observerFunc) Settled(s async.State, err error) { o(s, err) }

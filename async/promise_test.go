package async_test

// A Promise settles its future once: Resolve, Reject, Cancel and
// CancelWithCause, the first settle winning, the zero Promise, OnCancel
// handlers, and what a settle's observer and handlers write being visible
// to anyone who sees the future settled.

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/velalang/runtime/async"
)

func TestNewPromiseIsPending(t *testing.T) {
	p, f := async.NewPromise[int]()
	if first, again := p.Future(), p.Future(); first != f || again != f {
		t.Fatal("Promise.Future() does not return the future NewPromise gave")
	}
	wantState(t, f, async.Pending)
	if r, ok := f.Result(); ok {
		t.Fatalf("Result() of a pending future = %v, true", r)
	}
	if isClosed(f.Done()) {
		t.Fatal("Done() of a pending future is closed")
	}
}

func TestZeroPromiseIsUsable(t *testing.T) {
	var p async.Promise[string]
	wantState(t, p.Future(), async.Pending)
	if !p.Resolve("x") {
		t.Fatal("Resolve on a zero Promise returned false")
	}
	if v, err := await(t, p.Future()); v != "x" || err != nil {
		t.Fatalf("Await = %q, %v; want \"x\", nil", v, err)
	}
}

func TestResolve(t *testing.T) {
	p, f := async.NewPromise[int]()
	if !p.Resolve(5) {
		t.Fatal("first Resolve returned false")
	}
	wantState(t, f, async.Fulfilled)
	if r, ok := f.Result(); !ok || r.Value != 5 || r.Err != nil {
		t.Fatalf("Result() = %+v, %v; want {5 <nil>}, true", r, ok)
	}
	if p.Resolve(6) || p.Reject(errBoom) || f.Cancel() || f.CancelWithCause(errBoom) {
		t.Fatal("a second settle of a fulfilled future returned true")
	}
	wantState(t, f, async.Fulfilled)
	if v, err := await(t, f); v != 5 || err != nil {
		t.Fatalf("Await after later settles = %v, %v; want 5, nil", v, err)
	}
}

func TestReject(t *testing.T) {
	p, f := async.NewPromise[int]()
	if !p.Reject(errBoom) {
		t.Fatal("first Reject returned false")
	}
	wantState(t, f, async.Rejected)
	if p.Resolve(1) || p.Reject(errors.New("other")) || f.Cancel() {
		t.Fatal("a second settle of a rejected future returned true")
	}
	v, err := await(t, f)
	if v != 0 || err != errBoom {
		t.Fatalf("Await = %v, %v; want 0, %v", v, err, errBoom)
	}
}

func TestRejectNil(t *testing.T) {
	p, f := async.NewPromise[int]()
	if !p.Reject(nil) {
		t.Fatal("Reject(nil) returned false on a pending future")
	}
	wantState(t, f, async.Rejected)
	if _, err := await(t, f); !errors.Is(err, async.ErrRejectedNil) {
		t.Fatalf("Await after Reject(nil) = %v, want ErrRejectedNil", err)
	}
	if r, _ := f.Result(); r.Err == nil {
		t.Fatal("a future rejected with nil has a nil error in Result")
	}

	g := async.FromError[int](nil)
	wantState(t, g, async.Rejected)
	if _, err := await(t, g); !errors.Is(err, async.ErrRejectedNil) {
		t.Fatalf("FromError(nil) error = %v, want ErrRejectedNil", err)
	}
}

func TestFromValueAndFromError(t *testing.T) {
	f := async.FromValue("v")
	wantState(t, f, async.Fulfilled)
	if v, err := await(t, f); v != "v" || err != nil {
		t.Fatalf("FromValue: Await = %q, %v", v, err)
	}
	g := async.FromError[string](errBoom)
	wantState(t, g, async.Rejected)
	if v, err := await(t, g); v != "" || err != errBoom {
		t.Fatalf("FromError: Await = %q, %v", v, err)
	}
	if f.Cancel() || g.Cancel() {
		t.Fatal("Cancel of a settled future returned true")
	}
}

func TestCancel(t *testing.T) {
	p, f := async.NewPromise[int]()
	if !f.Cancel() {
		t.Fatal("Cancel of a pending future returned false")
	}
	wantState(t, f, async.Cancelled)
	v, err := await(t, f)
	if v != 0 || !errors.Is(err, async.ErrCancelled) {
		t.Fatalf("Await after Cancel = %v, %v; want 0, ErrCancelled", v, err)
	}
	if f.Cancel() || p.Resolve(1) || p.Reject(errBoom) {
		t.Fatal("a second settle of a cancelled future returned true")
	}
	wantState(t, f, async.Cancelled)
}

func TestCancelWithCause(t *testing.T) {
	cause := &codeError{code: 7}
	p, f := async.NewPromise[int]()
	var handlerCause error
	p.OnCancel(func(c error) { handlerCause = c })
	if !f.CancelWithCause(cause) {
		t.Fatal("CancelWithCause of a pending future returned false")
	}
	wantState(t, f, async.Cancelled)
	_, err := await(t, f)
	for name, e := range map[string]error{"Await": err, "OnCancel": handlerCause} {
		if !errors.Is(e, async.ErrCancelled) {
			t.Errorf("%s error %v does not match ErrCancelled", name, e)
		}
		if !errors.Is(e, cause) {
			t.Errorf("%s error %v does not match the cause", name, e)
		}
		var ce *codeError
		if !errors.As(e, &ce) || ce.code != 7 {
			t.Errorf("%s error %v: errors.As does not reach the *codeError cause", name, e)
		}
	}
	if msg := err.Error(); !strings.Contains(msg, async.ErrCancelled.Error()) || !strings.Contains(msg, cause.Error()) {
		t.Errorf("error message %q does not name both the cancellation and the cause", msg)
	}
	if f.CancelWithCause(errBoom) {
		t.Fatal("a second CancelWithCause returned true")
	}
	if _, err := await(t, f); errors.Is(err, errBoom) {
		t.Fatal("a second CancelWithCause changed the error")
	}
}

func TestCancelWithNilOrSameCause(t *testing.T) {
	for _, cause := range []error{nil, async.ErrCancelled} {
		_, f := async.NewPromise[int]()
		if !f.CancelWithCause(cause) {
			t.Fatalf("CancelWithCause(%v) returned false", cause)
		}
		if _, err := await(t, f); !errors.Is(err, async.ErrCancelled) {
			t.Fatalf("CancelWithCause(%v): error %v does not match ErrCancelled", cause, err)
		}
	}
}

// TestFirstSettleWins races every way of settling a future from many
// goroutines: exactly one call returns true, and the future holds what that
// call put in it. Run it with -race.
func TestFirstSettleWins(t *testing.T) {
	const rounds, racers = 300, 8
	wins := map[async.State]int{}
	for range rounds {
		p, f := async.NewPromise[int]()
		causes := make([]error, racers)
		won := make([]bool, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			causes[i] = fmt.Errorf("racer %d", i)
			wg.Go(func() {
				<-start
				switch i % 4 {
				case 0:
					won[i] = p.Resolve(i)
				case 1:
					won[i] = p.Reject(causes[i])
				case 2:
					won[i] = f.Cancel()
				case 3:
					won[i] = f.CancelWithCause(causes[i])
				}
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, w := range won {
			if w {
				if winner >= 0 {
					t.Fatalf("racers %d and %d both settled the future", winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatal("no racer settled the future")
		}
		v, err := await(t, f)
		s := f.State()
		wins[s]++
		switch winner % 4 {
		case 0:
			if s != async.Fulfilled || v != winner || err != nil {
				t.Fatalf("Resolve(%d) won but the future is %v with %v, %v", winner, s, v, err)
			}
		case 1:
			if s != async.Rejected || err != causes[winner] {
				t.Fatalf("Reject by racer %d won but the future is %v with %v", winner, s, err)
			}
		case 2:
			if s != async.Cancelled || err != async.ErrCancelled {
				t.Fatalf("Cancel by racer %d won but the future is %v with %v", winner, s, err)
			}
		case 3:
			if s != async.Cancelled || !errors.Is(err, async.ErrCancelled) || !errors.Is(err, causes[winner]) {
				t.Fatalf("CancelWithCause by racer %d won but the future is %v with %v", winner, s, err)
			}
		}
	}
	t.Logf("winning states over %d rounds: %v", rounds, wins)
}

func TestOnCancelRunsOnceWhenCancelled(t *testing.T) {
	p, f := async.NewPromise[int]()
	var calls []string
	var causes []error
	p.OnCancel(func(c error) { calls = append(calls, "first"); causes = append(causes, c) })
	p.OnCancel(func(c error) { calls = append(calls, "second"); causes = append(causes, c) })
	if len(calls) != 0 {
		t.Fatal("OnCancel ran a handler on a pending future")
	}
	f.Cancel()
	// Handlers run on the cancelling goroutine, before Cancel returns.
	if got := strings.Join(calls, ","); got != "first,second" {
		t.Fatalf("handlers ran as %q, want \"first,second\"", got)
	}
	for _, c := range causes {
		if !errors.Is(c, async.ErrCancelled) {
			t.Fatalf("handler cause %v does not match ErrCancelled", c)
		}
	}
	f.Cancel()
	f.CancelWithCause(errBoom)
	if len(calls) != 2 {
		t.Fatalf("handlers ran %d times after repeated cancels, want 2", len(calls))
	}
}

func TestOnCancelAfterCancelRunsAtOnce(t *testing.T) {
	p, f := async.NewPromise[int]()
	f.CancelWithCause(errBoom)
	var got error
	n := 0
	p.OnCancel(func(c error) { got = c; n++ })
	// Without synchronisation: the handler must have run on this goroutine.
	if n != 1 {
		t.Fatalf("OnCancel on a cancelled future ran its handler %d times before returning, want 1", n)
	}
	if !errors.Is(got, async.ErrCancelled) || !errors.Is(got, errBoom) {
		t.Fatalf("handler cause = %v, want ErrCancelled wrapping the cause", got)
	}
}

func TestOnCancelNeverRunsWhenNotCancelled(t *testing.T) {
	settle := map[string]func(*async.Promise[int]){
		"Resolve":   func(p *async.Promise[int]) { p.Resolve(1) },
		"Reject":    func(p *async.Promise[int]) { p.Reject(errBoom) },
		"RejectNil": func(p *async.Promise[int]) { p.Reject(nil) },
	}
	for name, do := range settle {
		t.Run(name, func(t *testing.T) {
			p, f := async.NewPromise[int]()
			n := 0
			p.OnCancel(func(error) { n++ })
			do(p)
			p.OnCancel(func(error) { n++ })
			if f.Cancel() {
				t.Fatal("Cancel of a settled future returned true")
			}
			if n != 0 {
				t.Fatalf("OnCancel handlers ran %d times on a future that was not cancelled", n)
			}
		})
	}
}

func TestOnCancelNilIsIgnored(t *testing.T) {
	p, f := async.NewPromise[int]()
	p.OnCancel(nil)
	if !f.Cancel() {
		t.Fatal("Cancel returned false")
	}
	p.OnCancel(nil) // on a cancelled future: must not call nil
}

// TestOnCancelRacesWithSettle registers a handler while other goroutines
// cancel or resolve: the handler runs exactly once if the future ended up
// cancelled, and never otherwise.
func TestOnCancelRacesWithSettle(t *testing.T) {
	const rounds = 1000
	cancelled := 0
	for i := range rounds {
		p, f := async.NewPromise[int]()
		var n atomic.Int32
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { <-start; p.OnCancel(func(error) { n.Add(1) }) })
		wg.Go(func() { <-start; f.Cancel() })
		if i%2 == 0 {
			wg.Go(func() { <-start; p.Resolve(i) })
		}
		close(start)
		wg.Wait()
		want := int32(0)
		if f.State() == async.Cancelled {
			want = 1
			cancelled++
		}
		if got := n.Load(); got != want {
			t.Fatalf("round %d: future is %v and the handler ran %d times, want %d", i, f.State(), got, want)
		}
	}
	t.Logf("%d of %d rounds ended cancelled", cancelled, rounds)
}

// TestOnCancelRunsBeforeWaitersAreReleased checks the documented order: what
// a handler writes is visible to a goroutine released from Await by the
// cancel (the race detector checks the happens-before).
func TestOnCancelRunsBeforeWaitersAreReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, f := async.NewPromise[int]()
		note := ""
		p.OnCancel(func(error) { note = "handler ran" })
		seen := make(chan string)
		go func() {
			f.Await(nilCtx)
			seen <- note
		}()
		synctest.Wait() // the waiter is blocked in Await
		f.Cancel()
		if got := <-seen; got != "handler ran" {
			t.Fatalf("released waiter saw %q, want the handler's write", got)
		}
	})
}

// TestOnCancelHandlerPanicStillSettles: a handler that panics makes Cancel
// panic on its caller, but the future is settled all the same: its Done
// channel is closed, its waiters are released, and the other handlers run.
func TestOnCancelHandlerPanicStillSettles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, f := async.NewPromise[int]()
		later := 0
		p.OnCancel(func(error) { panic("handler panic") })
		p.OnCancel(func(error) { later++ })
		woken := 0
		f.Poll(async.WakerFunc(func() { woken++ }))
		released := make(chan error)
		go func() {
			_, err := f.Await(nilCtx)
			released <- err
		}()
		synctest.Wait()

		func() {
			defer func() {
				if r := recover(); r != "handler panic" {
					t.Errorf("Cancel recovered %v, want the handler's panic", r)
				}
			}()
			f.Cancel()
			t.Error("Cancel returned although a handler panicked")
		}()
		wantState(t, f, async.Cancelled)
		if !isClosed(f.Done()) {
			t.Error("Done() is not closed after the cancel")
		}
		if err := <-released; !errors.Is(err, async.ErrCancelled) {
			t.Errorf("waiter got %v, want ErrCancelled", err)
		}
		if woken != 1 {
			t.Errorf("waker called %d times, want 1", woken)
		}
		if later != 1 {
			t.Errorf("the handler after the panicking one ran %d times, want 1", later)
		}
	})
}

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

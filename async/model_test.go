package async_test

// A model-based test of package async through its public API, as a fuzz
// target. The input decodes into operations that several goroutines run at
// once: settling promises (resolve, reject, cancel), combinators over them
// (All, AllSettled, Any, Race, Then with continuations that panic, call
// runtime.Goexit, cancel or settle another future, AsCompleted), wakers
// that call Goexit, and a Loop driven from its own goroutine (Post,
// AfterFunc and its stop, Spawn, On, Close, a second Run) with callbacks
// that panic or call Goexit. Then every promise is settled and the loop
// drained, and the model checks that every future settled exactly once
// with the outcome its inputs call for, that every loop callback ran at
// most once (exactly once unless the loop was closed or the timer stopped),
// that no goroutine is left, and that nothing hangs.
//
// The seeds in testdata/fuzz/FuzzAsyncModel run in every go test;
// TestAsyncModelSeedsAreValid rewrites them with MODEL_WRITE_SEEDS=1.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/internal/fuzzinput"
)

const amodelBound = 60 * time.Second

var errAModel = errors.New("amodel: rejected")

type aopKind uint8

const (
	aResolve aopKind = iota
	aReject
	aCancel
	aAll
	aAllSettled
	aAny
	aRace
	aThen
	aAsCompleted
	aGoexitWaker
	aPost
	aAfterFunc
	aSpawnTask
	aOn
	aClose
	aRunAgain
	nAOps
)

// cbKind is what a loop callback or a continuation does.
type cbKind uint8

const (
	cbReturn cbKind = iota
	cbPanic
	cbGoexit
	cbCancel // cancels another future
	cbSettle // resolves a promise
	cbPost   // posts another callback (loop) / spawns nothing (Then)
	nCB
)

type aop struct {
	kind   aopKind
	a, b   int
	inputs []int
	cb     cbKind
	d      time.Duration
	stop   bool
}

const aPromises = 6

type aconfig struct {
	goroutines int
	ops        []aop
}

func decodeAModel(data []byte) aconfig {
	r := fuzzinput.New(data)
	var c aconfig
	c.goroutines = 1 + r.Intn(3)
	for r.More() && len(c.ops) < 64 {
		o := aop{kind: aopKind(r.Intn(int(nAOps)))}
		switch o.kind {
		case aResolve, aReject, aCancel, aGoexitWaker:
			o.a = int(r.Byte())
		case aAll, aAllSettled, aAny, aRace, aAsCompleted:
			n := r.Intn(5)
			for range n {
				o.inputs = append(o.inputs, r.Intn(aPromises))
			}
			o.stop = r.Intn(4) == 0 // AsCompleted: stop early
		case aThen, aOn:
			o.a = int(r.Byte())
			o.b = int(r.Byte())
			o.cb = cbKind(r.Intn(int(nCB)))
		case aPost:
			o.cb = cbKind(r.Intn(int(nCB)))
			o.b = int(r.Byte())
		case aAfterFunc:
			b := r.Byte()
			o.d = [...]time.Duration{0, time.Microsecond, 100 * time.Microsecond, time.Millisecond}[b&3]
			o.stop = b&4 != 0
			o.cb = cbKind(int(b>>3) % int(nCB))
		case aSpawnTask:
			o.a = int(r.Byte())
			o.cb = cbKind(r.Intn(int(nCB)))
		}
		c.ops = append(c.ops, o)
	}
	return c
}

// afut is a future the model tracks, with how to check it.
type afut struct {
	what   string
	wakes  atomic.Int32
	done   <-chan struct{}
	state  func() async.State
	result func() (any, error)
	cancel func() bool
	goexit func()
	int    *async.Future[int]
	// check reports what is wrong with its outcome, given the inputs' final
	// outcomes; it runs once everything has settled.
	check func(v any, err error) string
}

func trackA[T any](m *amodel, what string, f *async.Future[T], check func(v any, err error) string) *afut {
	a := &afut{what: what, done: f.Done(), state: f.State, cancel: f.Cancel, check: check}
	a.result = func() (any, error) { r, _ := f.Result(); return r.Value, r.Err }
	a.goexit = func() { f.Poll(async.WakerFunc(runtime.Goexit)) }
	if fi, ok := any(f).(*async.Future[int]); ok {
		a.int = fi
	}
	if f.Poll(async.WakerFunc(func() { a.wakes.Add(1) })).IsReady() {
		a.wakes.Add(1)
	}
	m.mu.Lock()
	m.futs = append(m.futs, a)
	m.mu.Unlock()
	return a
}

// callback is one loop callback the model counts.
type callback struct {
	what     string
	accepted bool // Post returned true / AfterFunc or On registered on an open loop
	stopped  atomic.Bool
	ran      atomic.Int32
}

type amodel struct {
	loop     *async.Loop
	promises [aPromises]*async.Promise[int]
	base     [aPromises]*afut
	closed   atomic.Bool // Close was called (or is being called)
	kick     chan struct{}

	mu     sync.Mutex
	futs   []*afut
	cbs    []*callback
	faults []string
	bg     sync.WaitGroup
}

func (m *amodel) fault(format string, args ...any) {
	m.mu.Lock()
	m.faults = append(m.faults, fmt.Sprintf(format, args...))
	m.mu.Unlock()
}

func (m *amodel) pick(i int) *afut {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.futs[i%len(m.futs)]
}

func (m *amodel) pickInt(i int) *afut {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range len(m.futs) {
		if a := m.futs[(i+k)%len(m.futs)]; a.int != nil {
			return a
		}
	}
	return nil
}

func (m *amodel) addCB(what string) *callback {
	c := &callback{what: what}
	m.mu.Lock()
	m.cbs = append(m.cbs, c)
	m.mu.Unlock()
	return c
}

func (m *amodel) signal() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// do performs a callback's or continuation's action.
func (m *amodel) do(k cbKind, b int) {
	switch k {
	case cbPanic:
		panic("amodel: callback panics")
	case cbGoexit:
		runtime.Goexit()
	case cbCancel:
		m.pick(b).cancel()
	case cbSettle:
		m.promises[b%aPromises].Resolve(b%aPromises + 1)
	case cbPost:
		m.post(cbReturn, 0)
	}
}

func (m *amodel) post(k cbKind, b int) {
	c := m.addCB("Post")
	c.accepted = m.loop.Post(func() {
		c.ran.Add(1)
		m.do(k, b)
	})
	m.signal()
}

// outcome is how a tracked future settled.
func outcome(a *afut) (v any, st async.State, err error) {
	v, err = a.result()
	return v, a.state(), err
}

func (m *amodel) inputs(idx []int) []*async.Future[int] {
	fs := make([]*async.Future[int], len(idx))
	for i, k := range idx {
		fs[i] = m.base[k].int
	}
	return fs
}

func (m *amodel) run(o aop) {
	switch o.kind {
	case aResolve:
		m.promises[o.a%aPromises].Resolve(o.a%aPromises + 1)
	case aReject:
		m.promises[o.a%aPromises].Reject(errAModel)
	case aCancel:
		m.pick(o.a).cancel()
	case aAll:
		ins := slices.Clone(o.inputs)
		trackA(m, "All", async.All(m.inputs(ins)...), func(v any, err error) string {
			var vals []int
			var errs []error
			for _, k := range ins {
				bv, _, berr := outcome(m.base[k])
				vals = append(vals, bv.(int))
				if berr != nil {
					errs = append(errs, berr)
				}
			}
			if err == nil {
				if len(errs) > 0 || !slices.Equal(v.([]int), vals) {
					return fmt.Sprintf("fulfilled with %v; inputs %v, errors %v", v, vals, errs)
				}
				return ""
			}
			if !slices.Contains(errs, err) {
				return fmt.Sprintf("rejected with %v, not an input's error %v", err, errs)
			}
			return ""
		})
	case aAllSettled:
		ins := slices.Clone(o.inputs)
		trackA(m, "AllSettled", async.AllSettled(m.inputs(ins)...), func(v any, err error) string {
			if err != nil {
				return fmt.Sprintf("rejected with %v", err)
			}
			rs := v.([]async.Result[int])
			for i, k := range ins {
				bv, _, berr := outcome(m.base[k])
				if rs[i].Value != bv.(int) || rs[i].Err != berr {
					return fmt.Sprintf("result %d = %+v, input settled with %v, %v", i, rs[i], bv, berr)
				}
			}
			return ""
		})
	case aAny:
		ins := slices.Clone(o.inputs)
		trackA(m, "Any", async.Any(m.inputs(ins)...), func(v any, err error) string {
			if len(ins) == 0 {
				if !errors.Is(err, async.ErrInvalidArgument) {
					return fmt.Sprintf("of nothing: %v, %v", v, err)
				}
				return ""
			}
			var vals []int
			var errs []error
			for _, k := range ins {
				bv, _, berr := outcome(m.base[k])
				if berr == nil {
					vals = append(vals, bv.(int))
				}
				errs = append(errs, berr)
			}
			if err == nil {
				if !slices.Contains(vals, v.(int)) {
					return fmt.Sprintf("fulfilled with %v, not an input's value %v", v, vals)
				}
				return ""
			}
			var ae *async.AggregateError
			if len(vals) > 0 || !errors.As(err, &ae) || !slices.Equal(ae.Errors, errs) {
				return fmt.Sprintf("rejected with %v; values %v, errors %v", err, vals, errs)
			}
			return ""
		})
	case aRace:
		ins := slices.Clone(o.inputs)
		trackA(m, "Race", async.Race(m.inputs(ins)...), func(v any, err error) string {
			if len(ins) == 0 {
				if !errors.Is(err, async.ErrInvalidArgument) {
					return fmt.Sprintf("of nothing: %v, %v", v, err)
				}
				return ""
			}
			for _, k := range ins {
				bv, _, berr := outcome(m.base[k])
				if berr == err && (err != nil || bv == v) {
					return ""
				}
			}
			return fmt.Sprintf("settled with %v, %v, like none of its inputs", v, err)
		})
	case aThen:
		in := m.pickInt(o.a)
		k, b := o.cb, o.b
		trackA(m, "Then", async.Then(in.int, func(v int) (int, error) {
			m.do(k, b)
			return v + 1000, nil
		}), func(v any, err error) string {
			iv, _, ierr := outcome(in)
			switch {
			case ierr != nil:
				if err != ierr {
					return fmt.Sprintf("input failed with %v, Then with %v", ierr, err)
				}
			case k == cbPanic:
				var pe *async.PanicError
				if !errors.As(err, &pe) {
					return fmt.Sprintf("continuation panicked, Then settled with %v", err)
				}
			case k == cbGoexit:
				if err != async.ErrGoexit {
					return fmt.Sprintf("continuation called Goexit, Then settled with %v", err)
				}
			case (k == cbCancel || k == cbSettle) && err == async.ErrGoexit:
				// Settling another future ran that future's continuations
				// inline, and one of them (a Goexit waker, or a Then that
				// calls Goexit) ended the goroutine through this one.
			default:
				if err != nil || v.(int) != iv.(int)+1000 {
					return fmt.Sprintf("Then settled with %v, %v; want %v", v, err, iv.(int)+1000)
				}
			}
			return ""
		})
	case aAsCompleted:
		ins := slices.Clone(o.inputs)
		stopEarly := o.stop
		m.bg.Add(1)
		go func() {
			defer m.bg.Done()
			seen := map[int]int{}
			for i, r := range async.AsCompleted(m.inputs(ins)...) {
				seen[i]++
				bv, st, berr := outcome(m.base[ins[i]])
				if st == async.Pending || r.Value != bv.(int) || r.Err != berr {
					m.fault("AsCompleted: input %d yielded %+v, settled with %v, %v (%v)", i, r, bv, berr, st)
				}
				if stopEarly {
					return
				}
			}
			if len(seen) != len(ins) {
				m.fault("AsCompleted yielded %d of %d inputs", len(seen), len(ins))
			}
			for i, n := range seen {
				if n != 1 {
					m.fault("AsCompleted yielded input %d %d times", i, n)
				}
			}
		}()
	case aGoexitWaker:
		m.pick(o.a).goexit()
	case aPost:
		m.post(o.cb, o.b)
	case aAfterFunc:
		c := m.addCB("AfterFunc")
		k := o.cb
		open := !m.closed.Load()
		stop := m.loop.AfterFunc(o.d, func() {
			c.ran.Add(1)
			m.do(k, 0)
		})
		c.accepted = open
		if o.stop {
			if stop() {
				c.stopped.Store(true)
			}
		}
		m.signal()
	case aSpawnTask:
		in := m.pickInt(o.a)
		c := m.addCB("Spawn task")
		c.accepted = !m.closed.Load()
		k := o.cb
		m.loop.Spawn(taskFunc(func(w async.Waker) bool {
			if !in.int.Poll(w).IsReady() {
				return false
			}
			c.ran.Add(1)
			m.do(k, 0)
			return true
		}))
		m.signal()
	case aOn:
		in := m.pickInt(o.a)
		c := m.addCB("On")
		c.accepted = !m.closed.Load()
		k, b := o.cb, o.b
		async.On(m.loop, in.int, func(int, error) {
			c.ran.Add(1)
			m.do(k, b)
		})
		m.signal()
	case aClose:
		m.closed.Store(true)
		m.loop.Close()
	case aRunAgain:
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		err, _ := runProtected(m.loop, ctx)
		if err != nil && err != async.ErrLoopRunning && err != async.ErrLoopClosed && err != context.DeadlineExceeded {
			m.fault("a second Run = %v", err)
		}
	}
}

type taskFunc func(async.Waker) bool

func (f taskFunc) Poll(w async.Waker) bool { return f(w) }

// runProtected runs l on a goroutine of its own and reports how Run ended:
// its error, or aborted if a callback panicked or called Goexit.
func runProtected(l *async.Loop, ctx context.Context) (err error, aborted bool) {
	done := make(chan struct{})
	aborted = true
	go func() {
		defer close(done)
		defer func() { _ = recover() }()
		err = l.Run(ctx)
		aborted = false
	}()
	<-done
	return err, aborted
}

func awithin(t testing.TB, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(amodelBound):
		var buf bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 2)
		t.Fatalf("amodel: %s did not finish within %v; goroutines:\n%s", what, amodelBound, buf.String())
	}
}

func runAModel(t *testing.T, data []byte) {
	c := decodeAModel(data)
	baseline := runtime.NumGoroutine()
	m := &amodel{loop: async.NewLoop(), kick: make(chan struct{}, 1)}
	for i := range m.promises {
		p, f := async.NewPromise[int]()
		m.promises[i] = p
		m.base[i] = trackA(m, fmt.Sprintf("promise %d", i), f, func(v any, err error) string {
			if err == nil && v.(int) != i+1 {
				return fmt.Sprintf("fulfilled with %v, want %d", v, i+1)
			}
			if err != nil && err != errAModel && !errors.Is(err, async.ErrCancelled) {
				return fmt.Sprintf("settled with %v", err)
			}
			return ""
		})
	}
	// The loop's runner: runs the loop whenever there is work, until the
	// loop is closed or, once told to finish, it has drained.
	final := make(chan struct{})
	runnerDone := make(chan struct{})
	go func() {
		defer close(runnerDone)
		finishing := false
		for {
			err, aborted := runProtected(m.loop, context.Background())
			if err == async.ErrLoopClosed {
				return
			}
			if aborted || err == async.ErrLoopRunning {
				continue
			}
			if err != nil {
				m.fault("Run = %v", err)
				return
			}
			if finishing {
				return
			}
			select {
			case <-m.kick:
			case <-final:
				finishing = true
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range c.goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(c.ops); i += c.goroutines {
				m.run(c.ops[i])
			}
		}()
	}
	awithin(t, "the operations", wg.Wait)
	// Settle what is left; continuations may settle more meanwhile.
	for i, p := range m.promises {
		awithin(t, "settling a promise", func() { p.Resolve(i + 1) })
	}
	awithin(t, "every future settling", func() {
		for n := 0; ; {
			m.mu.Lock()
			futs := m.futs[n:]
			m.mu.Unlock()
			if len(futs) == 0 {
				return
			}
			for _, a := range futs {
				<-a.done
				for a.wakes.Load() == 0 {
					runtime.Gosched()
				}
			}
			n += len(futs)
		}
	})
	close(final)
	awithin(t, "the loop draining", func() { <-runnerDone })
	awithin(t, "AsCompleted loops", m.bg.Wait)
	closed := m.closed.Load()
	m.mu.Lock()
	futs, cbs := m.futs, m.cbs
	m.mu.Unlock()
	for _, a := range futs {
		if w := a.wakes.Load(); w != 1 {
			m.fault("%s woken %d times", a.what, w)
		}
		v, err := a.result()
		switch st := a.state(); st {
		case async.Pending:
			m.fault("%s still pending", a.what)
		case async.Cancelled:
			if !errors.Is(err, async.ErrCancelled) {
				m.fault("%s cancelled with %v", a.what, err)
			}
		default:
			if msg := a.check(v, err); msg != "" {
				m.fault("%s: %s", a.what, msg)
			}
		}
	}
	for _, cb := range cbs {
		n := cb.ran.Load()
		switch {
		case n > 1:
			m.fault("%s ran %d times", cb.what, n)
		case cb.stopped.Load() && n != 0:
			m.fault("%s ran after its stop returned true", cb.what)
		case !closed && cb.accepted && !cb.stopped.Load() && n != 1:
			m.fault("%s never ran on a loop that was never closed", cb.what)
		}
	}
	m.loop.Close()
	awithin(t, "goroutines ending", func() {
		for runtime.NumGoroutine() > baseline+1 {
			time.Sleep(100 * time.Microsecond)
		}
	})
	if len(m.faults) > 0 {
		t.Fatalf("amodel (%d goroutines, %d ops, closed %v):\n%s", c.goroutines, len(c.ops), closed, strings.Join(m.faults, "\n"))
	}
}

// FuzzAsyncModel is the model-based test of package async; its seeds live
// in testdata/fuzz/FuzzAsyncModel.
func FuzzAsyncModel(f *testing.F) {
	f.Fuzz(runAModel)
}

func asyncModelSeeds() map[string][]byte {
	return map[string][]byte{
		// Defect 8's neighbourhood: AsCompleted over settled and pending inputs.
		"ascompleted-settled-and-pending": {0, byte(aResolve), 1, byte(aAsCompleted), 3, 1, 2, 1, 1, byte(aReject), 2},
		// Combinators over inputs settled by racing goroutines.
		"combinators-racing-settles": {2, byte(aAll), 3, 0, 1, 2, 0, byte(aAny), 2, 1, 2, 0, byte(aRace), 2, 0, 3, 0,
			byte(aAllSettled), 3, 0, 1, 2, 0, byte(aResolve), 0, byte(aReject), 1, byte(aCancel), 2, byte(aResolve), 3},
		// Then continuations that panic, Goexit, cancel and settle.
		"then-panic-goexit-cancel-settle": {1, byte(aThen), 0, 0, byte(cbPanic), byte(aThen), 1, 0, byte(cbGoexit),
			byte(aThen), 2, 3, byte(cbCancel), byte(aThen), 3, 4, byte(cbSettle), byte(aResolve), 0, byte(aResolve), 1,
			byte(aResolve), 2, byte(aResolve), 3},
		// A Goexit waker among the wakers of a future.
		"goexit-waker": {0, byte(aThen), 0, 0, byte(cbReturn), byte(aGoexitWaker), 0, byte(aAll), 1, 0, 0, byte(aResolve), 0},
		// Loop callbacks that panic, Goexit and post, a timer stopped, a
		// second Run, On and a task, then Close.
		"loop-callbacks-close": {2, byte(aPost), byte(cbPanic), 0, byte(aPost), byte(cbGoexit), 0, byte(aPost), byte(cbPost), 0,
			byte(aAfterFunc), 1 | 4, byte(aAfterFunc), 2 | byte(cbPanic)<<3, byte(aOn), 0, 0, byte(cbGoexit),
			byte(aSpawnTask), 1, byte(cbPanic), byte(aRunAgain), byte(aResolve), 0, byte(aResolve), 1, byte(aClose),
			byte(aPost), 0, 0},
		// The loop, never closed: everything registered runs exactly once.
		"loop-open": {1, byte(aOn), 0, 0, byte(cbSettle), byte(aSpawnTask), 2, byte(cbReturn), byte(aAfterFunc), 3,
			byte(aPost), byte(cbPost), 0, byte(aResolve), 2},
	}
}

func TestAsyncModelSeedsAreValid(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzAsyncModel")
	for name, data := range asyncModelSeeds() {
		if len(decodeAModel(data).ops) == 0 {
			t.Errorf("seed %s decodes to no operation", name)
		}
		fuzzinput.CheckSeedFile(t, dir, name, data)
	}
}

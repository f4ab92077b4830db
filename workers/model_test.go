package workers_test

// A model-based test of the pool through its public API alone, as a fuzz
// target. The input bytes decode into a pool configuration and a list of
// operations — Spawn and SpawnAll of functions that return, fail, panic,
// call runtime.Goexit, wait for their context, ignore it, wait for another
// task or spawn one, fail once then succeed; with retries (WithRetry) and
// delays (WithDelay), SpawnAllSettled; Cancel, CancelAll, Resize, parent
// cancels, timeouts,
// Then continuations that panic, call Goexit, spawn, cancel or wait; wakers
// that call Goexit; Shutdown and Close — which several goroutines run at
// once. Then the model stops every function that still blocks, ends the
// pool, and checks:
//
//   - every future settles, exactly once (one wake per registered waker),
//     with an outcome its function allows;
//   - the pool ends at rest, and its Stats add up: Submitted = Completed +
//     Failed + Cancelled + TimedOut, Rejected is exactly the number of
//     refused calls, Late and Panicked stay within their bounds;
//   - no goroutine is left behind;
//   - nothing hangs: every wait has a generous bound, past which the test
//     fails with a dump of every goroutine instead of hanging.
//
// The seed corpus in testdata/fuzz/FuzzPoolModel runs in every go test,
// the cases of issue 9 among them; go test -fuzz=FuzzPoolModel explores.
// TestPoolModelSeedsAreValid rewrites the hand-written seeds when run with
// MODEL_WRITE_SEEDS=1.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
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
	"github.com/velalang/runtime/workers"
)

// modelBound is how long any wait of the model may take before the test
// fails with a goroutine dump: far beyond what an input needs, even under
// the race detector on a loaded machine.
const modelBound = 60 * time.Second

var (
	errModel     = errors.New("model: function failed")
	errModelStop = errors.New("model: stopped by the model")
	errModelWhy  = errors.New("model: parent cancelled")
)

// fnKind is what a task's function does.
type fnKind uint8

const (
	kValue         fnKind = iota // returns its value
	kFail                        // returns errModel
	kPanic                       // panics with errModel
	kGoexit                      // calls runtime.Goexit
	kBlockCtx                    // waits for its context to end, returns ctx.Err()
	kIgnoreCtx                   // ignores its context, returns its value when the model stops
	kAwait                       // waits for another tracked future, then returns its value
	kSpawn                       // spawns another task, then returns its value
	kErrBeforeDone               // spins on ctx.Err(), then checks that Done is closed
	kGoexitLate                  // waits for its context to end, then calls runtime.Goexit
	nKinds
)

var kindNames = [...]string{"value", "fail", "panic", "goexit", "blockctx", "ignorectx", "await", "spawn", "errbeforedone", "goexitlate"}

func (k fnKind) String() string { return kindNames[k] }

// canFulfil reports whether a function of kind k may return a value.
func (k fnKind) canFulfil() bool {
	return k == kValue || k == kIgnoreCtx || k == kAwait || k == kSpawn
}

// spec is a task to spawn, decoded from the input before anything runs.
type spec struct {
	kind    fnKind
	timeout time.Duration
	run     bool // the timeout is WithRunTimeout (from the start), not WithTimeout
	parent  int  // -1: context.Background
	named   bool
	target  int   // kAwait: which tracked future to wait for
	inner   *spec // kSpawn: the task it spawns

	// From the spec's second byte, present when the first has its top bit.
	attempts int           // WithRetry's MaxAttempts; 0: no WithRetry
	delay    time.Duration // WithDelay
	flaky    bool          // kValue: the first call fails with errModel
	settled  bool          // the first spec of a batch: SpawnAllSettled instead of SpawnAll
}

var (
	modelAttempts = [...]int{0, 2, 3, 5}
	modelDelays   = [...]time.Duration{0, 10 * time.Microsecond, 200 * time.Microsecond, 2 * time.Millisecond}
	modelRetry    = workers.RetryPolicy{Backoff: 10 * time.Microsecond, MaxBackoff: 100 * time.Microsecond}
)

var modelTimeouts = [...]time.Duration{0, 0, 0, 0, time.Microsecond, 20 * time.Microsecond, 200 * time.Microsecond, 2 * time.Millisecond}

const modelParents = 3

func readSpec(r *fuzzinput.Reader, depth int) *spec {
	s := &spec{kind: fnKind(r.Intn(int(nKinds))), parent: -1}
	b := r.Byte()
	s.timeout = modelTimeouts[b&7]
	if p := int(b>>3) & 3; p < modelParents {
		s.parent = p
	}
	s.named = b&0x20 != 0
	s.run = b&0x40 != 0 && s.timeout > 0
	if b&0x80 != 0 {
		e := r.Byte()
		s.attempts = modelAttempts[e&3]
		s.delay = modelDelays[(e>>2)&3]
		s.flaky = e&0x10 != 0
		s.settled = e&0x20 != 0
	}
	switch s.kind {
	case kAwait:
		s.target = int(r.Byte())
	case kSpawn:
		if depth > 0 {
			s.kind = kValue
		} else {
			s.inner = readSpec(r, depth+1)
		}
	}
	return s
}

// opKind is one operation of the model.
type opKind uint8

const (
	opSpawn opKind = iota
	opSpawnAll
	opCancel
	opCancelAll
	opResize
	opCancelParent
	opThen
	opGoexitWaker
	opShutdown
	opClose
	opBadOption
	opSpawn2 // Spawn again: makes plain spawns the most common operation
	nOps
)

type op struct {
	kind   opKind
	spec   *spec   // opSpawn
	batch  []*spec // opSpawnAll
	index  int     // which tracked future, parent, size or continuation kind
	index2 int
	d      time.Duration
}

// modelConfig is the decoded input: a pool, how many goroutines run the
// operations, the operations, and how the pool ends.
type modelConfig struct {
	cfg        workers.Config
	goroutines int
	ending     int // 0: Shutdown; 1: Close, then Shutdown; 2: Shutdown with a short deadline, then Shutdown
	ops        []op
}

const modelMaxOps = 64

func decodeModel(data []byte) modelConfig {
	r := fuzzinput.New(data)
	var mc modelConfig
	b := r.Byte()
	mc.cfg.MaxWorkers = 1 + int(b&3)
	if b&4 != 0 {
		mc.cfg.QueueSize = 2 + int(b>>3)
	}
	b = r.Byte()
	if b&1 != 0 {
		mc.cfg.IdleTimeout = time.Millisecond
	}
	mc.cfg.LockOSThread = b&0x3e == 0x3e // rare: it costs a thread per worker
	mc.goroutines = 1 + int(b>>6)%3
	mc.ending = int(b>>1) % 3
	for r.More() && len(mc.ops) < modelMaxOps {
		o := op{kind: opKind(r.Intn(int(nOps)))}
		switch o.kind {
		case opSpawn, opSpawn2:
			o.kind = opSpawn
			o.spec = readSpec(r, 0)
		case opSpawnAll:
			n := r.Intn(21)
			if n == 20 {
				n = 257 + r.Intn(200) // a big batch: many claims from one entry
			}
			for i := range n {
				if i < 8 {
					o.batch = append(o.batch, readSpec(r, 1))
				} else {
					o.batch = append(o.batch, &spec{kind: kValue})
				}
			}
			if n > 0 {
				// Options are per call: every task of a batch shares the
				// first one's parent, timeout and name.
				for _, s := range o.batch[1:] {
					s.parent, s.timeout, s.run, s.named = o.batch[0].parent, o.batch[0].timeout, o.batch[0].run, o.batch[0].named
					s.attempts, s.delay = o.batch[0].attempts, o.batch[0].delay
				}
			}
		case opCancel, opGoexitWaker:
			o.index = int(r.Byte())
		case opResize:
			o.index = 1 + r.Intn(4)
		case opCancelParent:
			o.index = r.Intn(modelParents)
		case opThen:
			o.index = int(r.Byte())
			o.index2 = r.Intn(6)
			o.spec = readSpec(r, 1)
		case opShutdown:
			o.d = [...]time.Duration{0, 100 * time.Microsecond, 5 * time.Millisecond, time.Hour}[r.Intn(4)]
		}
		mc.ops = append(mc.ops, o)
	}
	return mc
}

// tracked is a future the model watches.
type tracked struct {
	what    string
	poolFut bool // returned by Spawn or SpawnAll: a refusal counts in Rejected
	n       int  // functions behind it: 1 for Spawn, len(fns) for SpawnAll
	specs   []*spec
	values  []int
	then    bool
	batch   bool // a SpawnAll's future, of a []int
	settled bool // a SpawnAllSettled's future, of a []async.Result[int]

	wakes  atomic.Int32
	done   <-chan struct{}
	state  func() async.State
	result func() (any, error)
	cancel func() bool
	goexit func() // registers a waker that calls runtime.Goexit
	int    *async.Future[int]
}

type model struct {
	pool    *workers.Pool
	stop    chan struct{} // closed by the model: blocking functions and continuations return
	parents [modelParents]context.Context
	cancels [modelParents]context.CancelCauseFunc

	mu      sync.Mutex
	futs    []*tracked
	faults  []string
	nextVal atomic.Int64
	running atomic.Int64 // functions started and not yet ended
	bg      sync.WaitGroup
}

func (m *model) fault(format string, args ...any) {
	m.mu.Lock()
	m.faults = append(m.faults, fmt.Sprintf(format, args...))
	m.mu.Unlock()
}

func (m *model) pick(i int) *tracked {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.futs) == 0 {
		return nil
	}
	return m.futs[i%len(m.futs)]
}

func (m *model) track(tr *tracked) {
	if tr.int != nil {
		f := tr.int
		tr.done, tr.state, tr.cancel = f.Done(), f.State, f.Cancel
		tr.result = func() (any, error) { r, _ := f.Result(); return r.Value, r.Err }
		tr.goexit = func() { f.Poll(async.WakerFunc(runtime.Goexit)) }
		if f.Poll(async.WakerFunc(func() { tr.wakes.Add(1) })).IsReady() {
			tr.wakes.Add(1)
		}
	}
	m.mu.Lock()
	m.futs = append(m.futs, tr)
	m.mu.Unlock()
}

func trackSlice(tr *tracked, f *async.Future[[]int]) {
	tr.done, tr.state, tr.cancel = f.Done(), f.State, f.Cancel
	tr.result = func() (any, error) { r, _ := f.Result(); return r.Value, r.Err }
	tr.goexit = func() { f.Poll(async.WakerFunc(runtime.Goexit)) }
	if f.Poll(async.WakerFunc(func() { tr.wakes.Add(1) })).IsReady() {
		tr.wakes.Add(1)
	}
}

func trackAll(tr *tracked, f *async.Future[[]async.Result[int]]) {
	tr.done, tr.state, tr.cancel = f.Done(), f.State, f.Cancel
	tr.result = func() (any, error) { r, _ := f.Result(); return r.Value, r.Err }
	tr.goexit = func() { f.Poll(async.WakerFunc(runtime.Goexit)) }
	if f.Poll(async.WakerFunc(func() { tr.wakes.Add(1) })).IsReady() {
		tr.wakes.Add(1)
	}
}

func (m *model) ctxFor(s *spec) context.Context {
	if s.parent < 0 {
		return context.Background()
	}
	return m.parents[s.parent]
}

func (m *model) options(s *spec) []workers.Option {
	opts := []workers.Option{workers.OnPool(m.pool)}
	switch {
	case s.run:
		opts = append(opts, workers.WithRunTimeout(s.timeout))
	case s.timeout > 0:
		opts = append(opts, workers.WithTimeout(s.timeout))
	}
	if s.named {
		opts = append(opts, workers.WithName("model"))
	}
	if s.attempts > 0 {
		r := modelRetry
		r.MaxAttempts = s.attempts
		opts = append(opts, workers.WithRetry(r))
	}
	if s.delay > 0 {
		opts = append(opts, workers.WithDelay(s.delay))
	}
	return opts
}

// fn is the function of a task of spec s that returns v.
func (m *model) fn(s *spec, v int) func(context.Context) (int, error) {
	var target *tracked
	if s.kind == kAwait {
		target = m.pick(s.target)
	}
	var calls atomic.Int32
	return func(ctx context.Context) (int, error) {
		m.running.Add(1)
		defer m.running.Add(-1)
		switch s.kind {
		case kValue:
			if s.flaky && calls.Add(1) == 1 {
				return 0, errModel
			}
			return v, nil
		case kFail:
			return 0, errModel
		case kPanic:
			panic(errModel)
		case kGoexit:
			runtime.Goexit()
		case kBlockCtx:
			select {
			case <-ctx.Done():
				if ctx.Err() == nil || context.Cause(ctx) == nil {
					m.fault("task context: Done() closed, Err() = %v, Cause = %v", ctx.Err(), context.Cause(ctx))
				}
				return 0, ctx.Err()
			case <-m.stop:
				return 0, errModelStop
			}
		case kIgnoreCtx:
			<-m.stop
			return v, nil
		case kAwait:
			if target == nil {
				return v, nil
			}
			select {
			case <-target.done:
				return v, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-m.stop:
				return 0, errModelStop
			}
		case kSpawn:
			m.spawn(s.inner, "inner")
			return v, nil
		case kErrBeforeDone:
			done := ctx.Done()
			for ctx.Err() == nil {
				select {
				case <-m.stop:
					return 0, errModelStop
				default:
					runtime.Gosched()
				}
			}
			select {
			case <-done:
			default:
				m.fault("task context: Err() = %v while Done() is open", ctx.Err())
			}
			return 0, ctx.Err()
		case kGoexitLate:
			select {
			case <-ctx.Done():
			case <-m.stop:
			}
			runtime.Goexit()
		}
		return v, nil
	}
}

func (m *model) spawn(s *spec, what string) *tracked {
	v := int(m.nextVal.Add(1))
	f := workers.Spawn(m.ctxFor(s), m.fn(s, v), m.options(s)...)
	tr := &tracked{what: what + " " + s.kind.String(), poolFut: true, n: 1, specs: []*spec{s}, values: []int{v}, int: f}
	m.track(tr)
	return tr
}

func (m *model) spawnAll(specs []*spec) {
	fns := make([]func(context.Context) (int, error), len(specs))
	values := make([]int, len(specs))
	for i, s := range specs {
		values[i] = int(m.nextVal.Add(1))
		fns[i] = m.fn(s, values[i])
	}
	ctx, opts := context.Background(), []workers.Option{workers.OnPool(m.pool)}
	if len(specs) > 0 {
		ctx, opts = m.ctxFor(specs[0]), m.options(specs[0])
	}
	tr := &tracked{what: fmt.Sprintf("SpawnAll of %d", len(specs)), poolFut: true, batch: true, n: len(specs), specs: specs, values: values}
	if len(specs) > 0 && specs[0].settled {
		tr.what, tr.batch, tr.settled = fmt.Sprintf("SpawnAllSettled of %d", len(specs)), false, true
		trackAll(tr, workers.SpawnAllSettled(ctx, fns, opts...))
	} else {
		trackSlice(tr, workers.SpawnAll(ctx, fns, opts...))
	}
	m.mu.Lock()
	m.futs = append(m.futs, tr)
	m.mu.Unlock()
}

func (m *model) then(o op) {
	in := m.pick(o.index)
	if in == nil || in.int == nil {
		return
	}
	other := m.pick(o.index + 1)
	f := async.Then(in.int, func(v int) (int, error) {
		switch o.index2 {
		case 1:
			panic("model: continuation panics")
		case 2:
			runtime.Goexit()
		case 3:
			m.spawn(o.spec, "spawned by a continuation")
		case 4:
			if other != nil {
				other.cancel()
			}
		case 5:
			if other != nil {
				select {
				case <-other.done:
				case <-m.stop:
				}
			}
		}
		return v, nil
	})
	m.track(&tracked{what: "Then", then: true, int: f})
}

func (m *model) run(o op) {
	switch o.kind {
	case opSpawn:
		m.spawn(o.spec, "Spawn")
	case opSpawnAll:
		m.spawnAll(o.batch)
	case opCancel:
		if tr := m.pick(o.index); tr != nil {
			tr.cancel()
		}
	case opCancelAll:
		if n := m.pool.CancelAll(); n < 0 {
			m.fault("CancelAll() = %d", n)
		}
	case opResize:
		if err := m.pool.Resize(o.index); err != nil && !errors.Is(err, workers.ErrPoolClosed) {
			m.fault("Resize(%d) = %v", o.index, err)
		}
	case opCancelParent:
		m.cancels[o.index](errModelWhy)
	case opThen:
		m.then(o)
	case opGoexitWaker:
		if tr := m.pick(o.index); tr != nil {
			tr.goexit()
		}
	case opShutdown:
		ctx, cancel := context.WithTimeout(context.Background(), o.d)
		m.bg.Add(1)
		go func() {
			defer m.bg.Done()
			defer cancel()
			if err := m.pool.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				m.fault("Shutdown = %v", err)
			}
		}()
	case opClose:
		m.pool.Close()
	case opBadOption:
		f := workers.Spawn(context.Background(), func(context.Context) (int, error) { return 0, nil },
			workers.OnPool(m.pool), workers.WithTimeout(-1))
		m.track(&tracked{what: "Spawn with a bad option", poolFut: true, n: 1, specs: []*spec{{kind: kValue}}, values: []int{0}, int: f})
	}
}

// within runs fn on a goroutine of its own (so that a Goexit in fn ends
// only that goroutine) and waits for it; past modelBound it fails the test
// with every goroutine's stack.
func within(t testing.TB, what string, fn func()) {
	t.Helper()
	if slow := os.Getenv("MODEL_SLOW_LOG"); slow != "" {
		// Diagnostics for long fuzzing runs: which step of which input was
		// slow.
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > time.Second {
				if f, err := os.OpenFile(slow, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
					fmt.Fprintf(f, "%v %s (%s)\n", d, what, t.Name())
					f.Close()
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(modelBound):
		var buf bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 2)
		t.Fatalf("model: %s did not finish within %v; goroutines:\n%s", what, modelBound, buf.String())
	}
}

// checkOutcome reports what is wrong with how tr settled, or "".
func checkOutcome(tr *tracked) string {
	if w := tr.wakes.Load(); w != 1 {
		return fmt.Sprintf("woken %d times, want once", w)
	}
	st := tr.state()
	v, err := tr.result()
	switch st {
	case async.Pending:
		return "still pending"
	case async.Cancelled:
		if !errors.Is(err, async.ErrCancelled) {
			return fmt.Sprintf("cancelled with %v, which does not match ErrCancelled", err)
		}
		return ""
	case async.Fulfilled:
		if tr.then {
			return ""
		}
		if tr.settled {
			rs := v.([]async.Result[int])
			if len(rs) != len(tr.specs) {
				return fmt.Sprintf("fulfilled with %d results for %d functions", len(rs), len(tr.specs))
			}
			for i, r := range rs {
				s := tr.specs[i]
				switch {
				case r.Err == nil:
					if !s.kind.canFulfil() || r.Value != tr.values[i] {
						return fmt.Sprintf("result %d is %v from a %v function that returns %d", i, r.Value, s.kind, tr.values[i])
					}
				case errors.Is(r.Err, async.ErrCancelled), allowedError(s, r.Err):
				default:
					return fmt.Sprintf("result %d is %v (%T), which its %v function does not allow", i, r.Err, r.Err, s.kind)
				}
			}
			return ""
		}
		if !tr.batch {
			if !tr.specs[0].kind.canFulfil() || v.(int) != tr.values[0] {
				return fmt.Sprintf("fulfilled with %v from a %v function that returns %d", v, tr.specs[0].kind, tr.values[0])
			}
			return ""
		}
		if !slices.Equal(v.([]int), tr.values) {
			return "fulfilled with the wrong values"
		}
		for _, s := range tr.specs {
			if !s.kind.canFulfil() {
				return fmt.Sprintf("fulfilled though a function is %v", s.kind)
			}
		}
		return ""
	}
	// Rejected.
	if err == nil {
		return "rejected with a nil error"
	}
	if tr.then {
		return ""
	}
	if errors.Is(err, workers.ErrPoolClosed) || errors.Is(err, workers.ErrQueueFull) || errors.Is(err, workers.ErrInvalidArgument) {
		return ""
	}
	for _, s := range tr.specs {
		if allowedError(s, err) {
			return ""
		}
	}
	return fmt.Sprintf("rejected with %v (%T), which none of its functions allows", err, err)
}

func allowedError(s *spec, err error) bool {
	var te *workers.TimeoutError
	if errors.As(err, &te) {
		return s.timeout > 0 && te.Timeout == s.timeout && te.Run == s.run
	}
	// A batch wraps its tasks' errors (in a *TaskError): errors.Is and
	// errors.As see through.
	var pe *workers.PanicError
	panicked := errors.As(err, &pe)
	switch s.kind {
	case kValue:
		return s.flaky && errors.Is(err, errModel) && !panicked
	case kFail:
		return errors.Is(err, errModel) && !panicked
	case kPanic:
		return panicked && pe.Value == errModel
	case kGoexit, kGoexitLate:
		return errors.Is(err, async.ErrGoexit)
	case kBlockCtx, kAwait, kErrBeforeDone:
		return errors.Is(err, errModelStop)
	}
	return false
}

// runModel runs one input and fails t if the pool misbehaved.
func runModel(t *testing.T, data []byte) {
	if slow := os.Getenv("MODEL_SLOW_LOG"); slow != "" {
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > time.Second {
				if f, err := os.OpenFile(slow, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
					fmt.Fprintf(f, "%v input %q\n", d, data)
					f.Close()
				}
			}
		}()
	}
	mc := decodeModel(data)
	baseline := runtime.NumGoroutine()
	p, err := workers.NewPool(mc.cfg)
	if err != nil {
		t.Fatalf("NewPool(%+v): %v", mc.cfg, err)
	}
	m := &model{pool: p, stop: make(chan struct{})}
	for i := range m.parents {
		m.parents[i], m.cancels[i] = context.WithCancelCause(context.Background())
	}
	// Several goroutines run the operations, each its share in order.
	opsDone := make(chan struct{})
	var wg sync.WaitGroup
	for g := range mc.goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(mc.ops); i += mc.goroutines {
				m.run(mc.ops[i])
			}
		}()
	}
	go func() { wg.Wait(); close(opsDone) }()
	// Operations may wait for functions that only the model's stop ends: give
	// them a moment, then stop.
	select {
	case <-opsDone:
	case <-time.After(20 * time.Millisecond):
	}
	close(m.stop)
	within(t, "the operations", func() { <-opsDone })
	within(t, "ending the pool", func() {
		switch mc.ending {
		case 1:
			p.Close()
		case 2:
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			defer cancel()
			_ = p.Shutdown(ctx)
		}
	})
	within(t, "Shutdown", func() {
		if err := p.Shutdown(context.Background()); err != nil {
			m.fault("final Shutdown = %v", err)
		}
	})
	within(t, "the Shutdown calls of the operations", m.bg.Wait)
	within(t, "every function returning", func() {
		for m.running.Load() != 0 {
			time.Sleep(100 * time.Microsecond)
		}
	})
	// Every future settles; continuations may track new ones meanwhile.
	checked := 0
	for {
		m.mu.Lock()
		futs := m.futs[checked:]
		m.mu.Unlock()
		if len(futs) == 0 {
			break
		}
		for _, tr := range futs {
			within(t, "settling "+tr.what, func() { <-tr.done })
			// Wakers run after waiters are released: wait for them too.
			within(t, "waking "+tr.what, func() {
				for tr.wakes.Load() == 0 {
					runtime.Gosched()
				}
			})
		}
		checked += len(futs)
	}
	for i := range m.cancels {
		m.cancels[i](nil)
	}
	var refused uint64
	var minSubmitted, maxSubmitted uint64
	m.mu.Lock()
	futs := m.futs
	m.mu.Unlock()
	for _, tr := range futs {
		if msg := checkOutcome(tr); msg != "" {
			m.fault("%s: %s", tr.what, msg)
		}
		if !tr.poolFut {
			continue
		}
		_, err := tr.result()
		if tr.state() == async.Rejected && (errors.Is(err, workers.ErrPoolClosed) || errors.Is(err, workers.ErrQueueFull) || errors.Is(err, workers.ErrInvalidArgument)) {
			refused++
			if tr.batch {
				maxSubmitted += uint64(tr.n) // a batch refused while it was being submitted
			}
			continue
		}
		minSubmitted += uint64(tr.n)
		maxSubmitted += uint64(tr.n)
	}
	s := p.Stats()
	if s.Workers != 0 || s.Active != 0 || s.Queued != 0 || s.Abandoned != 0 || s.Idle != 0 {
		m.fault("pool not at rest after Shutdown: %+v", s)
	}
	if ended := s.Completed + s.Failed + s.Cancelled + s.TimedOut; ended != s.Submitted {
		m.fault("Completed+Failed+Cancelled+TimedOut = %d, Submitted = %d", ended, s.Submitted)
	}
	if s.Rejected != refused {
		m.fault("Rejected = %d, but %d calls were refused", s.Rejected, refused)
	}
	if s.Submitted < minSubmitted || s.Submitted > maxSubmitted {
		m.fault("Submitted = %d, want between %d and %d", s.Submitted, minSubmitted, maxSubmitted)
	}
	if s.Panicked > s.Failed || s.Late > s.Cancelled+s.TimedOut {
		m.fault("Panicked = %d > Failed = %d, or Late = %d > Cancelled+TimedOut = %d", s.Panicked, s.Failed, s.Late, s.Cancelled+s.TimedOut)
	}
	within(t, "goroutines ending", func() {
		for runtime.NumGoroutine() > baseline+1 { // +1: within's own
			time.Sleep(100 * time.Microsecond)
		}
	})
	if len(m.faults) > 0 {
		t.Fatalf("model (config %+v, %d goroutines, ending %d, %d ops), stats %+v:\n%s",
			mc.cfg, mc.goroutines, mc.ending, len(mc.ops), s, strings.Join(m.faults, "\n"))
	}
}

// FuzzPoolModel is the model-based test of the pool; its seeds live in
// testdata/fuzz/FuzzPoolModel.
func FuzzPoolModel(f *testing.F) {
	f.Fuzz(runModel)
}

// modelSeeds are hand-written inputs, among them the cases of issue 9.
// Each is a config (2 bytes) followed by operations, written with the
// helpers below so that a reader can follow them.
func modelSeeds() map[string][]byte {
	spawn := func(kind fnKind, spec byte) []byte { return []byte{byte(opSpawn), byte(kind), spec} }
	// batch is a SpawnAll of the given kinds (at most 8 are read from the
	// input; a big batch fills up with value functions). Its options are
	// those of the first spec byte, spec0.
	batch := func(n byte, spec0 byte, kinds ...fnKind) []byte {
		b := []byte{byte(opSpawnAll), n}
		if n == 20 {
			b = append(b, 250) // 257 + 250%200 = 307 functions
		}
		for i, k := range kinds {
			if i == 0 {
				b = append(b, byte(k), spec0)
			} else {
				b = append(b, byte(k), 0)
			}
		}
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	const (
		oneWorker  = 0x00
		twoWorkers = 0x01
		fourWorker = 0x03
	)
	goexitWaker := func(i byte) []byte { return []byte{byte(opGoexitWaker), i} }
	// retried is a Spawn whose spec has the second byte ext: attempts (bits
	// 0-1), delay (2-3), flaky (0x10).
	retried := func(kind fnKind, spec, ext byte) []byte { return []byte{byte(opSpawn), byte(kind), spec | 0x80, ext} }
	parentSpec := byte(0 << 3) // parent 0, no timeout
	return map[string][]byte{
		// Defect 1: a batch of more than 256 whose first task fails.
		"defect1-big-batch-fails-early": cat([]byte{twoWorkers, 0}, batch(20, 0, kFail, kValue, kValue, kValue, kValue, kValue, kValue, kValue), spawn(kValue, 0)),
		// Defect 2: a Goexit waker on a task whose parent ends while queued.
		"defect2-goexit-parent-ended-task": cat([]byte{oneWorker, 0}, spawn(kIgnoreCtx, 0), spawn(kValue, parentSpec),
			goexitWaker(1), []byte{byte(opCancelParent), 0}),
		// Defect 3: the task's context reports Err only once Done is closed.
		"defect3-err-before-done": cat([]byte{twoWorkers, 0}, spawn(kErrBeforeDone, 0), spawn(kErrBeforeDone, 0),
			[]byte{byte(opCancel), 0, byte(opCancelAll)}),
		// Defect 4: CancelAll and Close with a Goexit waker on a queued task.
		"defect4-bulk-cancel-goexit": cat([]byte{oneWorker, 0}, spawn(kBlockCtx, 0), spawn(kValue, 0), spawn(kValue, 0),
			spawn(kValue, 0), goexitWaker(1), []byte{byte(opCancelAll)}, spawn(kValue, 0), goexitWaker(4),
			[]byte{byte(opClose)}),
		// Defect 5: a bad option is counted in Rejected.
		"defect5-bad-option": cat([]byte{oneWorker, 0}, []byte{byte(opBadOption)}, spawn(kValue, 0)),
		// Defect 6: a Goexit after the future was cancelled counts as Late.
		"defect6-late-goexit": cat([]byte{oneWorker, 0}, spawn(kGoexitLate, 0), []byte{byte(opCancel), 0}),
		// Defect 7: a continuation that waits for a queued task.
		"defect7-continuation-awaits-queued": cat([]byte{twoWorkers, 0}, spawn(kValue, 0), spawn(kIgnoreCtx, 0),
			spawn(kValue, 0), []byte{byte(opThen), 0, 5, byte(kValue), 0}),
		// Timeouts, parents, Resize and Shutdown then Close, from 3 goroutines.
		"mix-timeouts-resize-shutdown-close": cat([]byte{fourWorker | 4 | 8<<3, 0x80 | 2}, spawn(kBlockCtx, 5), spawn(kIgnoreCtx, 6),
			spawn(kAwait, 0), []byte{0}, batch(5, 0, kValue, kBlockCtx, kValue, kPanic, kValue), []byte{byte(opResize), 0},
			spawn(kSpawn, 1), []byte{byte(kGoexit), 0}, []byte{byte(opThen), 1, 2, 0, 0}, []byte{byte(opThen), 2, 3, 0, 0},
			[]byte{byte(opShutdown), 1}, spawn(kValue, 0), []byte{byte(opCancelParent), 1}, []byte{byte(opClose)},
			spawn(kValue, 0), []byte{byte(opResize), 3}),
		// Run timeouts (WithRunTimeout) on Spawn and on a batch, beside a
		// schedule-to-close one.
		"mix-run-timeouts": cat([]byte{twoWorkers, 0x40}, spawn(kBlockCtx, 0x40|5), spawn(kIgnoreCtx, 0x40|4),
			batch(4, 0x40|6, kValue, kBlockCtx, kValue, kIgnoreCtx), spawn(kBlockCtx, 6), []byte{byte(opCancelAll)}),
		// Retries and delays: a flaky task retried to success, a failing
		// one with a timeout across its retries, a retried overrun, a
		// delayed settled batch with a flaky task, a delayed task cancelled
		// while due, CancelAll during the waits.
		"mix-retries-delays": cat([]byte{twoWorkers, 0}, retried(kValue, 0, 2|1<<2|0x10), retried(kFail, 5, 3),
			retried(kBlockCtx, 0x40|6, 2), []byte{byte(opSpawnAll), 4, byte(kValue), 0x80, 0x20 | 0x10 | 1<<2 | 1,
				byte(kFail), 0, byte(kBlockCtx), 0, byte(kValue), 0}, retried(kValue, 0, 3<<2), []byte{byte(opCancel), 4},
			spawn(kValue, 0), []byte{byte(opCancelAll)}, retried(kFail, 0, 2)),
		// A settled batch whose parent ends while a task waits to retry,
		// then Close.
		"mix-settled-parent-close": cat([]byte{oneWorker, 0}, []byte{byte(opSpawnAll), 3, byte(kValue), 0x80 | parentSpec, 0x20 | 0x10 | 2,
			byte(kPanic), 0, byte(kIgnoreCtx), 0}, []byte{byte(opCancelParent), 0}, retried(kValue, 0, 1<<2|0x10|1), []byte{byte(opClose)}),
		// Idle workers, a batch cancelled by its parent, Then that cancels.
		"mix-idle-batch-parent": cat([]byte{twoWorkers, 1 | 0x40}, batch(8, parentSpec, kBlockCtx, kValue, kValue, kValue, kValue, kValue, kValue, kValue),
			[]byte{byte(opThen), 0, 4, 0, 0}, spawn(kFail, 0), spawn(kGoexit, 0), []byte{byte(opCancelParent), 0},
			[]byte{byte(opShutdown), 3}),
	}
}

// TestPoolModelSeedsAreValid keeps the hand-written seeds in
// testdata/fuzz/FuzzPoolModel (rewritten with MODEL_WRITE_SEEDS=1) and
// checks that they decode into what they are meant to exercise.
func TestPoolModelSeedsAreValid(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzPoolModel")
	for name, data := range modelSeeds() {
		mc := decodeModel(data)
		if len(mc.ops) == 0 {
			t.Errorf("seed %s decodes to no operation", name)
		}
		fuzzinput.CheckSeedFile(t, dir, name, data)
	}
}

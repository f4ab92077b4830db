package jsloop_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/dop251/goja"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/jsloop"
	"github.com/velalang/runtime/workers"
)

func TestRegisterRefusesBadInput(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	fn := func(context.Context, []any) (any, error) { return nil, nil }
	for name, err := range map[string]error{
		"empty name": r.Register("", fn),
		"nil fn":     r.Register("x", nil),
		"name taken": r.Register("echo", fn),
	} {
		if !errors.Is(err, workers.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
}

func TestRunScriptBadInput(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	//lint:ignore SA1012 a nil context is the bad input under test
	if _, err := r.RunScript(nil, "x.js", "1"); !errors.Is(err, workers.ErrInvalidArgument) {
		t.Errorf("nil ctx: %v", err)
	}
	_, err := r.RunScript(context.Background(), "bad.js", "let = ;")
	wantJSError(t, err, "SyntaxError", "")
	// A module that does not compile breaks only the calls of it.
	r2 := newRuntime(t, jsloop.Options{Modules: map[string]string{"m": "exports.f = (", "ok": "exports.f = () => 'fine'"}}, nil)
	v := runOK(t, r2, `Promise.all([spawnJS('m', 'f').catch(e => e.name), spawnJS('m', 'f').catch(e => e.name), spawnJS('ok', 'f')])`)
	if got := fmt.Sprint(v); got != "[SyntaxError SyntaxError fine]" {
		t.Errorf("a module that does not compile: %s", got)
	}
}

func TestCompletionValue(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	if v := runOK(t, r, "1 + 2"); v != int64(3) {
		t.Errorf("completion %v (%T), want 3", v, v)
	}
	if v := runOK(t, r, "Promise.resolve('done')"); v != "done" {
		t.Errorf("promise completion %v, want done", v)
	}
	if v := runOK(t, r, "(async () => (await spawn('echo', 'a', 2))[0])()"); v != "a" {
		t.Errorf("async completion %v, want a", v)
	}
	_, err := run(t, r, "Promise.reject(new RangeError('nope'))")
	wantJSError(t, err, "RangeError", "nope")
	_, err = run(t, r, "new Promise(() => {})")
	if !errors.Is(err, jsloop.ErrUnsettled) {
		t.Errorf("pending completion: %v, want ErrUnsettled", err)
	}
}

func TestNodeOrdering(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	v := runOK(t, r, `
		const order = [];
		setTimeout(() => order.push('timeout 5a'), 5);
		setTimeout(() => order.push('timeout 5b'), 5);
		setTimeout(() => {
			order.push('timeout 0');
			queueMicrotask(() => order.push('micro in timeout'));
		}, 0);
		setTimeout(() => order.push('timeout 0b'), 0);
		setTimeout(() => order.push('timeout 5c'), 5);
		queueMicrotask(() => order.push('micro 1'));
		Promise.resolve().then(() => order.push('promise 1')).then(() => order.push('promise 2'));
		queueMicrotask(() => order.push('micro 2'));
		order.push('sync');
		new Promise(res => setTimeout(res, 20)).then(() => order.join(', '))`)
	want := "sync, micro 1, promise 1, micro 2, promise 2, timeout 0, micro in timeout, timeout 0b, timeout 5a, timeout 5b, timeout 5c"
	if v != want {
		t.Errorf("order:\n got %v\nwant %s", v, want)
	}
}

func TestEqualDelaysFireInCreationOrder(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	v := runOK(t, r, `
		const got = [];
		for (let i = 0; i < 200; i++) setTimeout(() => got.push(i), 3);
		new Promise(res => setTimeout(res, 10)).then(() => got.every((v, i) => v === i) && got.length)`)
	if v != int64(200) {
		t.Errorf("200 timers of equal delay: %v, want them all in creation order", v)
	}
}

func TestIntervalAndClear(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	v := runOK(t, r, `
		let n = 0;
		const cancelled = setTimeout(() => { n = -100; }, 1);
		clearTimeout(cancelled);
		clearTimeout(undefined); clearTimeout(12345);
		new Promise(res => {
			const id = setInterval((a, b) => { n += a + b; if (n >= 9) { clearInterval(id); res(n); } }, 1, 1, 2);
		})`)
	if v != int64(9) {
		t.Errorf("interval: %v, want 9", v)
	}
	_, err := run(t, r, "setTimeout('not a function', 1)")
	wantJSError(t, err, "TypeError", "callback")
}

func TestUncaughtException(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	_, err := r.RunScript(context.Background(), "thrower.js", "function f() { throw new TypeError('bad thing') }\nf()")
	je := wantJSError(t, err, "TypeError", "bad thing")
	if !strings.Contains(je.Stack, "thrower.js") {
		t.Errorf("stack %q does not name the script", je.Stack)
	}
	_, err = run(t, r, "throw 'a string'")
	if je := wantJSError(t, err, "", "a string"); je.Value != "a string" {
		t.Errorf("thrown value %v", je.Value)
	}
}

func TestTimerCallbackThrows(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	start := time.Now()
	_, err := run(t, r, `
		setTimeout(() => { throw new Error('from a timer') }, 1);
		setTimeout(() => {}, 5000);`)
	wantJSError(t, err, "Error", "from a timer")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("RunScript waited %v for a timer after the failure", d)
	}
}

func TestUnhandledRejection(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	_, err := run(t, r, `
		Promise.reject(new Error('nobody listens'));
		setTimeout(() => {}, 5000);`)
	wantJSError(t, err, "Error", "nobody listens")

	// Handled within the same turn: not an error.
	v := runOK(t, r, `
		const p = Promise.reject(new Error('late handler'));
		queueMicrotask(() => p.catch(() => {}));
		'fine'`)
	if v != "fine" {
		t.Errorf("got %v", v)
	}
	// A rejection from a microtask that throws.
	_, err = run(t, r, "queueMicrotask(() => { throw new SyntaxError('in a microtask') })")
	wantJSError(t, err, "SyntaxError", "in a microtask")
}

func TestWaitsForWorkStartedLater(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	v := runOK(t, r, `
		let result = 'not yet';
		new Promise(res => setTimeout(res, 20))
			.then(() => spawn('sleep', 30))
			.then(() => spawn('echo', 'late'))
			.then(v => { result = v[0]; });
		globalThis.check = () => result;
		'sync part done'`)
	if v != "sync part done" {
		t.Fatalf("completion %v", v)
	}
	if v := runOK(t, r, "check()"); v != "late" {
		t.Errorf("work started from .then: %v, want late", v)
	}
}

func TestTenThousandSpawns(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	v := runOK(t, r, `
		const ps = [];
		for (let i = 0; i < 10000; i++) ps.push(spawn('echo', i, 'x' + i));
		Promise.all(ps).then(rs => rs.every((r, i) => r[0] === i && r[1] === 'x' + i) && rs.length)`)
	if v != int64(10000) {
		t.Errorf("10000 spawns: %v", v)
	}
}

func TestSpawnRejections(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	v := runOK(t, r, `
		const out = {};
		const name = p => p.then(v => 'ok ' + v, e => e.name + ': ' + e.message + (e.goStack ? ' +goStack' : ''));
		Promise.all([
			name(spawn('fail')), name(spawn('boom')), name(spawn('nope')),
		])`)
	got := v.([]any)
	want := []string{"GoError: disk on fire", "PanicError: kaboom +goStack", `TypeError: spawn: no Go function registered as "nope"`}
	defer func() {
		must(t, r.Register("wrapped", func(context.Context, []any) (any, error) {
			return nil, fmt.Errorf("reading config: %w", fs.ErrNotExist)
		}))
		v := runOK(t, r, `spawn('wrapped').catch(e => [e.name, e.message, e.cause.name, e.cause.message])`)
		if got := fmt.Sprint(v); got != "[GoError reading config: file does not exist GoError file does not exist]" {
			t.Errorf("wrapped Go error: %s", got)
		}
	}()
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rejection %d: %q, want %q", i, got[i], want[i])
		}
	}
}

func TestSpawnWithTimeoutEndsGoContext(t *testing.T) {
	p := newProbe()
	r := newRuntime(t, jsloop.Options{}, p)
	v := runOK(t, r, `spawn.with({timeout: 20, name: 'waiter'}, 'block').catch(e => e.name + ': ' + e.message)`)
	if s, _ := v.(string); !strings.HasPrefix(s, "TimeoutError: ") || !strings.Contains(s, "waiter") {
		t.Errorf("got %v, want a TimeoutError naming the task", v)
	}
	if cause, ok := p.endedIfStarted(); ok && !errors.Is(cause, workers.ErrTimeout) {
		t.Errorf("Go context cause %v, want ErrTimeout", cause)
	}
	// 0 means no timeout.
	if v := runOK(t, r, `spawn.with({timeout: 0}, 'sleep', 5)`); v != "slept" {
		t.Errorf("timeout 0: %v", v)
	}
	_, err := run(t, r, `spawn.with({timeout: -1}, 'echo')`)
	wantJSError(t, err, "RangeError", "timeout")
}

func TestSpawnWithSignal(t *testing.T) {
	p := newProbe()
	r := newRuntime(t, jsloop.Options{}, p)
	start := time.Now()
	v := runOK(t, r, `
		const ac = new AbortController();
		const p = spawn.with({signal: ac.signal}, 'block');
		setTimeout(() => ac.abort(), 10);
		p.catch(e => [e.name, e === ac.signal.reason, ac.signal.aborted])`)
	if got := v.([]any); got[0] != "AbortError" || got[1] != true || got[2] != true {
		t.Errorf("abort: %v", got)
	}
	if cause, ok := p.endedIfStarted(); ok && !errors.Is(cause, context.Canceled) {
		t.Errorf("Go context cause %v", cause)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("abort took %v", d)
	}
	// Already aborted: the function never runs.
	var ran bool
	must(t, r.Register("mark", func(context.Context, []any) (any, error) { ran = true; return nil, nil }))
	v = runOK(t, r, `spawn.with({signal: AbortSignal.abort(new Error('mine'))}, 'mark').catch(e => e.message)`)
	if v != "mine" || ran {
		t.Errorf("pre-aborted signal: %v, ran %v", v, ran)
	}
	// AbortSignal.timeout rejects with a TimeoutError.
	v = runOK(t, r, `spawn.with({signal: AbortSignal.timeout(10)}, 'block').catch(e => e.name)`)
	if v != "TimeoutError" {
		t.Errorf("AbortSignal.timeout: %v", v)
	}
	p.endedIfStarted()
	_, err := run(t, r, `spawn.with({signal: {}}, 'echo')`)
	wantJSError(t, err, "TypeError", "AbortSignal")
}

func TestAbortControllerAPI(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	v := runOK(t, r, `
		const ac = new AbortController();
		const seen = [];
		ac.signal.addEventListener('abort', e => seen.push('listener ' + e.type));
		ac.signal.onabort = () => seen.push('onabort');
		const before = ac.signal.aborted;
		ac.abort('why');
		ac.abort('again');
		let thrown;
		try { ac.signal.throwIfAborted() } catch (e) { thrown = e }
		let illegal;
		try { new AbortSignal() } catch (e) { illegal = e.name }
		[before, ac.signal.aborted, ac.signal.reason, thrown, seen.join(','), illegal,
		 new AbortController().signal.reason === undefined, String(AbortSignal.abort().reason.name)]`)
	got := v.([]any)
	want := []any{false, true, "why", "why", "onabort,listener abort", "TypeError", true, "AbortError"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("item %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func TestAbortSignalTimeoutDoesNotKeepAlive(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	start := time.Now()
	v := runOK(t, r, `{ const s = AbortSignal.timeout(10000); 'done' }`)
	if v != "done" || time.Since(start) > 5*time.Second {
		t.Errorf("got %v after %v", v, time.Since(start))
	}
	// It still fires while other work keeps the loop alive.
	v = runOK(t, r, `{
		const s = AbortSignal.timeout(5);
		new Promise(res => setTimeout(() => res([s.aborted, s.reason && s.reason.name]), 50)) }`)
	if got := v.([]any); got[0] != true || got[1] != "TimeoutError" {
		t.Errorf("AbortSignal.timeout: %v", got)
	}
}

func TestContextCancelEndsEveryGoContext(t *testing.T) {
	const n = 8
	p := newProbe()
	pool, err := workers.NewPool(workers.Config{MaxWorkers: n})
	must(t, err)
	r := newRuntime(t, jsloop.Options{Pool: pool}, p)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel once every spawn of the Promise.all runs.
		for range n {
			<-p.started
		}
		cancel()
	}()
	_, err = r.RunScript(ctx, "all.js", `
		const ps = [];
		for (let i = 0; i < 8; i++) ps.push(spawn('block'));
		Promise.all(ps)`)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("RunScript: %v, want context.Canceled", err)
	}
	for range n {
		if cause := <-p.ended; !errors.Is(cause, context.Canceled) {
			t.Errorf("a Go context ended with cause %v", cause)
		}
	}
}

func TestContextCancelInterruptsEndlessLoop(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.RunScript(ctx, "spin.js", "for (;;) {}")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RunScript: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	// The same in a timer callback; then the runtime is usable again.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := r.RunScript(ctx2, "spin2.js", "setTimeout(() => { for (;;) {} }, 1)"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RunScript: %v", err)
	}
	if v := runOK(t, r, "'again'"); v != "again" {
		t.Errorf("after an interrupt: %v", v)
	}
}

func TestCallbacksOfAnEndedRunNeverRun(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	runOK(t, r, "globalThis.leaked = 0")
	_, err := r.RunScript(ctx, "old.js", `
		spawn('sleep', 60).then(() => { leaked++ });
		setTimeout(() => { leaked++ }, 60);`)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RunScript: %v", err)
	}
	v := runOK(t, r, "new Promise(res => setTimeout(() => res(leaked), 120))")
	if v != int64(0) {
		t.Errorf("callbacks of the ended run ran %v times", v)
	}
}

func TestSecondRunScriptWhileRunning(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	inside := make(chan struct{})
	release := make(chan struct{})
	must(t, r.Register("hold", func(context.Context, []any) (any, error) {
		close(inside)
		<-release
		return nil, nil
	}))
	done := make(chan error, 1)
	go func() { _, err := run(t, r, "spawn('hold')"); done <- err }()
	<-inside
	_, err := r.RunScript(context.Background(), "second.js", "1")
	close(release)
	if !errors.Is(err, async.ErrLoopRunning) {
		t.Errorf("second RunScript: %v, want ErrLoopRunning", err)
	}
	if err := <-done; err != nil {
		t.Errorf("first RunScript: %v", err)
	}
}

func TestGoPanicOnTheVM(t *testing.T) {
	r := newRuntime(t, jsloop.Options{Setup: func(vm *goja.Runtime) {
		_ = vm.Set("explode", func() { panic("native boom") })
	}}, nil)
	_, err := run(t, r, "setTimeout(() => explode(), 1)")
	var pe *async.PanicError
	if !errors.As(err, &pe) || pe.Value != "native boom" || len(pe.Stack) == 0 {
		t.Fatalf("RunScript: %v, want a *PanicError with the value and a stack", err)
	}
	if _, err := run(t, r, "1"); !errors.Is(err, jsloop.ErrBroken) {
		t.Errorf("after a panic: %v, want ErrBroken", err)
	}
}

func TestCloseDuringRunScript(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	done := make(chan error, 1)
	must(t, r.Register("closer", func(context.Context, []any) (any, error) {
		r.Close()
		return nil, nil
	}))
	go func() { _, err := run(t, r, "spawn('closer'); for (;;) {}"); done <- err }()
	if err := <-done; !errors.Is(err, async.ErrLoopClosed) {
		t.Errorf("RunScript: %v, want ErrLoopClosed", err)
	}
	if _, err := run(t, r, "1"); !errors.Is(err, async.ErrLoopClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestAwaitKeepsRunScriptAlive(t *testing.T) {
	p, f := async.NewPromise[int]()
	q, g := async.NewPromise[string]()
	var r *jsloop.Runtime
	r = newRuntime(t, jsloop.Options{Setup: func(vm *goja.Runtime) {
		_ = vm.Set("later", func() goja.Value { return jsloop.Await(r, f) })
		_ = vm.Set("failing", func() goja.Value { return jsloop.Await(r, g) })
	}}, nil)
	go func() {
		time.Sleep(20 * time.Millisecond) // a producer that takes a while; not synchronisation
		p.Resolve(42)
		q.Reject(errors.New("no string"))
	}()
	v := runOK(t, r, "Promise.all([later(), failing().catch(e => e.name + ': ' + e.message)])")
	if got := v.([]any); got[0] != int64(42) || got[1] != "GoError: no string" {
		t.Errorf("Await: %v", got)
	}
}

func TestSetupPanicIsAnError(t *testing.T) {
	_, err := jsloop.New(jsloop.Options{Setup: func(*goja.Runtime) { panic("setup") }})
	var pe *async.PanicError
	if !errors.As(err, &pe) {
		t.Errorf("New: %v, want a *PanicError", err)
	}
}

func TestPanicInACallbackPostedToTheLoop(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	must(t, r.Register("postBomb", func(context.Context, []any) (any, error) {
		r.Loop().Post(func() { panic("posted boom") })
		return nil, nil
	}))
	_, err := run(t, r, "spawn('postBomb').then(() => new Promise(res => setTimeout(res, 5000)))")
	var pe *async.PanicError
	if !errors.As(err, &pe) || pe.Value != "posted boom" {
		t.Fatalf("RunScript: %v, want a *PanicError", err)
	}
	if _, err := run(t, r, "1"); !errors.Is(err, jsloop.ErrBroken) {
		t.Errorf("after the panic: %v, want ErrBroken", err)
	}
}

package jsloop_test

// Hostile values: whatever JavaScript throws or returns (getters that loop
// or throw, proxies, null-prototype objects, odd names), RunScript returns a
// *JSError or a value, never a Go panic and never ErrBroken, and it returns
// promptly once its ctx ends.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/jsloop"
	"github.com/velalang/runtime/workers"
)

// runNoPanic runs src with ctx, turning a Go panic out of RunScript into a
// test failure.
func runNoPanic(t *testing.T, r *jsloop.Runtime, ctx context.Context, src string) (v any, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			buf := make([]byte, 64<<10)
			t.Fatalf("RunScript panicked: %v\n%s", p, buf[:runtime.Stack(buf, false)])
		}
	}()
	return r.RunScript(ctx, "hostile.js", src)
}

// TestHostileThrownValues: each thrown or rejected value becomes a
// *JSError, and the Runtime stays usable.
func TestHostileThrownValues(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	for _, src := range []string{
		`throw Object.create(null)`,
		`throw {toString(){ throw 1 }}`,
		`const e = new Error('x'); e.name = Object.create(null); throw e`,
		`throw Object.defineProperty(new Error('x'), 'name', {get(){ throw new Error('no name') }})`,
		`throw Object.defineProperty(new Error('x'), 'message', {get(){ throw 1 }})`,
		`throw Object.defineProperty(new Error('x'), 'stack', {get(){ throw 1 }})`,
		`throw new Proxy({}, {get(){ throw 1 }})`,
		`throw new Proxy({}, {get(){ throw 1 }, ownKeys(){ throw 2 }, getPrototypeOf(){ throw 3 }})`,
		`throw new Proxy(new Error('x'), {getPrototypeOf(){ for (;;) {} }})`,
		`Promise.reject(new Proxy({}, {get(){ throw 1 }}))`,
		`Promise.reject(Object.create(null))`,
		`setTimeout(() => { throw Object.create(null) }, 1)`,
		`queueMicrotask(() => { throw {toString(){ throw 1 }} })`,
		`throw Symbol('s')`,
		`spawn('echo').then(() => { throw new Proxy({}, {get(){ throw 1 }}) })`,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := runNoPanic(t, r, ctx, src)
		cancel()
		var je *jsloop.JSError
		if !errors.As(err, &je) {
			t.Errorf("%s: %v (%T), want a *JSError", src, err, err)
		}
		if v, err := runNoPanic(t, r, context.Background(), "'still usable'"); err != nil || v != "still usable" {
			t.Fatalf("after %s: %v, %v (the Runtime must not be broken)", src, v, err)
		}
	}
}

// TestHostileCompletionValues: a completion value (or a promise's value or
// reason) whose getters throw gives a *JSError; one whose getters loop
// gives ctx.Err() promptly once ctx ends.
func TestHostileCompletionValues(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	for _, src := range []string{
		`({get x(){ throw new Error('getter') }})`,
		`Promise.resolve({get x(){ throw new Error('getter') }})`,
		`Promise.reject({get message(){ throw 1 }, get name(){ throw 2 }})`,
	} {
		_, err := runNoPanic(t, r, context.Background(), src)
		var je *jsloop.JSError
		if !errors.As(err, &je) {
			t.Errorf("%s: %v (%T), want a *JSError", src, err, err)
		}
	}
	// A value or a *JSError, as goja exports it; never a panic.
	if _, err := runNoPanic(t, r, context.Background(), `new Proxy({}, {ownKeys(){ throw 1 }})`); err != nil && !errors.As(err, new(*jsloop.JSError)) {
		t.Errorf("a proxy whose ownKeys throws: %v", err)
	}
	for _, src := range []string{
		`({get x(){ for (;;) {} }})`,
		`Promise.resolve({get x(){ for (;;) {} }})`,
		`Promise.reject({get name(){ for (;;) {} }})`,
		`throw {get message(){ for (;;) {} }}`,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		done := make(chan error, 1)
		go func() {
			_, err := r.RunScript(ctx, "loop.js", src)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: %v, want DeadlineExceeded", src, err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("%s: returned after %v", src, d)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: RunScript did not return 20 s after its ctx ended", src)
		}
		cancel()
	}
	if v, err := runNoPanic(t, r, context.Background(), "'usable'"); v != "usable" || err != nil {
		t.Fatalf("after the hostile values: %v, %v", v, err)
	}
}

// TestSpawnJSInterruptedWhileSerialising: when the ctx or Close ends the run
// while spawnJS clones its arguments (here, a getter that never returns),
// RunScript returns ctx.Err() or an error wrapping ErrLoopClosed, not a
// *JSError about the interrupt.
func TestSpawnJSInterruptedWhileSerialising(t *testing.T) {
	src := `spawnJS('m', 'f', {get x(){ for (;;) {} }})`
	opts := jsloop.Options{Modules: map[string]string{"m": `exports.f = x => x`}}
	r := newRuntime(t, opts, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := runNoPanic(t, r, ctx, src); !errors.Is(err, context.DeadlineExceeded) || errors.As(err, new(*jsloop.JSError)) {
		t.Errorf("ctx ended while serialising: %v (%T), want ctx.Err()", err, err)
	}
	r2 := newRuntime(t, opts, nil)
	time.AfterFunc(50*time.Millisecond, r2.Close)
	if _, err := runNoPanic(t, r2, context.Background(), src); !errors.Is(err, async.ErrLoopClosed) || errors.As(err, new(*jsloop.JSError)) {
		t.Errorf("Close while serialising: %v (%T), want ErrLoopClosed", err, err)
	}
}

// TestSpawnRefusesVMBoundValues: spawn rejects functions, symbols, BigInts
// and objects holding them with a DataCloneError; the Go function never
// sees a live JavaScript value. Plain data still crosses, numbers as int64
// or float64.
func TestSpawnRefusesVMBoundValues(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	for _, arg := range []string{`() => 1`, `Symbol('s')`, `10n`, `{f(){}}`, `[1, () => 2]`, `{deep: {s: Symbol()}}`} {
		v := runOK(t, r, `spawn('echo', `+arg+`).then(() => 'ran', e => e.name)`)
		if v != "DataCloneError" {
			t.Errorf("spawn('echo', %s): %v, want a DataCloneError rejection", arg, v)
		}
	}
	v := runOK(t, r, `spawn('echo', 1, 2.5, 'a', true, null, undefined, [1, {b: 'c'}], {n: 3})`)
	want := `[1 2.5 a true <nil> <nil> [1 map[b:c]] map[n:3]]`
	if got := fmt.Sprint(v); got != want {
		t.Errorf("plain values crossed as %s, want %s", got, want)
	}
}

// TestCallStackLimit: deep recursion throws a RangeError that JavaScript
// can catch, as in Node, at a depth in the order of Node's.
func TestCallStackLimit(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	v := runOK(t, r, `
		let depth = 0;
		function f() { depth++; return f() + 1 }
		let caught;
		try { f() } catch (e) { caught = e }
		[caught instanceof RangeError, caught.message, depth]`)
	got := v.([]any)
	if got[0] != true || got[1] != "Maximum call stack size exceeded" {
		t.Fatalf("recursion: %v, want a caught RangeError", got)
	}
	if d := got[2].(int64); d < 5000 || d > 20000 {
		t.Errorf("depth at the RangeError %d, want the order of Node's ~10,000", d)
	}
	_, err := run(t, r, `function g() { return g() + 1 } g()`)
	wantJSError(t, err, "RangeError", "Maximum call stack size exceeded")
}

// TestNativeRecursionIsCut: recursion through native functions (map, a
// getter, JSON.stringify's toJSON) ends with a RangeError quickly, and the
// ctx cuts it within a second; in a spawnJS worker too, which is then free.
func TestNativeRecursionIsCut(t *testing.T) {
	opts := jsloop.Options{Modules: map[string]string{"m": `exports.f = function f() { return [0].map(f) }`}}
	r := newRuntime(t, opts, nil)
	for _, src := range []string{
		`function f() { return [0].map(f) } f()`,
		`const o = {get x() { return o.x }}; o.x`,
		`function g() { return JSON.stringify({toJSON() { return g() }}) } g()`,
		`spawnJS('m', 'f')`,
	} {
		start := time.Now()
		_, err := run(t, r, src)
		var je *jsloop.JSError
		if !errors.As(err, &je) || je.Name != "RangeError" {
			t.Errorf("%s: %v, want a RangeError", src, err)
		}
		t.Logf("%s: %v after %v", src, err, time.Since(start))
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %v", src, d)
		}
	}
	// The ctx cuts native recursion that catches its RangeErrors and goes on.
	for _, src := range []string{
		`function f() { try { return [0].map(f) } catch (e) { return [0].map(f) } } f()`,
		`spawnJS('m2', 'f')`,
	} {
		r2 := newRuntime(t, jsloop.Options{Modules: map[string]string{
			"m2": `exports.f = function f() { try { return [0].map(f) } catch (e) { return [0].map(f) } }; exports.ok = () => 'free'`,
		}, JSPool: onePool(t)}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		_, err := r2.RunScript(ctx, "cut.js", src)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want DeadlineExceeded", src, err)
		}
		t.Logf("%s: cut after %v", src, time.Since(start))
		// Measured about 0.25 s here; the bound leaves room for -race on a
		// loaded machine.
		if d := time.Since(start); d > 2200*time.Millisecond {
			t.Errorf("%s: RunScript returned %v after start, more than 2 s after its ctx ended", src, d)
		}
		// The worker is free again within a bounded time.
		if v := runOK(t, r2, `spawnJS('m2', 'ok')`); v != "free" {
			t.Errorf("after the cut: %v", v)
		}
	}
}

// onePool is a spawnJS pool of one worker, closed with the test.
func onePool(t *testing.T) *workers.Pool {
	p, err := workers.NewPool(workers.Config{Name: "one", MaxWorkers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// TestPanicCountedByThePool: a Go function that panics rejects its promise
// with a PanicError, and the pool counts it in Stats.Panicked (the panic
// goes through the pool's own recovery).
func TestPanicCountedByThePool(t *testing.T) {
	pool, err := workers.NewPool(workers.Config{Name: "panics"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	r := newRuntime(t, jsloop.Options{Pool: pool}, nil)
	v := runOK(t, r, `Promise.all([spawn('boom').catch(e => e.name), spawn('boom').catch(e => e.message)])`)
	if got := fmt.Sprint(v); got != "[PanicError kaboom]" {
		t.Errorf("spawn of a panicking function: %s", got)
	}
	if s := pool.Stats(); s.Panicked != 2 {
		t.Errorf("Stats.Panicked = %d, want 2", s.Panicked)
	}
}

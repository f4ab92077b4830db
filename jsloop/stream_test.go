package jsloop_test

// Streams: spawn.stream over Go functions registered with RegisterStream,
// Iterate over a Go receiver, for await (lowered by esbuild), break, errors
// and backpressure.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dop251/goja"

	"github.com/velalang/runtime/channel"
	"github.com/velalang/runtime/jsloop"
	"github.com/velalang/runtime/workers"
)

// streamRuntime registers Go streams: "count"(n) sends 0..n-1; "failAfter"(n)
// sends n values then fails; "panicAfter"(n) panics after n values;
// "forever" sends until its ctx ends, counting into sent and reporting its
// ctx's cause on ended; "sent" returns sent.
func streamRuntime(t *testing.T, opts jsloop.Options) (*jsloop.Runtime, *atomic.Int64, chan error) {
	t.Helper()
	r := newRuntime(t, opts, nil)
	var sent atomic.Int64
	ended := make(chan error, 16)
	must(t, r.RegisterStream("count", func(ctx context.Context, args []any, out *channel.Sender[any]) error {
		for i := range toInt(args[0]) {
			if err := out.Send(ctx, i); err != nil {
				return err
			}
		}
		return nil
	}))
	must(t, r.RegisterStream("failAfter", func(ctx context.Context, args []any, out *channel.Sender[any]) error {
		for i := range toInt(args[0]) {
			if err := out.Send(ctx, i); err != nil {
				return err
			}
		}
		return errors.New("producer failed")
	}))
	must(t, r.RegisterStream("panicAfter", func(ctx context.Context, args []any, out *channel.Sender[any]) error {
		for i := range toInt(args[0]) {
			if err := out.Send(ctx, i); err != nil {
				return err
			}
		}
		panic("producer panicked")
	}))
	must(t, r.RegisterStream("forever", func(ctx context.Context, _ []any, out *channel.Sender[any]) error {
		defer func() { ended <- context.Cause(ctx) }()
		for i := 0; ; i++ {
			if err := out.Send(ctx, i); err != nil {
				return err
			}
			sent.Add(1)
		}
	}))
	must(t, r.RegisterStream("silent", func(ctx context.Context, _ []any, out *channel.Sender[any]) error {
		<-ctx.Done()
		ended <- context.Cause(ctx)
		return ctx.Err()
	}))
	must(t, r.Register("sent", func(context.Context, []any) (any, error) { return sent.Load(), nil }))
	return r, &sent, ended
}

func TestSpawnStreamForAwait(t *testing.T) {
	r, _, _ := streamRuntime(t, jsloop.Options{})
	v := runOK(t, r, `
		(async () => {
			let sum = 0, n = 0;
			for await (const v of spawn.stream('count', 1000)) { sum += v; n++ }
			return [n, sum];
		})()`)
	if got := fmt.Sprint(v); got != "[1000 499500]" {
		t.Errorf("for await over count(1000): %s", got)
	}
	// An async generator of the script itself, lowered the same way.
	v = runOK(t, r, `
		async function* twice(it) { for await (const v of it) { yield v; yield v } }
		(async () => { const out = []; for await (const v of twice(spawn.stream('count', 3))) out.push(v); return out.join(',') })()`)
	if v != "0,0,1,1,2,2" {
		t.Errorf("async generator over a stream: %v", v)
	}
}

func TestSpawnStreamBackpressure(t *testing.T) {
	r, _, ended := streamRuntime(t, jsloop.Options{})
	v := runOK(t, r, `
		(async () => {
			for await (const v of spawn.stream.with({ buffer: 4 }, 'forever')) {
				await new Promise(res => setTimeout(res, 50)); // the producer fills the buffer meanwhile
				return spawn('sent');
			}
		})()`)
	// One value taken, four in the buffer, one blocked in Send: at most 5
	// Sends returned.
	if n := v.(int64); n < 4 || n > 6 {
		t.Errorf("the producer sent %d values while JavaScript held one, want about 1 + buffer (4)", n)
	}
	if cause := <-ended; !errors.Is(cause, channel.ErrClosed) {
		t.Errorf("producer's ctx cause after return: %v, want channel.ErrClosed", cause)
	}
}

func TestSpawnStreamBreakAndThrowEndTheProducer(t *testing.T) {
	r, _, ended := streamRuntime(t, jsloop.Options{})
	for _, src := range []string{
		`(async () => { for await (const v of spawn.stream('forever')) { if (v === 10) break } return 'broke' })()`,
		`(async () => { try { for await (const v of spawn.stream('forever')) { if (v === 3) throw new Error('stop') } } catch (e) { return e.message } })()`,
	} {
		runOK(t, r, src)
		select {
		case cause := <-ended:
			if !errors.Is(cause, channel.ErrClosed) {
				t.Errorf("%s: producer's ctx cause %v, want channel.ErrClosed", src, cause)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the producer did not end", src)
		}
	}
	// A next() waiting on a silent producer settles with done at once when
	// return() is called.
	start := time.Now()
	v := runOK(t, r, `
		(async () => {
			const it = spawn.stream('silent')[Symbol.asyncIterator]();
			const pending = it.next();
			setTimeout(() => it.return(), 10);
			const r = await pending;
			return r.done;
		})()`)
	if v != true {
		t.Errorf("a waiting next() after return(): done = %v", v)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the waiting next() settled after %v", d)
	}
	if cause := <-ended; !errors.Is(cause, channel.ErrClosed) {
		t.Errorf("silent producer's cause %v, want channel.ErrClosed", cause)
	}
}

func TestSpawnStreamErrors(t *testing.T) {
	r, _, _ := streamRuntime(t, jsloop.Options{})
	v := runOK(t, r, `
		async function collect(it) {
			const got = [];
			try { for await (const v of it) got.push(v) } catch (e) { got.push(e.name + ': ' + e.message) }
			return got.join(',');
		}
		(async () => [
			await collect(spawn.stream('failAfter', 2)),
			await collect(spawn.stream('panicAfter', 1)),
			await collect(spawn.stream('nope')),
			await collect(spawn.stream('count', () => 1)),
			await collect(spawn.stream.with({ timeout: 30 }, 'silent')),
			await collect(spawn.stream.with({ signal: AbortSignal.abort() }, 'count', 3)),
		].join(' | '))()`)
	got := fmt.Sprint(v)
	for _, want := range []string{
		"0,1,GoError: producer failed",
		"0,PanicError: producer panicked",
		`TypeError: spawn.stream: no Go stream function registered as "nope"`,
		"DataCloneError: spawn: a function cannot be cloned",
		"TimeoutError",
		"AbortError: This operation was aborted",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("stream errors %q lack %q", got, want)
		}
	}
	if _, err := run(t, r, `spawn.stream.with({ buffer: -1 }, 'count', 1)`); err == nil {
		t.Error("a negative buffer was accepted")
	}
}

// TestAbandonedStreamDoesNotHang: a stream nobody iterates does not keep
// RunScript alive; its producer's context ends with the run.
func TestAbandonedStreamDoesNotHang(t *testing.T) {
	r, sent, ended := streamRuntime(t, jsloop.Options{})
	v := runOK(t, r, `const s = spawn.stream('forever'); 'returned'`)
	if v != "returned" {
		t.Errorf("completion %v", v)
	}
	// The producer may never have started (a task still queued when the
	// run ends never runs); if it did, its ctx ends.
	if sent.Load() > 0 {
		if cause := <-ended; cause == nil {
			t.Error("the abandoned producer's ctx did not end")
		}
	}
}

func TestRegisterStreamBadInput(t *testing.T) {
	r, _, _ := streamRuntime(t, jsloop.Options{})
	fn := func(context.Context, []any, *channel.Sender[any]) error { return nil }
	for name, err := range map[string]error{
		"empty name": r.RegisterStream("", fn),
		"nil fn":     r.RegisterStream("x", nil),
		"name taken": r.RegisterStream("count", fn),
	} {
		if !errors.Is(err, workers.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
}

// TestIterate: a Go receiver as an async iterable; break closes it, so the
// Go producer's Send returns ErrClosed.
func TestIterate(t *testing.T) {
	var r *jsloop.Runtime
	producerErr := make(chan error, 1)
	r = newRuntime(t, jsloop.Options{Setup: func(vm *goja.Runtime) {
		_ = vm.Set("numbers", func() goja.Value {
			tx, rx := channel.New[int](2)
			go func() {
				for i := 0; ; i++ {
					if err := tx.Send(context.Background(), i); err != nil {
						producerErr <- err
						return
					}
				}
			}()
			return jsloop.Iterate(r, rx)
		})
		_ = vm.Set("three", func() goja.Value {
			tx, rx := channel.New[string](channel.Unbounded)
			for _, s := range []string{"a", "b", "c"} {
				_ = tx.TrySend(s)
			}
			tx.CloseWithError(errors.New("after c"))
			return jsloop.Iterate(r, rx)
		})
		_ = vm.Set("none", func() goja.Value { return jsloop.Iterate[int](r, nil) })
	}}, nil)
	v := runOK(t, r, `(async () => { let s = 0; for await (const v of numbers()) { if (v > 100) break; s += v } return s })()`)
	if v != int64(5050) {
		t.Errorf("sum %v", v)
	}
	if err := <-producerErr; !errors.Is(err, channel.ErrClosed) {
		t.Errorf("producer after break: %v, want ErrClosed", err)
	}
	v = runOK(t, r, `(async () => { const got = []; try { for await (const v of three()) got.push(v) } catch (e) { got.push(e.name + ': ' + e.message) } return got.join(',') })()`)
	if v != "a,b,c,GoError: after c" {
		t.Errorf("Iterate with a failure: %v", v)
	}
	v = runOK(t, r, `none().next().catch(e => e.name)`)
	if v != "TypeError" {
		t.Errorf("Iterate of nil: %v", v)
	}
}

// TestLoweredErrorPositions: an error inside a lowered for await reports
// the line of the user's source.
func TestLoweredErrorPositions(t *testing.T) {
	r, _, _ := streamRuntime(t, jsloop.Options{})
	_, err := run(t, r, "(async () => {\n  for await (const v of spawn.stream('count', 2)) {\n    null.boom;\n  }\n})()")
	je := wantJSError(t, err, "TypeError", "boom")
	if !strings.Contains(je.Stack, "test.js:3:") {
		t.Errorf("stack %q does not point at test.js line 3", je.Stack)
	}
	_, err = run(t, r, "async function* g() {\n  yield 1;\n  let = ;\n}")
	wantJSError(t, err, "SyntaxError", "")
}

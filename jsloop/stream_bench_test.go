package jsloop_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/dop251/goja"
	"github.com/dop251/goja_nodejs/eventloop"

	"github.com/velalang/runtime/channel"
	"github.com/velalang/runtime/jsloop"
)

// BenchmarkGoStream: n small values from Go to JavaScript, per value.
// "forawait" iterates spawn.stream over a Go function that sends 0..n-1
// (buffer 1024); "awaitspawn" gets the same values as n await spawn()
// calls, one at a time.
func BenchmarkGoStream(b *testing.B) {
	b.Run("forawait", func(b *testing.B) {
		r, err := jsloop.New(jsloop.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		if err := r.RegisterStream("count", func(ctx context.Context, args []any, out *channel.Sender[any]) error {
			n := args[0].(int64)
			for i := range n {
				if err := out.Send(ctx, i); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		src := fmt.Sprintf(`(async () => { let s = 0; for await (const v of spawn.stream.with({ buffer: 1024 }, 'count', %d)) s += v; return s })()`, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		if _, err := r.RunScript(context.Background(), "bench.js", src); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "values/s")
	})
	b.Run("awaitspawn", func(b *testing.B) {
		r, err := jsloop.New(jsloop.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		if err := r.Register("value", func(_ context.Context, args []any) (any, error) { return args[0], nil }); err != nil {
			b.Fatal(err)
		}
		src := fmt.Sprintf(`(async () => { let s = 0; for (let i = 0; i < %d; i++) s += await spawn('value', i); return s })()`, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		if _, err := r.RunScript(context.Background(), "bench.js", src); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "values/s")
	})
}

const genModule = `exports.gen = function* (n) { for (let i = 0; i < n; i++) yield { i: i } };`

// BenchmarkJSStream: a generator in another runtime yields n small
// objects to the loop, per value. "vela" is spawnJS.stream (JSON per value,
// buffer 1024, backpressure); "nodejs" is the goja_nodejs pattern: a
// goroutine runs the generator in a runtime of its own and hands each
// value (as JSON) to the loop with RunOnLoop, with no backpressure.
func BenchmarkJSStream(b *testing.B) {
	b.Run("vela", func(b *testing.B) {
		r, err := jsloop.New(jsloop.Options{Modules: map[string]string{"g": genModule}})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		src := fmt.Sprintf(`(async () => { let s = 0; for await (const v of spawnJS.stream.with({ buffer: 1024 }, 'g', 'gen', %d)) s += v.i; return s })()`, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		if _, err := r.RunScript(context.Background(), "bench.js", src); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "values/s")
	})
	b.Run("nodejs", func(b *testing.B) {
		loop := eventloop.NewEventLoop(eventloop.EnableConsole(false))
		loop.Start()
		defer loop.Terminate()
		finished := make(chan error, 1)
		n := b.N
		b.ReportAllocs()
		b.ResetTimer()
		loop.RunOnLoop(func(vm *goja.Runtime) {
			sum := 0
			parse, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("parse"))
			go func() {
				wvm := goja.New()
				if _, err := wvm.RunString(`var exports = {};` + genModule + `; var it = exports.gen(` + fmt.Sprint(n) + `);`); err != nil {
					finished <- err
					return
				}
				next, _ := goja.AssertFunction(wvm.Get("it").ToObject(wvm).Get("next"))
				stringify, _ := goja.AssertFunction(wvm.Get("JSON").ToObject(wvm).Get("stringify"))
				for {
					res, err := next(wvm.Get("it"))
					if err != nil {
						finished <- err
						return
					}
					obj := res.ToObject(wvm)
					if obj.Get("done").ToBoolean() {
						break
					}
					s, _ := stringify(goja.Undefined(), obj.Get("value"))
					js := s.String()
					loop.RunOnLoop(func(vm *goja.Runtime) {
						v, _ := parse(goja.Undefined(), vm.ToValue(js))
						sum += int(v.ToObject(vm).Get("i").ToInteger())
					})
				}
				loop.RunOnLoop(func(*goja.Runtime) { finished <- nil })
			}()
		})
		if err := <-finished; err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "values/s")
	})
}

// BenchmarkIterateBuffered: for await over values already in a channel
// (the fast path alone: no wait, no loop wake-up), per value.
func BenchmarkIterateBuffered(b *testing.B) {
	var r *jsloop.Runtime
	r, err := jsloop.New(jsloop.Options{Setup: func(vm *goja.Runtime) {
		_ = vm.Set("values", func(n int64) goja.Value {
			tx, rx := channel.New[int64](channel.Unbounded)
			for i := range n {
				_ = tx.TrySend(i)
			}
			tx.CloseWithError(nil)
			return jsloop.Iterate(r, rx)
		})
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	src := fmt.Sprintf(`(async () => { const it = values(%d); let s = 0; %s; for await (const v of it) s += v; return s })()`, b.N, "")
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := r.RunScript(context.Background(), "bench.js", src); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "values/s")
}

// BenchmarkBareAwait: the floor of any per-value await in goja: a bare
// runtime (no loop, no Runtime) running an async function that awaits a
// number n times, per await.
func BenchmarkBareAwait(b *testing.B) {
	vm := goja.New()
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := vm.RunString(fmt.Sprintf(`(async () => { let s = 0; for (let i = 0; i < %d; i++) s += await i; return s })()`, b.N)); err != nil {
		b.Fatal(err)
	}
}

package jsloop_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja_nodejs/eventloop"

	"github.com/velalang/runtime/jsloop"
	"github.com/velalang/runtime/workers"
)

// The benchmarks run the same JavaScript on this package's Runtime
// ("vela") and on goja_nodejs's event loop driven the way its users bridge
// Go work ("nodejs": a goroutine per call that resolves the promise through
// RunOnLoop), side by side in one process.

func noop(context.Context, []any) (any, error) { return nil, nil }

// benchVela runs src on a Runtime with "noop" registered.
func benchVela(b *testing.B, src string) {
	b.Helper()
	r, err := jsloop.New(jsloop.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	if err := r.Register("noop", noop); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := r.RunScript(context.Background(), "bench.js", src); err != nil {
		b.Fatal(err)
	}
}

// benchNodejs runs src on goja_nodejs's event loop, where spawn(name)
// starts a goroutine that calls the Go function and resolves the promise
// with RunOnLoop, and done() ends the measurement: the loop's Run would
// return while Go work is pending, so the loop is started in the
// background and the script reports its own end.
func benchNodejs(b *testing.B, src string) {
	b.Helper()
	loop := eventloop.NewEventLoop(eventloop.EnableConsole(false))
	finished := make(chan error, 1)
	loop.Start()
	defer loop.Terminate()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	loop.RunOnLoop(func(vm *goja.Runtime) {
		_ = vm.Set("spawn", func(call goja.FunctionCall) goja.Value {
			p, resolve, reject := vm.NewPromise()
			args := make([]any, len(call.Arguments)-1)
			for i, a := range call.Arguments[1:] {
				args[i] = a.Export()
			}
			go func() {
				v, err := noop(ctx, args)
				loop.RunOnLoop(func(*goja.Runtime) {
					if err != nil {
						_ = reject(err)
						return
					}
					_ = resolve(v)
				})
			}()
			return vm.ToValue(p)
		})
		_ = vm.Set("done", func(call goja.FunctionCall) goja.Value {
			finished <- nil
			return goja.Undefined()
		})
		if _, err := vm.RunString(src + ".then(() => done(), e => { throw e })"); err != nil {
			finished <- err
		}
	})
	if err := <-finished; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAwaitSpawnRoundTrip: await spawn("noop"), one at a time.
func BenchmarkAwaitSpawnRoundTrip(b *testing.B) {
	src := func(n int) string {
		return fmt.Sprintf(`(async () => { for (let i = 0; i < %d; i++) await spawn('noop'); })()`, n)
	}
	b.Run("vela", func(b *testing.B) { benchVela(b, src(b.N)) })
	b.Run("nodejs", func(b *testing.B) { benchNodejs(b, src(b.N)) })
}

// BenchmarkPromiseAll20k: await Promise.all of 20,000 spawns per op.
func BenchmarkPromiseAll20k(b *testing.B) {
	const n = 20000
	src := func(ops int) string {
		return fmt.Sprintf(`(async () => {
			for (let op = 0; op < %d; op++) {
				const ps = new Array(%d);
				for (let i = 0; i < ps.length; i++) ps[i] = spawn('noop');
				await Promise.all(ps);
			}
		})()`, ops, n)
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/spawn")
	}
	b.Run("vela", func(b *testing.B) { benchVela(b, src(b.N)); report(b) })
	b.Run("nodejs", func(b *testing.B) { benchNodejs(b, src(b.N)); report(b) })
}

// primesModule counts primes below hi by trial division: CPU-bound
// JavaScript.
const primesModule = `
exports.count = function (hi) {
	let c = 0;
	for (let n = 2; n < hi; n++) {
		let p = true;
		for (let d = 2; d * d <= n; d++) { if (n % d === 0) { p = false; break; } }
		if (p) c++;
	}
	return c;
};
exports.noop = function () {};
`

// BenchmarkSpawnJSPrimes: two equal prime counts, one after the other on
// the loop ("serial", the module evaluated in the loop's own VM) and as two
// spawnJS calls on a pool of 2 runtimes ("parallel"), in the same
// iteration; speedup = serial time / parallel time. "bare" is the machine's
// ceiling for the same work: two goroutines, each with a goja runtime of
// its own made beforehand, no loop, no pool, no JSON; bare-speedup =
// serial time / bare time. go-speedup is the same ratio for a plain Go
// loop on two goroutines: the cores the machine leaves free.
func BenchmarkSpawnJSPrimes(b *testing.B) {
	const hi = 30000
	pool, err := workers.NewPool(workers.Config{MaxWorkers: 2, Name: "bench-js", IdleTimeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	r, err := jsloop.New(jsloop.Options{JSPool: pool, Modules: map[string]string{"primes": primesModule}})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	const local = "(function () { const module = { exports: {} }, exports = module.exports;\n" + primesModule + "\nreturn module.exports; })()"
	if _, err := r.RunScript(context.Background(), "setup.js", "globalThis.local = "+local); err != nil {
		b.Fatal(err)
	}
	bare := func() time.Duration {
		vms := [2]*goja.Runtime{goja.New(), goja.New()}
		fns := [2]goja.Callable{}
		for i, vm := range vms {
			v, err := vm.RunString(local + ".count")
			if err != nil {
				b.Fatal(err)
			}
			fns[i], _ = goja.AssertFunction(v)
		}
		start := time.Now()
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				if _, err := fns[i](goja.Undefined(), vms[i].ToValue(hi)); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var serial, parallel, bareTotal time.Duration
	var speedups, bareSpeedups, goSpeedups []float64
	for b.Loop() {
		t0 := time.Now()
		if _, err := r.RunScript(context.Background(), "serial.js", fmt.Sprintf("local.count(%d) + local.count(%d)", hi, hi)); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		v, err := r.RunScript(context.Background(), "parallel.js", fmt.Sprintf(
			"Promise.all([spawnJS('primes', 'count', %d), spawnJS('primes', 'count', %d)]).then(([a, b]) => a + b)", hi, hi))
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if v != int64(2*3245) {
			b.Fatalf("count %v", v)
		}
		bt := bare()
		serial += t1.Sub(t0)
		parallel += t2.Sub(t1)
		bareTotal += bt
		speedups = append(speedups, float64(t1.Sub(t0))/float64(t2.Sub(t1)))
		bareSpeedups = append(bareSpeedups, float64(t1.Sub(t0))/float64(bt))
		goSpeedups = append(goSpeedups, goCeiling())
	}
	b.ReportMetric(float64(serial.Nanoseconds())/float64(b.N), "serial-ns/op")
	b.ReportMetric(float64(parallel.Nanoseconds())/float64(b.N), "parallel-ns/op")
	b.ReportMetric(float64(bareTotal.Nanoseconds())/float64(b.N), "bare-ns/op")
	// Medians of the per-iteration ratios: a burst of load from elsewhere on
	// a shared machine spoils one iteration, not the figure.
	b.ReportMetric(median(speedups), "speedup")
	b.ReportMetric(median(bareSpeedups), "bare-speedup")
	b.ReportMetric(median(goSpeedups), "go-speedup")
}

// goCeiling is the speedup two goroutines get on this machine right now
// for a plain Go loop (no goja, no allocation): what the cores left free
// by the machine's other work allow.
func goCeiling() float64 {
	const n = 50_000_000
	t0 := time.Now()
	sink = spin(n) + spin(n)
	serial := time.Since(t0)
	t1 := time.Now()
	var wg sync.WaitGroup
	var r [2]int
	for i := range 2 {
		wg.Go(func() { r[i] = spin(n) })
	}
	wg.Wait()
	sink = r[0] + r[1]
	return float64(serial) / float64(time.Since(t1))
}

var sink int

func spin(n int) int {
	x := 0
	for i := range n {
		x += i * i % 7
	}
	return x
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkSpawnJSOverhead: await spawnJS of a trivial export, one at a
// time: the per-call cost of a fresh runtime, the module's evaluation,
// JSON both ways and the trip through the pool. goja.New alone is
// measured beside it.
func BenchmarkSpawnJSOverhead(b *testing.B) {
	b.Run("spawnJS-noop", func(b *testing.B) {
		r, err := jsloop.New(jsloop.Options{Modules: map[string]string{"primes": primesModule}})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		b.ReportAllocs()
		b.ResetTimer()
		src := fmt.Sprintf(`(async () => { for (let i = 0; i < %d; i++) await spawnJS('primes', 'noop', i); })()`, b.N)
		if _, err := r.RunScript(context.Background(), "overhead.js", src); err != nil {
			b.Fatal(err)
		}
	})
	// Calls that arrive no faster than runtimes are prepared: 2 ms apart
	// (a timer), only the spawnJS await itself timed.
	b.Run("spawnJS-paced", func(b *testing.B) {
		r, err := jsloop.New(jsloop.Options{Modules: map[string]string{"primes": primesModule}})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		src := fmt.Sprintf(`(async () => {
			let spent = 0;
			for (let i = 0; i < %d; i++) {
				await new Promise(res => setTimeout(res, 2));
				const t0 = performance.now();
				await spawnJS('primes', 'noop', i);
				spent += performance.now() - t0;
			}
			return spent;
		})()`, b.N)
		b.ResetTimer()
		v, err := r.RunScript(context.Background(), "paced.js", src)
		if err != nil {
			b.Fatal(err)
		}
		ms, _ := v.(float64)
		b.ReportMetric(ms*1000/float64(b.N), "µs/call")
	})
	b.Run("goja.New", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = goja.New()
		}
	})
}

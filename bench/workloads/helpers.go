package workloads

import (
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// epoch is the base of nowNs: a monotonic clock shared by all goroutines.
var epoch = time.Now()

// nowNs is monotonic nanoseconds since the package started.
func nowNs() int64 { return int64(time.Since(epoch)) }

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

// spin burns CPU for n rounds of xorshift, a chain of dependent operations
// the compiler cannot remove, and returns the result.
func spin(n int, seed uint64) uint64 {
	x := seed | 1
	for range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

var sink atomic.Uint64

var (
	calibrateOnce sync.Once
	spinPerUs     float64 // rounds of spin per microsecond
)

// spinRounds returns how many rounds of spin take about d of CPU on this
// machine. The calibration runs once per process (a few milliseconds), so
// every library gets the same amount of work.
func spinRounds(d time.Duration) int {
	calibrateOnce.Do(func() {
		const n = 2_000_000
		best := time.Duration(1 << 62)
		for range 5 {
			t0 := time.Now()
			sink.Add(spin(n, 12345))
			if e := time.Since(t0); e < best {
				best = e
			}
		}
		spinPerUs = float64(n) / (float64(best) / 1e3)
	})
	r := int(spinPerUs * float64(d) / 1e3)
	return max(r, 1)
}

// memSnap is the allocation counters at one moment.
type memSnap struct{ mallocs, bytes uint64 }

func readMem() memSnap {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memSnap{m.Mallocs, m.TotalAlloc}
}

// perTask reports ns, bytes and allocations per task for benchmarks whose
// operation is a batch of tasks. Call after setup, at the start of the timed
// loop; it resets the timer.
type perTask struct {
	b  *testing.B
	m0 memSnap
}

func startPerTask(b *testing.B) *perTask {
	b.ReportAllocs()
	runtime.GC()
	b.ResetTimer()
	return &perTask{b: b, m0: readMem()}
}

// report stops the timer and reports per-task metrics for b.N batches of
// tasks tasks each.
func (p *perTask) report(tasks int) {
	p.b.StopTimer()
	m1 := readMem()
	n := float64(p.b.N) * float64(tasks)
	p.b.ReportMetric(float64(p.b.Elapsed().Nanoseconds())/n, NsPerTask)
	p.b.ReportMetric(float64(m1.bytes-p.m0.bytes)/n, BPerTask)
	p.b.ReportMetric(float64(m1.mallocs-p.m0.mallocs)/n, AllocsTask)
}

// samples collects one latency per operation.
type samples []int64

func newSamples(b *testing.B) samples { return make(samples, 0, b.N) }

// report reports the median and 99th percentile as p50-ns and p99-ns.
func (s samples) report(b *testing.B) {
	if len(s) == 0 {
		return
	}
	slices.Sort(s)
	b.ReportMetric(float64(percentile(s, 50)), P50)
	b.ReportMetric(float64(percentile(s, 99)), P99)
}

// percentile of sorted s, nearest rank.
func percentile(s []int64, p int) int64 {
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

// peakMem samples live heap objects plus goroutine stacks every
// millisecond and remembers the peak above the baseline taken at start.
type peakMem struct {
	base  uint64
	peak  atomic.Uint64
	stop  chan struct{}
	done  chan struct{}
	batch []metrics.Sample
}

var memMetrics = []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/stacks:bytes"}

func newPeakMem() *peakMem {
	p := &peakMem{batch: make([]metrics.Sample, len(memMetrics))}
	for i, name := range memMetrics {
		p.batch[i].Name = name
	}
	return p
}

func (p *peakMem) read() uint64 {
	metrics.Read(p.batch)
	var sum uint64
	for _, s := range p.batch {
		if s.Value.Kind() == metrics.KindUint64 {
			sum += s.Value.Uint64()
		}
	}
	return sum
}

// start takes the baseline (after a GC) and starts sampling.
func (p *peakMem) start() {
	runtime.GC()
	p.base = p.read()
	p.peak.Store(0)
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		batch := make([]metrics.Sample, len(memMetrics))
		copy(batch, p.batch)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			p.observe(batch)
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
}

func (p *peakMem) observe(batch []metrics.Sample) {
	metrics.Read(batch)
	var sum uint64
	for _, s := range batch {
		if s.Value.Kind() == metrics.KindUint64 {
			sum += s.Value.Uint64()
		}
	}
	if sum > p.base {
		if d := sum - p.base; d > p.peak.Load() {
			p.peak.Store(d)
		}
	}
}

// end stops sampling (after one last sample) and returns the peak so far.
func (p *peakMem) end() uint64 {
	close(p.stop)
	<-p.done
	p.observe(p.batch)
	return p.peak.Load()
}

// heapLive returns the live heap after a full GC.
func heapLive() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

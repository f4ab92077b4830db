package remote_test

import (
	"context"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/remote"
)

// reportLatency reports the median and 99th percentile of ds.
func reportLatency(b *testing.B, ds []time.Duration, name string) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds())/1e3, name+"-p50-µs")
	b.ReportMetric(float64(ds[len(ds)*99/100].Nanoseconds())/1e3, name+"-p99-µs")
}

// benchEnv is newEnv for a benchmark: an in-process server, a worker and a
// client.
func benchEnv(b *testing.B, cfg remote.Config) (*remote.Client, *env) {
	b.Helper()
	srv, err := remote.StartServer(remote.ServerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Shutdown)
	cfg.Server = srv
	e := &env{srv: srv, cfg: cfg, h: &hooks{started: make(chan string, 1), release: make(chan struct{}), ended: make(chan error, 1)}}
	e.w, e.c = serveAndDial(b, cfg, cfg, testRegistryWith(e.h))
	return e.c, e
}

// serveAndDial starts a Worker on wcfg serving reg and a Client on ccfg,
// both closed when b ends.
func serveAndDial(b *testing.B, wcfg, ccfg remote.Config, reg *remote.Registry) (*remote.Worker, *remote.Client) {
	b.Helper()
	w, err := remote.Serve(context.Background(), wcfg, reg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = w.Shutdown(context.Background()) })
	c, err := remote.Dial(context.Background(), ccfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return w, c
}

// rawJetStream is the hand-written reference, in-process like remote's:
// a work-queue stream in memory, a worker that consumes with nats.go's
// Consume, replies on a core subject named in a header and acks, and a
// caller that waits for the reply. The plain caller publishes without
// asking for the server's acknowledgement; a durable one (makeDurable)
// publishes as a JetStream user who needs remote's guarantees would:
// asynchronously acknowledged, with a Nats-Msg-Id, errors counted.
type rawJetStream struct {
	nc      *nats.Conn
	replies chan *nats.Msg
	inbox   string
	stop    func()

	js      jetstream.JetStream // non-nil: durable publishing
	n       uint64              // tasks published, for their Nats-Msg-Id
	ackErrs atomic.Int64        // publishes the server refused or never acknowledged
}

// makeDurable switches r to acknowledged publishing with Nats-Msg-Id.
func (r *rawJetStream) makeDurable(b *testing.B) {
	js, err := jetstream.New(r.nc, jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) {
		r.ackErrs.Add(1)
	}))
	if err != nil {
		b.Fatal(err)
	}
	r.js = js
	stop := r.stop
	r.stop = func() {
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(10 * time.Second):
			b.Errorf("%d publishes of the durable reference never acknowledged", js.PublishAsyncPending())
		}
		if n := r.ackErrs.Load(); n > 0 {
			b.Errorf("%d publishes of the durable reference failed", n)
		}
		stop()
	}
}

func newRawJetStream(b *testing.B) *rawJetStream {
	b.Helper()
	srv, err := remote.StartServer(remote.ServerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	r := newRawOn(b, "", []nats.Option{nats.InProcessServer(srv)}, jetstream.MemoryStorage, 1)
	stop := r.stop
	r.stop = func() {
		stop()
		srv.Shutdown()
	}
	return r
}

func (r *rawJetStream) publish() {
	m := &nats.Msg{Subject: "raw.tasks", Data: []byte("{}"), Header: nats.Header{"Reply": []string{r.inbox}}}
	if r.js == nil {
		m.Reply = "_RAW.ack" // nobody listens: the server's acknowledgement is dropped
		_ = r.nc.PublishMsg(m)
		return
	}
	r.n++
	if _, err := r.js.PublishMsgAsync(m, jetstream.WithMsgID(strconv.FormatUint(r.n, 10))); err != nil {
		r.ackErrs.Add(1)
	}
}

// warmTasks run untimed, 64 at a time, before each throughput and round
// trip benchmark, on both sides: connections, consumers and remote's
// prefetch window (2×Slots until eight short runs) settle first.
const warmTasks = 1000

// pump runs n tasks keeping up to k in flight: start sends one, done
// waits for one to end.
func pump(n, k int, start, done func()) {
	sent := 0
	for ; sent < min(k, n); sent++ {
		start()
	}
	for range n {
		done()
		if sent < n {
			start()
			sent++
		}
	}
}

// BenchmarkRoundTrip is one task's whole round trip, in-process: remote's
// Spawn+Await of a no-op beside the raw JetStream reference.
func BenchmarkRoundTrip(b *testing.B) {
	b.Run("remote", func(b *testing.B) {
		c, _ := benchEnv(b, remote.Config{Queue: "rt"})
		roundTripRemote(b, c)
	})
	b.Run("raw-jetstream", func(b *testing.B) {
		r := newRawJetStream(b)
		defer r.stop()
		roundTripRaw(b, r)
	})
}

// BenchmarkThroughput64 keeps 64 no-op tasks in flight.
func BenchmarkThroughput64(b *testing.B) {
	const inFlight = 64
	b.Run("remote", func(b *testing.B) {
		c, _ := benchEnv(b, remote.Config{Queue: "tp"})
		throughputRemote(b, c, inFlight)
	})
	b.Run("remote-tcp-worker-process", func(b *testing.B) {
		srv, err := remote.StartServer(remote.ServerConfig{Port: -1})
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Shutdown()
		startChild(b, srv.URL(), "tcp", 30*time.Second, 0)
		c, err := remote.Dial(context.Background(), remote.Config{URL: srv.URL(), Queue: "tcp"})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		throughputRemote(b, c, inFlight)
	})
	b.Run("raw-jetstream", func(b *testing.B) {
		r := newRawJetStream(b)
		defer r.stop()
		throughputRaw(b, r, inFlight)
	})
}

func throughputRemote(b *testing.B, c *remote.Client, inFlight int) {
	start, done := remoteNoop(b, c)
	throughput(b, inFlight, start, done)
}

// throughput reports the tasks per second of b.N tasks with inFlight at
// a time, after warmTasks untimed.
func throughput(b *testing.B, inFlight int, start, done func()) {
	pump(warmTasks, inFlight, start, done)
	b.ReportAllocs()
	b.ResetTimer()
	t0 := time.Now()
	pump(b.N, inFlight, start, done)
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "tasks/s")
}

// remoteNoop returns start, which spawns a no-op on c, and done, which
// waits for one of them to end successfully.
func remoteNoop(b *testing.B, c *remote.Client) (start, done func()) {
	ctx := context.Background()
	ended := make(chan error, 1024)
	start = func() {
		f := remote.Spawn[struct{}](ctx, c, "noop", struct{}{})
		wake := async.WakerFunc(func() { r, _ := f.Result(); ended <- r.Err })
		if f.Poll(wake).IsReady() {
			wake()
		}
	}
	done = func() {
		if err := <-ended; err != nil {
			b.Fatal(err)
		}
	}
	return start, done
}

// BenchmarkCancelRunning measures from Future.Cancel on the caller to the
// remote function's context ending.
func BenchmarkCancelRunning(b *testing.B) {
	c, e := benchEnv(b, remote.Config{Queue: "cancel"})
	ctx := context.Background()
	ds := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		f := remote.Spawn[string](ctx, c, "block", "x")
		<-e.h.started
		t0 := time.Now()
		f.Cancel()
		<-e.h.ended
		ds = append(ds, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, ds, "cancel")
}

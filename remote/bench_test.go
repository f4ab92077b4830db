package remote_test

import (
	"context"
	"slices"
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
	w, err := remote.Serve(context.Background(), cfg, testRegistryWith(e.h))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = w.Shutdown(context.Background()) })
	c, err := remote.Dial(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	e.w, e.c = w, c
	return c, e
}

// rawJetStream is the hand-written reference, in-process like remote's:
// a work-queue stream in memory, a worker that consumes with nats.go's Consume, replies on a core subject
// named in a header and acks, and a caller that publishes without waiting
// for the server's acknowledgement and waits for the reply.
type rawJetStream struct {
	nc      *nats.Conn
	replies chan *nats.Msg
	inbox   string
	stop    func()
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
	_ = r.nc.PublishMsg(&nats.Msg{Subject: "raw.tasks", Reply: "_RAW.ack", Data: []byte("{}"), Header: nats.Header{"Reply": []string{r.inbox}}})
}

// BenchmarkRoundTrip is one task's whole round trip, in-process: remote's
// Spawn+Await of a no-op beside the raw JetStream reference.
func BenchmarkRoundTrip(b *testing.B) {
	b.Run("remote", func(b *testing.B) {
		c, _ := benchEnv(b, remote.Config{Queue: "rt"})
		ctx := context.Background()
		ds := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			t0 := time.Now()
			if _, err := remote.Spawn[struct{}](ctx, c, "noop", struct{}{}).Await(ctx); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
		}
		b.StopTimer()
		reportLatency(b, ds, "rt")
	})
	b.Run("raw-jetstream", func(b *testing.B) {
		r := newRawJetStream(b)
		defer r.stop()
		ds := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			t0 := time.Now()
			r.publish()
			<-r.replies
			ds = append(ds, time.Since(t0))
		}
		b.StopTimer()
		reportLatency(b, ds, "rt")
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
		b.ReportAllocs()
		b.ResetTimer()
		t0 := time.Now()
		sent := 0
		for ; sent < min(inFlight, b.N); sent++ {
			r.publish()
		}
		for range b.N {
			<-r.replies
			if sent < b.N {
				r.publish()
				sent++
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "tasks/s")
	})
}

func throughputRemote(b *testing.B, c *remote.Client, inFlight int) {
	ctx := context.Background()
	done := make(chan struct{}, inFlight)
	wake := async.WakerFunc(func() { done <- struct{}{} })
	spawn := func() {
		f := remote.Spawn[struct{}](ctx, c, "noop", struct{}{})
		if f.Poll(wake).IsReady() {
			wake()
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	t0 := time.Now()
	sent := 0
	for ; sent < min(inFlight, b.N); sent++ {
		spawn()
	}
	for range b.N {
		<-done
		if sent < b.N {
			spawn()
			sent++
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "tasks/s")
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

package remote_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/remote"
)

// setting is one deployment the settings benchmarks compare remote and
// the raw JetStream reference on: how to start it, how each side
// connects, and how the reference's stream is kept.
type setting struct {
	name    string
	start   func(b *testing.B) (worker, client remote.Config, raw []nats.Option, rawURL string)
	storage jetstream.StorageType
	repl    int
	// place, if set, moves the leaders of a side's stream and consumer
	// once they exist, so that both sides run with the same placement.
	place func(b *testing.B, stream, consumer string)
}

func settingsUnderTest() []setting {
	var cluster []*remote.Server // the cluster of the latest cluster-r3-tcp start
	file := func(noSync bool) func(b *testing.B) (remote.Config, remote.Config, []nats.Option, string) {
		return func(b *testing.B) (remote.Config, remote.Config, []nats.Option, string) {
			srv, err := remote.StartServer(remote.ServerConfig{Dir: b.TempDir(), NoSync: noSync})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(srv.Shutdown)
			cfg := remote.Config{Server: srv, Queue: "bench"}
			return cfg, cfg, []nats.Option{nats.InProcessServer(srv)}, ""
		}
	}
	return []setting{
		{name: "memory", storage: jetstream.MemoryStorage, repl: 1, start: func(b *testing.B) (remote.Config, remote.Config, []nats.Option, string) {
			srv, err := remote.StartServer(remote.ServerConfig{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(srv.Shutdown)
			cfg := remote.Config{Server: srv, Queue: "bench"}
			return cfg, cfg, []nats.Option{nats.InProcessServer(srv)}, ""
		}},
		{name: "file-sync", storage: jetstream.FileStorage, repl: 1, start: file(false)},
		{name: "file-nosync", storage: jetstream.FileStorage, repl: 1, start: file(true)},
		// The server's control connection, in-process, creates the queue in
		// memory on a server without a Dir.
		{name: "users-tls-tcp", storage: jetstream.MemoryStorage, repl: 1, start: func(b *testing.B) (remote.Config, remote.Config, []nats.Option, string) {
			srvTLS, cliTLS := testTLS(b)
			srv, err := remote.StartServer(remote.ServerConfig{Port: -1, Users: testUsers, TLS: srvTLS})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(srv.Shutdown)
			s := &secured{srv: srv, cli: cliTLS}
			return s.config("wk", "jobs"), s.config("alice", "jobs"),
				[]nats.Option{nats.UserInfo("root", pw+"-r"), nats.Secure(cliTLS)}, srv.URL()
		}},
		// Over TCP remote keeps its queues in files (it cannot tell that the
		// servers keep no Dir), so the reference does too. Both sides run
		// with one layout: every connection to the third server, the
		// stream's leader on the first, the consumer's on the second
		// (placeLeaders says why).
		{name: "cluster-r3-tcp", storage: jetstream.FileStorage, repl: 3, start: func(b *testing.B) (remote.Config, remote.Config, []nats.Option, string) {
			cluster = startClusterB(b)
			cfg := remote.Config{URL: cluster[2].URL(), Queue: "bench", Replicas: 3}
			return cfg, cfg, nil, cfg.URL
		}, place: func(b *testing.B, stream, consumer string) { placeLeaders(b, cluster, stream, consumer, 0, 1) }},
	}
}

// BenchmarkSettings runs the round trip (one task at a time) and the
// throughput with 64 tasks in flight, remote beside the raw JetStream
// reference, on each setting: the memory store, a file store syncing
// every write and one not syncing, Users with TLS over TCP, and a
// three-server R3 cluster over loopback TCP.
func BenchmarkSettings(b *testing.B) {
	for _, st := range settingsUnderTest() {
		for _, kind := range []string{"rt", "tp64"} {
			b.Run(st.name+"/"+kind+"/remote", func(b *testing.B) {
				wcfg, ccfg, _, _ := st.start(b)
				if st.name == "cluster-r3-tcp" {
					ccfg.Replicas, wcfg.Replicas = 3, 3
				}
				_, c := serveAndDial(b, wcfg, ccfg, testRegistry())
				if st.place != nil {
					st.place(b, "VELA_bench", "workers")
				}
				if kind == "rt" {
					roundTripRemote(b, c)
				} else {
					throughputRemote(b, c, 64)
				}
			})
			for _, durable := range []bool{false, true} {
				name := "/raw-jetstream"
				if durable {
					name += "-durable"
				}
				b.Run(st.name+"/"+kind+name, func(b *testing.B) {
					_, _, opts, url := st.start(b)
					r := newRawOn(b, url, opts, st.storage, st.repl)
					defer r.stop()
					if durable {
						r.makeDurable(b)
					}
					if st.place != nil {
						st.place(b, "RAW", "w")
					}
					if kind == "rt" {
						roundTripRaw(b, r)
					} else {
						throughputRaw(b, r, 64)
					}
				})
			}
		}
	}
}

func roundTripRemote(b *testing.B, c *remote.Client) {
	ctx := context.Background()
	start, done := remoteNoop(b, c)
	pump(warmTasks, 64, start, done)
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
}

func roundTripRaw(b *testing.B, r *rawJetStream) {
	start, done := r.publish, func() { <-r.replies }
	pump(warmTasks, 64, start, done)
	ds := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		start()
		done()
		ds = append(ds, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, ds, "rt")
}

func throughputRaw(b *testing.B, r *rawJetStream, inFlight int) {
	throughput(b, inFlight, r.publish, func() { <-r.replies })
}

// newRawOn is the reference on a given server: url ("" for in-process
// through opts), a stream of that storage and replicas.
func newRawOn(b *testing.B, url string, opts []nats.Option, storage jetstream.StorageType, replicas int) *rawJetStream {
	b.Helper()
	ctx := context.Background()
	connect := func() *nats.Conn {
		nc, err := nats.Connect(url, opts...)
		if err != nil {
			b.Fatal(err)
		}
		return nc
	}
	wnc, cnc := connect(), connect()
	js, _ := jetstream.New(wnc)
	var err error
	for range 50 { // a cluster may still be electing its leader
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw.tasks"},
			Retention: jetstream.WorkQueuePolicy, Storage: storage, Replicas: replicas})
		if err == nil || !strings.Contains(err.Error(), "unavailable") && !strings.Contains(err.Error(), "timeout") && !strings.Contains(err.Error(), "deadline") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		b.Fatal(err)
	}
	cons, err := js.CreateConsumer(ctx, "RAW", jetstream.ConsumerConfig{Durable: "w", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		b.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_ = wnc.Publish(m.Headers().Get("Reply"), m.Data())
		_ = m.Ack()
	})
	if err != nil {
		b.Fatal(err)
	}
	r := &rawJetStream{nc: cnc, replies: make(chan *nats.Msg, 1024), inbox: cnc.NewRespInbox()}
	sub, err := cnc.ChanSubscribe(r.inbox, r.replies)
	if err != nil {
		b.Fatal(err)
	}
	r.stop = func() {
		_ = sub.Unsubscribe()
		cc.Stop()
		<-cc.Closed()
		cnc.Close()
		wnc.Close()
	}
	return r
}

func startClusterB(b *testing.B) []*remote.Server {
	ports := make([]int, 3)
	for i := range ports {
		ports[i] = freePort(b)
	}
	srvs := make([]*remote.Server, 3)
	errs := make(chan error, 3)
	for i := range srvs {
		var routes []string
		for j, p := range ports {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
			}
		}
		go func() {
			var err error
			srvs[i], err = remote.StartServer(remote.ServerConfig{Port: -1,
				Cluster: &remote.ClusterConfig{Name: "vela-bench", Server: fmt.Sprintf("b%d", i), Port: ports[i], Routes: routes}})
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	for _, s := range srvs {
		b.Cleanup(s.Shutdown)
	}
	// Wait for a meta leader: a Dial that sets a queue up succeeds.
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := remote.Dial(ctx, remote.Config{URL: urls(srvs, nil), Queue: "warmup", Replicas: 3})
		cancel()
		if err == nil {
			_ = c.Close()
			return srvs
		}
		if time.Now().After(deadline) {
			b.Fatal(err)
		}
	}
}

// BenchmarkWithdraw100k withdraws a queued batch of 100,000 tasks:
// settle-µs is from Cancel to the future settled, empty-ms until the
// stream is empty.
func BenchmarkWithdraw100k(b *testing.B) {
	const n = 100_000
	srv, err := remote.StartServer(remote.ServerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	c, err := remote.Dial(context.Background(), remote.Config{Server: srv, Queue: "withdraw"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	args := make([]struct{}, n)
	var settle, empty time.Duration
	for range b.N {
		f := remote.SpawnAll[struct{}](context.Background(), c, "noop", args)
		for remote.QueuedTasks(c) != n {
			time.Sleep(time.Millisecond)
		}
		settled := make(chan time.Time, 1)
		f.Poll(async.WakerFunc(func() { settled <- time.Now() }))
		t0 := time.Now()
		f.Cancel()
		settle += (<-settled).Sub(t0)
		for remote.QueuedTasks(c) != 0 {
			time.Sleep(100 * time.Microsecond)
		}
		empty += time.Since(t0)
	}
	b.ReportMetric(float64(settle.Microseconds())/float64(b.N), "settle-µs")
	b.ReportMetric(float64(empty.Milliseconds())/float64(b.N), "empty-ms")
}

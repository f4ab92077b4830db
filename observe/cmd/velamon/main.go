// Command velamon runs a mixed synthetic workload and serves the observe
// dashboard of it, with its Prometheus metrics, on a loopback port it
// prints:
//
//	go run ./observe/cmd/velamon
//
// The workload: two pools ("images", with failures, panics, timeouts and
// batches; "io", small, with a bounded queue that fills, and callers that
// give up), and a remote queue ("jobs") on an embedded NATS server, served
// by a worker in this process and by one in a child process that is
// killed every 10 seconds and restarted 4 seconds later, so that its tasks
// are delivered again.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/velalang/runtime/observe"
	"github.com/velalang/runtime/observe/internal/demo"
	"github.com/velalang/runtime/remote"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "where to serve the dashboard (loopback: it has no authentication)")
	worker := flag.String("worker", "", "internal: serve the demo's queue at this NATS URL (the child process)")
	life := flag.Duration("life", 10*time.Second, "how long the worker that dies lives each time")
	dead := flag.Duration("dead", 4*time.Second, "how long it stays dead")
	flag.Parse()
	if *worker != "" {
		os.Exit(serveChild(*worker))
	}
	if err := run(*addr, *life, *dead); err != nil {
		fmt.Fprintln(os.Stderr, "velamon:", err)
		os.Exit(1)
	}
}

func run(addr string, life, dead time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := observe.New(observe.Options{})
	if err != nil {
		return err
	}
	defer o.Close()
	d, err := demo.Start(o, demo.Options{Listen: true, Dying: startChild, Life: life, Dead: dead})
	if err != nil {
		return err
	}
	defer d.Stop()

	reg := prometheus.NewRegistry()
	reg.MustRegister(o)
	mux := http.NewServeMux()
	mux.Handle("/", observe.Handler(o))
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if err := loopbackOnly(addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("velamon: dashboard at http://%s/  (metrics at /metrics; Ctrl-C stops)\n", ln.Addr())
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// startChild starts the worker that dies, as this program with -worker,
// and returns a function that kills it with SIGKILL.
func startChild(url string) (func(), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-worker", url)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }, nil
}

func serveChild(url string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	w, err := remote.Serve(ctx, remote.Config{URL: url, Queue: demo.Queue, Slots: 2, AckWait: 2 * time.Second, MaxDeliver: 4}, demo.Registry())
	if err != nil {
		fmt.Fprintln(os.Stderr, "velamon worker:", err)
		return 1
	}
	<-ctx.Done()
	_ = w.Shutdown(context.Background())
	return 0
}

// loopbackOnly refuses an address beyond loopback: the dashboard and the
// metrics have no authentication.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address: the dashboard has no authentication", addr)
	}
	return nil
}

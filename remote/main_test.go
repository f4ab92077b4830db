package remote_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/velalang/runtime/remote"
	"go.uber.org/goleak"
)

// workerEnv, when set to a NATS URL, makes the test binary a worker
// process for the tests that kill one (see serveChild).
const workerEnv = "VELA_REMOTE_TEST_WORKER"

func TestMain(m *testing.M) {
	if url := os.Getenv(workerEnv); url != "" {
		os.Exit(serveChild(url))
	}
	goleak.VerifyTestMain(m)
}

// serveChild is the body of a worker process: it serves testRegistry on
// the queue named by VELA_REMOTE_TEST_QUEUE until SIGTERM or SIGKILL.
func serveChild(url string) int {
	ackWait, _ := time.ParseDuration(os.Getenv("VELA_REMOTE_TEST_ACKWAIT"))
	slots, _ := strconv.Atoi(os.Getenv("VELA_REMOTE_TEST_SLOTS"))
	inChild = true
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	w, err := remote.Serve(ctx, remote.Config{URL: url, Queue: os.Getenv("VELA_REMOTE_TEST_QUEUE"), AckWait: ackWait, Slots: slots}, testRegistry())
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	fmt.Println("ready")
	<-ctx.Done()
	_ = w.Shutdown(context.Background())
	return 0
}

type pair struct{ A, B int }

// inChild is set in a worker process started by a test.
var inChild bool

// hooks drive the blocking test functions.
type hooks struct {
	started chan string   // a function's argument when it starts
	release chan struct{} // closed to let blocking functions return
	ended   chan error    // context.Cause when a blocking function's ctx ends
}

// testRegistry holds the functions every test serves, in-process or in a
// worker process.
func testRegistry() *remote.Registry {
	return testRegistryWith(nil)
}

func testRegistryWith(h *hooks) *remote.Registry {
	r := remote.NewRegistry()
	must(remote.Register(r, "add", func(_ context.Context, p pair) (int, error) { return p.A + p.B, nil }))
	must(remote.Register(r, "noop", func(context.Context, struct{}) (struct{}, error) { return struct{}{}, nil }))
	must(remote.Register(r, "fail", func(_ context.Context, msg string) (int, error) { return 0, errors.New(msg) }))
	must(remote.Register(r, "boom", func(_ context.Context, msg string) (int, error) { panic(msg) }))
	must(remote.Register(r, "text", func(_ context.Context, s string) (string, error) { return s, nil }))
	must(remote.Register(r, "pid", func(_ context.Context, _ int) (int, error) { return os.Getpid(), nil }))
	// "sleep" runs for the given duration or until its context ends.
	must(remote.Register(r, "sleep", func(ctx context.Context, d time.Duration) (int, error) {
		select {
		case <-time.After(d):
			return os.Getpid(), nil
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		}
	}))
	// "hang" hangs in a worker process (saying so on stdout) until it is
	// killed, and returns its pid at once anywhere else.
	hang := func(ctx context.Context, _ int) (int, error) {
		if inChild {
			fmt.Println("started")
			<-ctx.Done()
		}
		return os.Getpid(), nil
	}
	must(remote.Register(r, "hang", hang))
	// "failFirst" fails the first time it is called with a path (creating
	// the file, and saying so on stdout in a worker process) and returns
	// "ok" after; each call adds a line to the file.
	must(remote.Register(r, "failFirst", func(_ context.Context, path string) (string, error) {
		_, err := os.Stat(path)
		f, ferr := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if ferr != nil {
			return "", ferr
		}
		_, _ = f.WriteString("call\n")
		_ = f.Close()
		if err != nil {
			if inChild {
				fmt.Println("failed")
			}
			return "", errors.New("first call fails")
		}
		return "ok", nil
	}))
	must(remote.Register(r, "hangOnce", hang, remote.NotIdempotent()))
	if h != nil {
		block := func(ctx context.Context, tag string) (string, error) {
			h.started <- tag
			select {
			case <-h.release:
				return tag, nil
			case <-ctx.Done():
				h.ended <- context.Cause(ctx)
				return "", ctx.Err()
			}
		}
		must(remote.Register(r, "block", block))
		must(remote.Register(r, "blockOrFail", func(ctx context.Context, tag string) (string, error) {
			if tag == "bad" {
				return "", errors.New("bad input")
			}
			return block(ctx, tag)
		}))
		must(remote.Register(r, "blockOnce", block, remote.NotIdempotent()))
	}
	return r
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

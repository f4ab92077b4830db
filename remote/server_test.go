package remote_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
)

func itoa(n int) string { return strconv.Itoa(n) }

// Config{URL: srv.URL()} for a server without a listener reaches that
// server in-process; it used to be "", which silently meant another,
// shared embedded server.
func TestURLOfAServerWithoutListenerReachesIt(t *testing.T) {
	srv, err := remote.StartServer(remote.ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	if srv.URL() == "" || !strings.HasPrefix(srv.URL(), "vela-inprocess://") {
		t.Fatalf("URL() = %q", srv.URL())
	}
	serveInProcess(t, remote.Config{Server: srv, Queue: "inproc"})
	c := dialURL(t, remote.Config{URL: srv.URL(), Queue: "inproc"})
	if v, err := await(t, remote.Spawn[int](context.Background(), c, "add", pair{2, 2})); err != nil || v != 4 {
		t.Fatalf("= %v, %v", v, err)
	}
	url := srv.URL()
	srv.Shutdown()
	if _, err := remote.Dial(context.Background(), remote.Config{URL: url}); !errors.Is(err, workers.ErrPoolClosed) {
		t.Fatalf("Dial to a stopped in-process server: %v", err)
	}
}

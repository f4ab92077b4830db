package remote

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// A third party that publishes a message with a client's next task id as
// its Nats-Msg-Id before the client does (a worker may publish on the
// task subjects, and it sees client ids) makes the server drop the real
// task as a duplicate. The client's first publish is then answered
// "duplicate": its Spawn fails at once with ErrDuplicateTask instead of
// waiting forever for a task that was never stored. A task sent again
// because its acknowledgement was lost is still a plain success (the
// lost-acknowledgement tests cover that path).
func TestForgedDuplicateIDFailsTheSpawn(t *testing.T) {
	srv, err := StartServer(ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	c, err := Dial(context.Background(), Config{Server: srv})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	next := c.id + "." + strconv.FormatUint(c.next.Load()+1, 10)
	m := &nats.Msg{Subject: "vela.default.tasks._.evil.1", Data: []byte("x"), Header: nats.Header{"Nats-Msg-Id": {next}}}
	if _, err := nc.RequestMsg(m, 5*time.Second); err != nil { // its acknowledgement: stored
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = Spawn[int](ctx, c, "anything", 1).Await(ctx)
	if !errors.Is(err, ErrDuplicateTask) {
		t.Fatalf("a Spawn whose id was taken = %v; want ErrDuplicateTask at once", err)
	}
	// The next one, whose id is free, is stored as usual (nobody serves
	// it: it is withdrawn when its context ends).
	short, stop := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer stop()
	if _, err := Spawn[int](short, c, "anything", 2).Await(short); errors.Is(err, ErrDuplicateTask) {
		t.Fatalf("a Spawn with a free id = %v", err)
	}
}

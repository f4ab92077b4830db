package remote_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/velalang/runtime/remote"
)

// The errors the package decides for a task name the function once, in
// one place, after one "remote" (it said `remote: "nobody": remote:
// unknown function` before).
func TestTaskErrorTextsNameTheFunctionOnce(t *testing.T) {
	e := newEnv(t, remote.Config{})
	ctx := context.Background()
	_, unknown := await(t, remote.Spawn[int](ctx, e.c, "nobody", 1))
	_, badArg := await(t, remote.Spawn[int](ctx, e.c, "add", func() {}))
	_, badResult := await(t, remote.Spawn[func()](ctx, e.c, "add", pair{1, 2}))
	_, badAll := await(t, remote.SpawnAll[int](ctx, e.c, "add", []any{pair{}, make(chan int)}))
	for _, c := range []struct {
		err  error
		fn   string
		is   error
		text string
	}{
		{unknown, "nobody", remote.ErrUnknownFunction, `remote "nobody": unknown function`},
		{badArg, "add", remote.ErrCodec, `remote "add": encoding the argument: codec: `},
		{badResult, "add", remote.ErrCodec, `remote "add": decoding the result: codec: `},
		{badAll, "add", remote.ErrCodec, `remote "add": argument 1: encoding the argument: codec: `},
	} {
		if !errors.Is(c.err, c.is) {
			t.Errorf("%v does not match %v", c.err, c.is)
		}
		if msg := c.err.Error(); !strings.HasPrefix(msg, c.text) || strings.Count(msg, "remote") != 1 {
			t.Errorf("error text %q; want it to start with %q and say remote once", msg, c.text)
		}
	}
}

// A password or token in Config.URL never appears in an error.
func TestErrorsNeverShowThePassword(t *testing.T) {
	port := freePort(t) // nothing listens there
	for _, url := range []string{
		"nats://alice:hunter2@127.0.0.1:" + itoa(port),
		"nats://s3cr3t-t0ken@127.0.0.1:" + itoa(port),
		"nats://127.0.0.1:" + itoa(port) + ",nats://bob:hunter2@127.0.0.1:" + itoa(port),
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, derr := remote.Dial(ctx, remote.Config{URL: url})
		_, serr := remote.Serve(ctx, remote.Config{URL: url}, testRegistry())
		cancel()
		for _, err := range []error{derr, serr} {
			if err == nil {
				t.Fatalf("no error connecting to %s", url)
			}
			if msg := err.Error(); strings.Contains(msg, "hunter2") || strings.Contains(msg, "s3cr3t-t0ken") {
				t.Fatalf("the error shows a secret: %s", msg)
			}
		}
	}
}

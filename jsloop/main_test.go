package jsloop_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/jsloop"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newRuntime makes a Runtime closed when the test ends, with a few Go
// functions registered: "echo" returns its arguments, "fail" returns an
// error, "boom" panics, and "block" waits for its context and reports its
// end on ended (if not nil).
func newRuntime(t *testing.T, opts jsloop.Options, ended chan<- error) *jsloop.Runtime {
	t.Helper()
	r, err := jsloop.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(r.Close)
	must(t, r.Register("echo", func(_ context.Context, args []any) (any, error) { return args, nil }))
	must(t, r.Register("fail", func(context.Context, []any) (any, error) {
		return nil, errors.New("disk on fire")
	}))
	must(t, r.Register("boom", func(context.Context, []any) (any, error) { panic("kaboom") }))
	must(t, r.Register("block", func(ctx context.Context, _ []any) (any, error) {
		<-ctx.Done()
		if ended != nil {
			ended <- context.Cause(ctx)
		}
		return nil, ctx.Err()
	}))
	must(t, r.Register("sleep", func(ctx context.Context, args []any) (any, error) {
		d := time.Duration(toInt(args[0])) * time.Millisecond
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-tm.C:
			return "slept", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}))
	return r
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return 0
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// run runs src with a generous deadline, so that a hang fails the test
// instead of the whole run.
func run(t *testing.T, r *jsloop.Runtime, src string) (any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := r.RunScript(ctx, "test.js", src)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RunScript did not finish: %v", err)
	}
	return v, err
}

func runOK(t *testing.T, r *jsloop.Runtime, src string) any {
	t.Helper()
	v, err := run(t, r, src)
	if err != nil {
		t.Fatalf("RunScript: %v", err)
	}
	return v
}

func wantJSError(t *testing.T, err error, name, msgPart string) *jsloop.JSError {
	t.Helper()
	var je *jsloop.JSError
	if !errors.As(err, &je) {
		var pe *async.PanicError
		if errors.As(err, &pe) {
			t.Logf("%s", pe.Stack)
		}
		t.Fatalf("error %v (%T), want a *JSError", err, err)
	}
	if je.Name != name || !strings.Contains(je.Message, msgPart) {
		t.Fatalf("JSError %q / %q, want name %q and a message containing %q", je.Name, je.Message, name, msgPart)
	}
	return je
}

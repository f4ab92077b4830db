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

// probe sees the "block" function of newRuntime: each call sends on
// started when it starts and its context's cause on ended when that ends.
type probe struct {
	started chan struct{}
	ended   chan error
}

func newProbe() *probe {
	return &probe{started: make(chan struct{}, 64), ended: make(chan error, 64)}
}

// newRuntime makes a Runtime closed when the test ends, with a few Go
// functions registered: "echo" returns its arguments, "fail" returns an
// error, "boom" panics, "sleep" sleeps for its argument in milliseconds,
// and "block" waits for its context, reporting to p if not nil.
func newRuntime(t *testing.T, opts jsloop.Options, p *probe) *jsloop.Runtime {
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
		if p != nil {
			p.started <- struct{}{}
		}
		<-ctx.Done()
		if p != nil {
			p.ended <- context.Cause(ctx)
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

// endedIfStarted returns the cause of the end of a "block" call's context
// if that call started by now (a task whose deadline or abort came while
// it was queued never runs), and ok false otherwise.
func (p *probe) endedIfStarted() (cause error, ok bool) {
	select {
	case <-p.started:
		return <-p.ended, true
	default:
		return nil, false
	}
}

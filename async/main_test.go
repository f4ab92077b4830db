package async

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine is left behind once
// they have all run: nothing in package async may start a goroutine that
// outlives the work it was started for.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// nilCtx is a nil context.Context: Await and friends treat it as
// context.Background.
var nilCtx context.Context

// errBoom is a plain error that tests reject futures with.
var errBoom = errors.New("boom")

// codeError is a typed error, to check that errors.As reaches a cause.
type codeError struct{ code int }

func (e *codeError) Error() string { return "code error" }

// await waits for f with no deadline. A future that never settles hangs the
// test, which is left to go test -timeout (or to synctest's deadlock
// detection inside a bubble).
func await[T any](t *testing.T, f *Future[T]) (T, error) {
	t.Helper()
	return f.Await(context.Background())
}

// wantState fails the test unless f is in state want.
func wantState[T any](t *testing.T, f *Future[T], want State) {
	t.Helper()
	if got := f.State(); got != want {
		t.Fatalf("State() = %v, want %v", got, want)
	}
}

// isClosed reports whether c is closed, without blocking.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// goid returns the calling goroutine's id, parsed from its stack header
// ("goroutine 7 [running]:"). Tests use it to check which goroutine ran a
// callback.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	b = b[:bytes.IndexByte(b, ' ')]
	id, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		panic("goid: " + err.Error())
	}
	return id
}

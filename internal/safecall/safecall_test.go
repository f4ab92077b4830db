package safecall_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/velalang/runtime/internal/safecall"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type goexitRecorder struct{ called chan struct{} }

func (g goexitRecorder) Goexited() { close(g.called) }

func boom(int) (int, error) { panic("boom") }

func TestCallReturnsValueAndError(t *testing.T) {
	errOdd := errors.New("odd")
	fn := func(n int) (int, error) {
		if n%2 == 1 {
			return 0, errOdd
		}
		return n * 2, nil
	}
	g := goexitRecorder{make(chan struct{})}
	if v, r, err := safecall.Call(fn, 4, g); v != 8 || r != nil || err != nil {
		t.Errorf("Call(4) = %v, %v, %v; want 8, nil, nil", v, r, err)
	}
	if _, r, err := safecall.Call(fn, 3, g); r != nil || err != errOdd {
		t.Errorf("Call(3) = _, %v, %v; want nil, errOdd", r, err)
	}
}

func TestCallRecoversPanicsWithTheirStack(t *testing.T) {
	v, r, err := safecall.Call(boom, 1, goexitRecorder{make(chan struct{})})
	if v != 0 || err != nil || r == nil || r.Value != "boom" {
		t.Fatalf("Call(boom) = %v, %v, %v; want 0, a recovery of \"boom\", nil", v, r, err)
	}
	if !strings.Contains(string(r.Stack), "safecall_test.boom") {
		t.Errorf("the stack does not name the panicking function:\n%s", r.Stack)
	}
	var rerr runtime.Error
	_, r, _ = safecall.Call(func(n int) (int, error) { return 10 / n, nil }, 0, goexitRecorder{make(chan struct{})})
	if r == nil || !errors.As(r.Value.(error), &rerr) {
		t.Errorf("integer division by zero: recovered %v, want a runtime.Error", r)
	}
}

func TestCallReportsGoexit(t *testing.T) {
	g := goexitRecorder{make(chan struct{})}
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		safecall.Call(func(int) (int, error) { runtime.Goexit(); return 0, nil }, 0, g)
		t.Error("Call returned after runtime.Goexit")
	}()
	<-g.called
	<-returned // the goroutine's deferred calls ran: it is exiting
}

// Each makes every call even when one of them calls runtime.Goexit or
// panics, then lets the Goexit or panic go on.
func TestEachSurvivesGoexitAndPanic(t *testing.T) {
	for _, bad := range []func(){runtime.Goexit, func() { panic("each") }} {
		var made [5]bool
		done := make(chan any)
		go func() {
			defer func() { done <- recover() }()
			safecall.Each([]int{0, 1, 2, 3, 4}, func(i int) {
				made[i] = true
				if i == 1 || i == 3 {
					bad()
				}
			})
		}()
		r := <-done
		for i, m := range made {
			if !m {
				t.Errorf("call %d not made (recovered %v)", i, r)
			}
		}
	}
}

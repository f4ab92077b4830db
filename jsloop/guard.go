package jsloop

import (
	"bytes"
	"context"
	"errors"
	"runtime/debug"

	"github.com/dop251/goja"
	"github.com/velalang/runtime/async"
)

// guard runs Go code that reads JavaScript values (Export, Get, String: any
// of them may run a getter, a proxy trap or a toString the script wrote) as
// a call into the VM. So a JavaScript exception comes back as an error
// instead of a Go panic, an endless getter is stopped by the VM's
// interrupt, and nothing unwinds the loop goroutine. One guard per VM; it
// is used on the VM's goroutine only, and may be nested.
type guard struct {
	call goja.Callable
	body func()
	// ctx is the context whose end interrupts the VM (the run's, the
	// spawnJS call's). Once it has ended, run refuses to call into the VM:
	// goja clears the interrupt when it has stopped one call, so a second
	// endless getter would never be stopped.
	ctx context.Context
	// panicked is set when a Go panic came through: goja passes those on
	// without unwinding its own state, so the VM may be inconsistent.
	panicked bool
}

func newGuard(vm *goja.Runtime) *guard {
	g := &guard{}
	g.call, _ = goja.AssertFunction(vm.ToValue(func(goja.FunctionCall) goja.Value {
		body := g.body
		g.body = nil
		body()
		return goja.Undefined()
	}))
	return g
}

// run calls fn inside the VM. It returns the exception fn caused (a
// *goja.Exception), an uncatchable error (*goja.InterruptedError,
// *goja.StackOverflowError), or, for a Go panic that goja passed on, an
// error wrapping *async.PanicError (goja's own values never panic that
// way).
func (g *guard) run(fn func()) (err error) {
	if g == nil {
		return errNoVM
	}
	if g.ctx != nil && g.ctx.Err() != nil {
		return context.Cause(g.ctx)
	}
	defer func() {
		if p := recover(); p != nil {
			g.panicked = true
			err = &async.PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	g.body = fn
	_, err = g.call(goja.Undefined())
	return err
}

var errNoVM = errors.New("jsloop: no VM to read the value in")

// describe is the *JSError of the thrown value v, read through g: each
// field is read on its own, and a field whose reading throws or is
// interrupted keeps its best-effort default. stack is the stack to report
// when v has none of its own.
func describe(g *guard, v goja.Value, stack string) *JSError {
	e := &JSError{Stack: stack}
	if v == nil {
		return e
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		e.Message = "a thrown " + primitiveKind(v)
		_ = g.run(func() { e.Message = v.String() })
		_ = g.run(func() { e.Value = v.Export() })
		return e
	}
	_ = g.run(func() {
		if n := obj.Get("name"); isSet(n) {
			e.Name = n.String()
		}
	})
	hasMessage := false
	_ = g.run(func() {
		if m := obj.Get("message"); isSet(m) {
			e.Message = m.String()
			hasMessage = true
		}
	})
	if !hasMessage {
		e.Message = "[object]"
		_ = g.run(func() { e.Message = "[object " + obj.ClassName() + "]" })
		_ = g.run(func() { e.Message = obj.String() })
	}
	_ = g.run(func() {
		if s := obj.Get("stack"); isSet(s) {
			if str := s.String(); str != "" {
				e.Stack = str
			}
		}
	})
	_ = g.run(func() { e.Value = obj.Export() })
	return e
}

func isSet(v goja.Value) bool { return v != nil && !goja.IsUndefined(v) }

// primitiveKind names a primitive for a message, without converting it.
func primitiveKind(v goja.Value) string {
	switch {
	case goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	}
	if _, ok := v.(*goja.Symbol); ok {
		return "symbol"
	}
	return "value"
}

// exceptionError turns an error from goja into the error RunScript
// returns: a *JSError for a JavaScript exception, a syntax error or a
// stack overflow (a RangeError, as JavaScript would name it), the error
// itself otherwise (an interrupt, say).
//
// goja's errors are told apart by type, never with errors.As or errors.Is:
// (*goja.Exception).Unwrap runs an instanceof check on the thrown value,
// which a proxy's getPrototypeOf trap can turn into a Go panic.
func exceptionError(g *guard, err error) error {
	switch e := err.(type) {
	case *goja.StackOverflowError:
		return &JSError{Name: "RangeError", Message: stackOverflowMessage, Stack: "RangeError: " + stackOverflowMessage + "\n" + formatStack(e.Stack())}
	case *goja.Exception:
		return describe(g, e.Value(), formatStack(e.Stack()))
	case *goja.CompilerSyntaxError:
		return &JSError{Name: "SyntaxError", Message: e.Message, Stack: e.Error()}
	}
	return err
}

// formatStack writes frames as JavaScript stack lines, without calling
// into the VM.
func formatStack(frames []goja.StackFrame) string {
	var b bytes.Buffer
	for i := range frames {
		b.WriteString("\tat ")
		frames[i].Write(&b)
		b.WriteByte('\n')
	}
	return b.String()
}

// isUncatchable reports whether err is an interrupt or a stack overflow:
// errors that must end the JavaScript running, not become a value it sees.
func isUncatchable(err error) bool {
	switch err.(type) {
	case *goja.InterruptedError, *goja.StackOverflowError:
		return true
	}
	return false
}

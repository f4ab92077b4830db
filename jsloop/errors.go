package jsloop

import (
	"context"
	"errors"
	"fmt"

	"github.com/dop251/goja"
	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

var (
	// ErrUnsettled is the error of a RunScript whose completion value is a
	// promise still pending when no work is left: nothing can settle it any
	// more (Node reports the same for an unsettled top-level await).
	ErrUnsettled = errors.New("jsloop: the script's promise never settled")
	// ErrBroken is returned by RunScript after a Go function installed on the
	// VM, or a callback posted to Loop(), panicked: goja leaves its VM
	// inconsistent after a Go panic, so the Runtime refuses further
	// scripts. Close it and make a new one. Nothing JavaScript throws or
	// returns breaks a Runtime.
	ErrBroken = errors.New("jsloop: runtime unusable after a Go panic on the VM")
)

// JSError is a JavaScript exception that ended RunScript: an uncaught
// throw, or a promise rejected with no handler by the end of a loop turn.
// Name and Message are the thrown Error's (Name is empty for a thrown value
// that is not an object); Stack is its stack as JavaScript sees it. A
// spawnJS export that throws rejects the spawnJS promise with an Error made
// of the same three fields, Stack being the worker runtime's.
type JSError struct {
	Name    string
	Message string
	Stack   string
	// Value is the thrown value exported to Go, or nil.
	Value any
}

// Error returns "Name: Message", or the message alone when Name is empty.
func (e *JSError) Error() string {
	if e.Name == "" {
		return e.Message
	}
	return e.Name + ": " + e.Message
}

// errorValue is the JavaScript Error an error from Go becomes when it
// rejects a spawn or spawnJS promise (see the package documentation).
func (r *Runtime) errorValue(err error) goja.Value {
	var (
		jsErr *JSError
		pe    *async.PanicError
		te    *workers.TimeoutError
	)
	switch {
	case errors.As(err, &jsErr):
		obj := r.newError(jsErr.Name, jsErr.Message)
		if jsErr.Stack != "" {
			_ = obj.Set("stack", jsErr.Stack)
		}
		return obj
	case errors.As(err, &pe):
		obj := r.newError("PanicError", fmt.Sprint(pe.Value))
		_ = obj.Set("goStack", string(pe.Stack))
		return obj
	case errors.As(err, &te):
		return r.newError("TimeoutError", te.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return r.newError("TimeoutError", err.Error())
	case errors.Is(err, async.ErrCancelled), errors.Is(err, context.Canceled):
		return r.newError("AbortError", err.Error())
	}
	obj := r.newError("GoError", err.Error())
	if u := errors.Unwrap(err); u != nil {
		_ = obj.Set("cause", r.newError("GoError", u.Error()))
	}
	return obj
}

// newError makes an Error with the given name and message.
func (r *Runtime) newError(name, msg string) *goja.Object {
	obj, err := r.errorCtor(nil, r.vm.ToValue(msg))
	if err != nil {
		return r.vm.NewGoError(errors.New(msg))
	}
	_ = obj.Set("name", name)
	return obj
}

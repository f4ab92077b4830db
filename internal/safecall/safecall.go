// Package safecall runs user code so that neither a panic nor a
// runtime.Goexit escapes unnoticed.
package safecall

import "runtime/debug"

// Body is user code with a handler for runtime.Goexit.
type Body interface {
	// Call runs the user code.
	Call()
	// Goexited is called, from a deferred call, if Call ended with
	// runtime.Goexit. The goroutine is exiting and cannot be stopped; Goexited
	// must record the outcome and arrange for any work the goroutine owed.
	Goexited()
}

// Do runs b.Call. If it panics, Do recovers and returns the panic value and
// the stack of the panicking goroutine, taken at the recovery. If it calls
// runtime.Goexit, Do calls b.Goexited and never returns. The two deferred
// calls tell the cases apart: recover returns nil during a Goexit, and since
// Go 1.21 never returns nil during a panic.
func Do(b Body) (panicked bool, value any, stack []byte) {
	normal := false
	defer func() {
		if !normal && !panicked {
			b.Goexited()
		}
	}()
	func() {
		defer func() {
			if normal {
				return
			}
			if v := recover(); v != nil {
				panicked, value, stack = true, v, debug.Stack()
			}
		}()
		b.Call()
		normal = true
	}()
	normal = true
	return panicked, value, stack
}

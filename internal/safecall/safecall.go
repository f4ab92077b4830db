// Package safecall runs user code so that neither a panic nor a
// runtime.Goexit escapes unnoticed.
package safecall

import "runtime/debug"

// Recovered is a panic caught by Call: the value given to panic and the
// stack of the panicking goroutine, taken where it was recovered.
type Recovered struct {
	Value any
	Stack []byte
}

// Goexiter is told that the user code called runtime.Goexit.
type Goexiter interface {
	// Goexited is called from a deferred call while the goroutine unwinds.
	// The goroutine is exiting and cannot be stopped: Goexited must record the
	// outcome and arrange for any work the goroutine still owed.
	Goexited()
}

// Call returns fn(a). If fn panics, Call recovers and returns what it caught
// in r. If fn calls runtime.Goexit, Call calls g.Goexited and never returns.
// The two deferred calls tell the cases apart: recover returns nil during a
// Goexit, and (since Go 1.21) never during a panic. Call itself allocates
// nothing unless fn panics.
func Call[A, T any](fn func(A) (T, error), a A, g Goexiter) (v T, r *Recovered, err error) {
	normal := false
	defer func() {
		if !normal {
			g.Goexited()
		}
	}()
	v, r, err = call(fn, a)
	normal = true
	return v, r, err
}

func call[A, T any](fn func(A) (T, error), a A) (v T, r *Recovered, err error) {
	defer func() {
		if p := recover(); p != nil {
			r = &Recovered{Value: p, Stack: debug.Stack()}
		}
	}()
	v, err = fn(a)
	return v, nil, err
}

// Each calls call(x) for each x of xs, in order. If a call panics or calls
// runtime.Goexit, the calls after it are still made, from a deferred call
// while the goroutine unwinds, and then the panic or Goexit goes on. It is
// how the library runs a list of user callbacks (wakers, cancellation
// handlers) or settles a list of futures whose callbacks are user code:
// one callback that misbehaves cannot leave the others unmade.
func Each[E any](xs []E, call func(E)) {
	i := 0
	defer func() {
		if i < len(xs) {
			Each(xs[i+1:], call)
		}
	}()
	for ; i < len(xs); i++ {
		call(xs[i])
	}
}

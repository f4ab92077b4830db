// Package hook lets package workers watch a promise settle without a closure
// per task and without widening the public API of package async.
package hook

// Observer is told, once, how the future it is attached to settled: state is
// the async.State as a uint8, err the future's error. It runs on the
// goroutine that settled the future, before the future's waiters are
// released, and must not block.
type Observer interface {
	Settled(state uint8, err error)
}

// Attach attaches o to promise, which must be an *async.Promise[T] that has
// not been published yet. It is set by package async when it is
// initialised.
var Attach func(promise any, o Observer)

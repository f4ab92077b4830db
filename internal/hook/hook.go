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

// Unsettled reports whether the future of promise, an *async.Promise[T], is
// still pending with no settle under way; async.Future.State reports a
// settle in progress as Pending until its value is visible. Set by package
// async when it is initialised.
var Unsettled func(promise any) bool

// Attach attaches o to promise, which must be an *async.Promise[T] that has
// not been published yet. It is set by package async when it is
// initialised.
var Attach func(promise any, o Observer)

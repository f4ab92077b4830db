// Package hook lets package workers attach a cancellation handler to a
// promise without a closure per task and without widening the public API of
// package async.
package hook

// Canceler is told, once, that the future it is attached to was cancelled.
// It runs on the goroutine that cancelled the future, before the future's
// waiters are released, and must not block.
type Canceler interface {
	FutureCancelled(err error)
}

// Attach attaches c to promise, which must be an *async.Promise[T]. It is set
// by package async when it is initialised; Attach is not safe to call once
// the promise may already be settled, so callers attach before they publish
// the future.
var Attach func(promise any, c Canceler)

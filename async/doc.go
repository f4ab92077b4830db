// Package async is the Vela runtime's bridge between goroutines and a
// single-threaded event loop.
//
// A [Promise] is the write side of a one-shot value; its [Future] is the read
// side. A future settles exactly once, as fulfilled, rejected or cancelled,
// and the first settle wins. Goroutines wait for it with [Future.Await]; an
// event loop asks it with [Future.Poll] and is woken through a [Waker] when it
// settles. [Loop] is such an event loop: callbacks and polled tasks run one at
// a time on the goroutine that calls [Loop.Run].
//
// The combinators [All], [AllSettled], [Any], [Race], [Then] and
// [AsCompleted] compose futures without starting goroutines of their own.
//
// Every method of [Future] and [Promise] is safe for concurrent use. A
// pending future costs one allocation; a goroutine that blocks in Await on a
// pending future allocates one channel, shared by every later waiter.
package async

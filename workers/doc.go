// Package workers runs CPU-heavy or blocking functions on bounded pools of
// goroutines and hands each result back as an [async.Future], which
// goroutines can Await and a single-threaded [async.Loop] can poll.
//
// [Spawn] submits one function and never blocks; [SpawnAll] submits a
// batch of any size as one queue entry and collects the values in input
// order, failing fast with a [*TaskError] that names the failed task. Each
// function receives a context that ends when its future is cancelled, when
// a timeout passes ([WithTimeout] from submission, [WithRunTimeout] from
// the start of the function), or when the context given to Spawn ends; the
// future settles at that moment, whether or not the function has returned.
// Panics and runtime.Goexit inside a function reject its future with a
// [*PanicError] or [async.ErrGoexit]; they never take a worker down.
// [SpawnAllSettled] runs a batch without failing fast and keeps every
// outcome. [WithRetry] calls a failing function again after a backoff, and
// [WithDelay] makes a task due later; in both waits the task holds no
// worker and no timer of its own, only an entry of its pool's deadline
// heap.
//
// Work runs on the process-wide [Default] pool unless [OnPool] names another
// one made with [NewPool]. A pool starts its workers on demand, up to its
// MaxWorkers, and a worker exits as soon as it finds the queue empty, so a
// pool at rest holds no goroutine; [Config].IdleTimeout lets idle workers
// wait a while for the next task instead, which suits an event loop: a
// result reaches its continuation from a worker whose stack has already
// grown, not from a fresh goroutine (see BENCHMARKS.md, "Loop hand-off").
//
// Every function runs with runtime/pprof labels: "worker" names the worker
// ("vela-worker-3") and "task" the name given with [WithName] or
// [WithNames], so CPU
// profiles and execution traces show which work ran where.
package workers

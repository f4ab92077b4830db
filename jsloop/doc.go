// Package jsloop runs JavaScript (goja) on a Vela event loop (async.Loop),
// with spawn() over Go functions on a worker pool and spawnJS() over
// JavaScript modules run in parallel in other runtimes.
//
// A Runtime is one goja VM on one loop. RunScript evaluates a script on the
// calling goroutine, which runs the loop until no work is left (no timer,
// no spawned call, no pending Await), so a script may start Go work from
// any callback and RunScript still waits for it. The VM is only touched on
// that goroutine; Go code elsewhere reaches it by posting to Loop().
//
// # JavaScript globals
//
// Besides the ECMAScript built-ins (goja's), a script sees:
//
//   - setTimeout, clearTimeout, setInterval, clearInterval (numeric ids)
//     and queueMicrotask, ordered as in Node: synchronous code, then
//     microtasks, then timers; timers due at the same time fire in the
//     order they were made, with microtasks run between two callbacks.
//   - AbortController and AbortSignal (abort(), aborted, reason, onabort,
//     addEventListener("abort"), throwIfAborted(), AbortSignal.abort(),
//     AbortSignal.timeout(ms), AbortSignal.any()). AbortSignal.timeout does
//     not keep RunScript alive.
//   - spawn(name, ...args): runs the Go function registered as name (see
//     Register) on Options.Pool and returns a promise of its result.
//     spawn.with({timeout, signal, name}, name, ...args) adds a timeout in
//     milliseconds (0 means none), an AbortSignal and a task name.
//   - spawn.stream(name, ...args) (and spawn.stream.with({buffer,
//     timeout, signal, name}, ...)): an async iterable over a Go function
//     registered with RegisterStream; spawnJS.stream(module, export,
//     ...args) likewise over a generator run in a worker runtime. break
//     out of the for await stops the producer.
//   - new Channel(capacity): send, recv, close and for await, one channel
//     shared with the spawnJS workers and Go functions it is passed to.
//   - setImmediate, clearImmediate, structuredClone, TextEncoder,
//     TextDecoder, performance.now, atob and btoa, as in Node.
//   - spawnJS(module, export, ...args): calls an export of one of
//     Options.Modules in a fresh runtime on Options.JSPool, in parallel
//     with the loop; arguments and result cross as JSON, refusing
//     functions, symbols and BigInts with a DataCloneError.
//     spawnJS.with({timeout, signal, name}, ...) as spawn.with; a timeout or
//     an abort interrupts the worker's JavaScript.
//
// Promises of spawn and spawnJS reject with Error objects whose name is
// GoError (a Go error; .cause holds the error it wraps, if any),
// TimeoutError (the timeout passed), AbortError (or the signal's own
// reason), PanicError (the Go function panicked; .goStack is its stack),
// TypeError (an unknown function or module name) or, for spawnJS, the
// name the worker's error had (with the worker's stack) or DataCloneError.
//
// An uncaught exception, or a promise rejected with no handler by the end
// of a loop turn, ends RunScript with a *JSError. docs/jsloop.md in the
// repository records the design and every choice the issue left open.
package jsloop

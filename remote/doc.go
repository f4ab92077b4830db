// Package remote runs Worker API tasks on other machines through NATS
// JetStream, and hands each result back as an async.Future.
//
// A program that calls workers.Spawn moves a function to other processes by
// registering it under a name in a Registry, serving that registry with
// Serve in the processes that should run it, and calling Spawn on a Client
// made with Dial:
//
//	reg := remote.NewRegistry()
//	remote.Register(reg, "resize", resize) // func(context.Context, Image) (Image, error)
//	w, _ := remote.Serve(ctx, remote.Config{}, reg)
//	defer w.Shutdown(ctx)
//
//	c, _ := remote.Dial(ctx, remote.Config{})
//	defer c.Close()
//	img, err := remote.Spawn[Image](ctx, c, "resize", img, workers.WithTimeout(2*time.Second)).Await(ctx)
//
// With a zero Config both sides use one NATS server embedded in the process,
// started on first use and stopped when the last Client and Worker using it
// are closed; Config.URL points them at a NATS server elsewhere, which may
// be a Server started with StartServer and a listener.
//
// The futures keep the Worker API's semantics: a value or an error, a panic
// as an *async.PanicError with the remote stack, a timeout that settles at
// the deadline on the caller's clock, cancellation that removes a queued
// task and ends a running function's context, SpawnAll that fails fast.
// Delivery is at least once: a task whose worker dies is run again by
// another worker after Config.AckWait, unless its function was registered
// NotIdempotent. docs/remote-delivery.md in the repository explains the
// guarantees.
package remote

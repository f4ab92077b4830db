// Package demo is the mixed synthetic workload of velamon and of the
// dashboard's browser test: two pools, a remote queue on an embedded NATS
// server with two workers, failures, panics, timeouts, cancels, a full
// queue, and a worker that dies and comes back.
package demo

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/velalang/runtime/observe"
	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
)

// Queue is the remote queue of the demo.
const Queue = "jobs"

// Options configure the demo.
type Options struct {
	// Listen makes the embedded server listen on a free loopback port, for
	// workers in other processes.
	Listen bool
	// Dying, if set, starts the worker that dies, given the server's URL,
	// and returns a function that kills it (velamon runs it in a child
	// process and kills that with SIGKILL). Nil runs it in this process,
	// and "kills" it with a Shutdown whose context has already ended, so
	// that the tasks it holds go back to the queue.
	Dying func(url string) (kill func(), err error)
	// Life is how long the dying worker lives, and how long it stays dead;
	// 0 means 10s and 4s.
	Life, Dead time.Duration
	// Tick is the pace of the load; 0 means 25ms.
	Tick time.Duration
}

// Demo is a running workload. Stop ends it.
type Demo struct {
	srv    *remote.Server
	images *workers.Pool
	io     *workers.Pool
	client *remote.Client
	worker *remote.Worker
	opts   Options
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Registry holds the remote functions of the demo.
func Registry() *remote.Registry {
	reg := remote.NewRegistry()
	_ = remote.Register(reg, "render", func(ctx context.Context, ms int) (int, error) {
		if err := sleep(ctx, time.Duration(ms)*time.Millisecond); err != nil {
			return 0, err
		}
		if ms%20 == 0 {
			return 0, errors.New("render: scene has no camera")
		}
		return ms, nil
	})
	return reg
}

// Start starts the workload, watched by o.
func Start(o *observe.Observer, opts Options) (*Demo, error) {
	if opts.Tick == 0 {
		opts.Tick = 25 * time.Millisecond
	}
	if opts.Life == 0 {
		opts.Life, opts.Dead = 10*time.Second, 4*time.Second
	}
	port := 0
	if opts.Listen {
		port = -1
	}
	srv, err := remote.StartServer(remote.ServerConfig{Port: port})
	if err != nil {
		return nil, err
	}
	d := &Demo{srv: srv, opts: opts}
	fail := func(err error) (*Demo, error) { d.stopAll(); return nil, err }
	if d.images, err = o.NewPool(workers.Config{Name: "images", MaxWorkers: 6, IdleTimeout: time.Second}); err != nil {
		return fail(err)
	}
	if d.io, err = o.NewPool(workers.Config{Name: "io", MaxWorkers: 2, QueueSize: 40}); err != nil {
		return fail(err)
	}
	cfg := remote.Config{Server: srv, Queue: Queue, Slots: 2, AckWait: 2 * time.Second, MaxDeliver: 4}
	ctx := context.Background()
	if d.worker, err = o.Serve(ctx, cfg, Registry()); err != nil {
		return fail(err)
	}
	if d.client, err = o.Dial(ctx, cfg); err != nil {
		return fail(err)
	}
	ctx, d.cancel = context.WithCancel(ctx)
	d.wg.Add(2)
	go d.load(ctx)
	go d.dying(ctx, cfg)
	return d, nil
}

// URL is the embedded server's URL ("" without Options.Listen).
func (d *Demo) URL() string { return d.srv.URL() }

// Stop ends the load and the dying worker, and shuts everything down.
func (d *Demo) Stop() {
	d.cancel()
	d.wg.Wait()
	d.stopAll()
}

func (d *Demo) stopAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if d.client != nil {
		_ = d.client.Close()
	}
	if d.worker != nil {
		_ = d.worker.Shutdown(ctx)
	}
	for _, p := range []*workers.Pool{d.images, d.io} {
		if p != nil {
			_ = p.Shutdown(ctx)
		}
	}
	d.srv.Shutdown()
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

var errCorrupt = errors.New("corrupt image")

// load spawns the mix until ctx ends; the tasks' contexts derive from ctx,
// so they end with it.
func (d *Demo) load(ctx context.Context) {
	defer d.wg.Done()
	rng := rand.New(rand.NewPCG(1, 2))
	t := time.NewTicker(d.opts.Tick)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// images: resizes of 20-200ms; some fail, a few panic, some have a
		// deadline they miss; now and then a batch of thumbnails.
		ms := 20 + rng.IntN(180)
		r := rng.IntN(100)
		opts := []workers.Option{workers.OnPool(d.images), workers.WithName("resize")}
		if r < 10 {
			opts = append(opts, workers.WithTimeout(120*time.Millisecond))
		}
		workers.Spawn(ctx, func(ctx context.Context) (int, error) {
			if err := sleep(ctx, time.Duration(ms)*time.Millisecond); err != nil {
				return 0, err
			}
			switch {
			case r >= 97:
				panic("resize: index out of range")
			case r >= 91:
				return 0, errCorrupt
			}
			return ms, nil
		}, opts...)
		if n%40 == 0 {
			thumbs := make([]func(context.Context) (int, error), 12)
			for i := range thumbs {
				thumbs[i] = func(ctx context.Context) (int, error) { return i, sleep(ctx, 30*time.Millisecond) }
			}
			workers.SpawnAll(ctx, thumbs, workers.OnPool(d.images), workers.WithName("thumbnail"))
		}
		// io: slow fetches on a small pool with a bounded queue, so the queue
		// fills and some calls are refused; callers give up on some.
		if n%2 == 0 {
			ms := 100 + rng.IntN(300)
			parent := ctx
			if rng.IntN(100) < 15 {
				var cancel context.CancelFunc
				parent, cancel = context.WithTimeout(ctx, 150*time.Millisecond)
				time.AfterFunc(time.Second, cancel)
			}
			workers.Spawn(parent, func(ctx context.Context) (int, error) {
				return ms, sleep(ctx, time.Duration(ms)*time.Millisecond)
			}, workers.OnPool(d.io), workers.WithName("fetch"))
		}
		// the remote queue: renders of 50-300ms, some failing.
		if n%2 == 1 {
			remote.Spawn[int](ctx, d.client, "render", 50+rng.IntN(250), workers.WithTimeout(10*time.Second)) // longer than AckWait: a task a dead worker held still runs
		}
	}
}

// dying runs the worker that dies: it lives Options.Life, is dead
// Options.Dead, and so on, until ctx ends.
func (d *Demo) dying(ctx context.Context, cfg remote.Config) {
	defer d.wg.Done()
	for {
		kill, err := d.startDying(cfg)
		if err != nil {
			return
		}
		if sleep(ctx, d.opts.Life) != nil {
			kill()
			return
		}
		kill()
		if sleep(ctx, d.opts.Dead) != nil {
			return
		}
	}
}

func (d *Demo) startDying(cfg remote.Config) (func(), error) {
	if d.opts.Dying != nil {
		return d.opts.Dying(d.srv.URL())
	}
	w, err := remote.Serve(context.Background(), cfg, Registry())
	if err != nil {
		return nil, err
	}
	return func() {
		ended, cancel := context.WithCancel(context.Background())
		cancel()
		_ = w.Shutdown(ended)
	}, nil
}

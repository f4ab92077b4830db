package observe

import (
	"context"
	"time"
)

// startLocked starts the sampler, once, unless the Observer is closed.
// The sampler reads every pool and queue each Options.Sample, for the
// dashboard's charts and the queues' gauges; Close stops it (its context
// ends, which also cuts a QueueInfo short) and waits for it.
func (o *Observer) startLocked() {
	if o.stop != nil || o.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	o.stop, o.stopped = cancel, make(chan struct{})
	go o.sampler(ctx, o.stopped)
}

func (o *Observer) sampler(ctx context.Context, stopped chan<- struct{}) {
	defer close(stopped)
	t := time.NewTicker(o.opts.Sample)
	defer t.Stop()
	o.sampleOnce(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			o.sampleOnce(ctx)
		}
	}
}

// sampleOnce reads every pool and queue once.
func (o *Observer) sampleOnce(ctx context.Context) {
	pools, queues := o.snapshot()
	now := time.Now()
	for _, pw := range pools {
		pw.sample(now)
	}
	for _, q := range queues {
		q.sample(ctx)
	}
}

package remote

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/velalang/runtime/workers"
)

// errCallerCancelled is the cause a running function's context ends with
// when its caller cancelled the task or its caller's context ended.
var errCallerCancelled = errors.New("remote: cancelled by the caller")

// errShutdown is the cause a running function's context ends with when its
// Worker's Shutdown context ended first; the task goes back to the queue.
var errShutdown = errors.New("remote: worker shut down; task returned to the queue")

// Worker takes tasks from one queue and runs them on a workers.Pool of
// Config.Slots workers. It is made by Serve and stopped by Shutdown.
//
// A Worker holds at most 2×Slots tasks: Slots running and up to Slots
// waiting on its pool, so that the next function starts without a round
// trip to the server; the rest stay in the queue for other workers. While
// its functions take under a millisecond on average it holds up to 64, so
// that small tasks are not paced by round trips; as soon as one of them
// runs longer than min(AckWait/4, 100ms) it gives back the tasks beyond
// 2×Slots it has not started. It asks for tasks with its own pull requests
// (intake.go), one open at a time, so a task's AckWait clock never runs in
// a buffer nobody watches. While a task is held (its function queued on the
// pool or running) the Worker tells the server every AckWait/3 that it is
// alive, so a long function is never redelivered while its worker lives. A
// cancel from the caller ends the function's context at once; a deadline
// travels with the task and bounds the function's context on the worker's
// clock.
//
// The Worker's parts: this file (Serve, Shutdown, the ticker), intake.go
// (pull requests and deliveries), run.go (one task from acceptance to its
// answer), cancels.go (cancels and their bounded memory).
type Worker struct {
	s     settings
	reg   *Registry
	l     *link
	kv    jetstream.KeyValue // give-backs of NotIdempotent tasks (giveback.go)
	pool  *workers.Pool
	inbox string // "_VELA.<user>.<id>.p.", followed by a pull request's number

	sub       *nats.Subscription // deliveries and pull statuses
	cancelSub *nats.Subscription
	infoSub   *nats.Subscription // QueueInfo's requests
	tickStop  chan struct{}
	tickDone  chan struct{}
	shutOnce  sync.Once
	shutErr   error

	mu        sync.Mutex
	stopping  bool            // no more pull requests; deliveries are given back
	held      int             // tasks delivered and not yet answered or given back
	runs      map[string]*run // held tasks that were accepted, by key ("<user>.<client>.<n>")
	nruns     uint64          // runs accepted so far, to order them
	cancels   cancelMemory    // cancels of tasks this worker did not hold
	idle      chan struct{}   // closed when held becomes 0, if made
	needSetup bool            // the stream or consumer may be missing: tick creates them
	in        intake          // the pull request and the window
}

// poolIdle is how long the pool's idle workers wait for the next task
// before they exit, so that a stream of tasks does not start a goroutine
// for each.
const poolIdle = time.Second

// Serve starts a Worker that takes tasks for cfg.Queue and runs the
// functions of r. ctx bounds the setup only: connecting, and creating the
// queue's stream and consumer if they are missing (Serve sets the
// consumer's AckWait and MaxDeliver from cfg). The Worker then runs until
// Shutdown. Bad input (nil ctx or r, a bad Config) gives an error wrapping
// workers.ErrInvalidArgument.
func Serve(ctx context.Context, cfg Config, r *Registry) (*Worker, error) {
	if ctx == nil {
		return nil, invalid("Serve with a nil context")
	}
	if r == nil || r.funcs == nil {
		return nil, invalid("Serve with a nil or zero Registry")
	}
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	pool, err := workers.NewPool(workers.Config{MaxWorkers: s.Slots, Name: "vela-remote-" + s.Queue, IdleTimeout: poolIdle,
		OnTaskStart: s.Hooks.OnTaskStart, OnTaskDone: s.Hooks.OnTaskDone})
	if err != nil {
		return nil, err
	}
	w := &Worker{
		s: s, reg: r, pool: pool,
		inbox:    s.prefix(nuid.Next()) + "p.",
		tickStop: make(chan struct{}),
		tickDone: make(chan struct{}),
		runs:     make(map[string]*run),
	}
	w.cancels.init()
	if err := w.start(ctx); err != nil {
		w.teardown()
		return nil, err
	}
	return w, nil
}

func (w *Worker) start(ctx context.Context) error {
	l, err := dial(ctx, &w.s, "vela-remote-worker", nats.ReconnectHandler(func(*nats.Conn) { w.reconnected() }))
	if err != nil {
		return err
	}
	w.l = l
	if l.srv != nil {
		if err := l.srv.join(w); err != nil {
			return err
		}
	}
	if w.cancelSub, err = l.nc.Subscribe(w.s.cancelsAll, w.onCancel); err != nil {
		return fmt.Errorf("remote: Serve: %w", err)
	}
	if w.infoSub, err = l.nc.Subscribe(workersSubject(&w.s), w.onInfo); err != nil {
		return fmt.Errorf("remote: Serve: %w", err)
	}
	if w.sub, err = l.nc.Subscribe(w.inbox+"*", w.onDelivery); err != nil {
		return fmt.Errorf("remote: Serve: %w", err)
	}
	if err := l.checkPermissions(ctx); err != nil {
		return err
	}
	if err := l.setUp(ctx, &w.s, true); err != nil {
		return err
	}
	if w.kv, err = l.js.KeyValue(ctx, w.s.bucket); err != nil {
		return fmt.Errorf("remote: give-back bucket of %s: %w", w.s.stream, err)
	}
	go w.tick()
	w.pull()
	return nil
}

// teardown releases what start made, after a failed start.
func (w *Worker) teardown() {
	w.mu.Lock()
	w.stopping = true
	w.mu.Unlock()
	select {
	case <-w.tickDone:
	default:
		close(w.tickStop)
	}
	w.pool.Close()
	if w.l != nil {
		if w.l.srv != nil {
			w.l.srv.leave(w)
		}
		w.l.close()
	}
}

// reconnected forgets the pull request the server may have lost, and
// has tick set the queue up again and ask again.
func (w *Worker) reconnected() {
	w.mu.Lock()
	w.in.req = nil
	w.needSetup = true
	w.mu.Unlock()
}

// tick tells the server that held tasks are alive, every AckWait/3; sets
// the queue up again after a reconnection; renews a pull request that went
// quiet; gives back waiting tasks beyond 2×Slots once a function runs
// long; and forgets cancels old enough that their tasks can no longer
// arrive. It runs every AckWait/3, or every 250 ms if that is shorter.
func (w *Worker) tick() {
	defer close(w.tickDone)
	progress := max(w.s.AckWait/3, time.Millisecond)
	keep := max(4*w.s.AckWait, time.Minute)
	t := time.NewTicker(min(progress, 250*time.Millisecond))
	defer t.Stop()
	var alive []*nats.Msg
	last := time.Now()
	for {
		select {
		case <-w.tickStop:
			return
		case now := <-t.C:
			w.mu.Lock()
			setup := w.needSetup && !w.stopping
			w.mu.Unlock()
			if setup && w.setUp() {
				w.mu.Lock()
				w.needSetup = false
				w.mu.Unlock()
			}
			alive = alive[:0]
			w.mu.Lock()
			if now.Sub(last) >= progress {
				last = now
				for _, r := range w.runs {
					alive = append(alive, r.m)
				}
			}
			excess := w.shrinkLocked(now)
			w.in.forgetQuietLocked(now)
			w.cancels.expire(now.Add(-keep))
			w.mu.Unlock()
			for _, m := range alive {
				_ = m.InProgress()
			}
			for _, r := range excess {
				r.f.CancelWithCause(errShutdown)
			}
			w.pull()
		}
	}
}

// setUp creates the queue's stream and consumer again if they are
// missing, after a reconnection; it reports whether they exist.
func (w *Worker) setUp() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return w.l.setUp(ctx, &w.s, true) == nil
}

// Stats returns a snapshot of the pool the Worker runs functions on.
func (w *Worker) Stats() workers.Stats { return w.pool.Stats() }

// Shutdown stops taking tasks at once, gives the tasks waiting on its pool
// back to the queue, then waits for the running ones to finish and answer.
// If ctx ends first, the functions still held have their context cancelled
// and their tasks go back to the queue for another worker, and Shutdown
// returns ctx.Err(). It then closes the connection and waits for the
// Worker's goroutines to exit (a function that ignores its context keeps
// running, abandoned). Every call waits and returns the first call's
// result; a nil ctx gives an error wrapping workers.ErrInvalidArgument.
//
// A task given back unstarted counts as a delivery for the server
// (MaxDeliver), but not for NotIdempotent: it may still run once.
func (w *Worker) Shutdown(ctx context.Context) error {
	if ctx == nil {
		return invalid("Shutdown with a nil context")
	}
	w.shutOnce.Do(func() { w.shutErr = w.shutdown(ctx) })
	return w.shutErr
}

func (w *Worker) shutdown(ctx context.Context) error {
	w.stopTaking()
	w.drainIntake(ctx)
	w.requeueWaiting()
	var err error
	w.mu.Lock()
	var idle chan struct{}
	if w.held > 0 {
		if w.idle == nil {
			w.idle = make(chan struct{})
		}
		idle = w.idle
	}
	w.mu.Unlock()
	if idle != nil {
		select {
		case <-idle:
		case <-ctx.Done():
			err = ctx.Err()
			w.requeueAll()
		}
	}
	close(w.tickStop)
	<-w.tickDone
	w.pool.Close()
	if w.l.srv != nil {
		w.l.srv.leave(w)
	}
	_ = w.cancelSub.Unsubscribe()
	_ = w.infoSub.Unsubscribe()
	_ = w.sub.Unsubscribe()
	w.l.flush()
	w.l.close()
	return err
}

// stopTaking makes no more pull requests and gives back tasks delivered
// from now on. The server drops the open requests once the worker's
// subscription is gone.
func (w *Worker) stopTaking() {
	w.mu.Lock()
	w.stopping = true
	w.mu.Unlock()
}

// drainIntake ends the worker's interest in its pull requests and waits
// until every task the server delivered before it noticed has been read
// and given back, so that none is left unread when the connection
// closes: the server would deliver it again only after AckWait, as if
// this worker had been lost, and a NotIdempotent task would then fail
// with ErrWorkerLost. It waits at most until ctx ends or 5s, for a
// server that is away.
func (w *Worker) drainIntake(ctx context.Context) {
	closed := w.sub.StatusChanged(nats.SubscriptionClosed)
	if w.sub.Drain() != nil {
		return
	}
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-closed:
	case <-ctx.Done():
	case <-t.C:
	}
}

// requeueWaiting gives the tasks waiting on the pool back to the queue,
// so that other workers run them while the running ones finish.
func (w *Worker) requeueWaiting() {
	w.mu.Lock()
	var rs []*run
	for _, r := range w.runs {
		if !r.started.Load() {
			r.requeue.Store(true)
			rs = append(rs, r)
		}
	}
	w.mu.Unlock()
	for _, r := range rs {
		r.f.CancelWithCause(errShutdown)
	}
}

// requeueAll gives every held task back to the queue and cancels its
// function's context.
func (w *Worker) requeueAll() {
	w.mu.Lock()
	rs := make([]*run, 0, len(w.runs))
	for _, r := range w.runs {
		r.requeue.Store(true)
		rs = append(rs, r)
	}
	w.mu.Unlock()
	cancelRuns(rs, errShutdown)
}

// serverClosing is called by an embedded server's Shutdown: the worker
// stops taking tasks and cancels what it runs, since no result can reach
// its caller any more.
func (w *Worker) serverClosing() {
	w.stopTaking()
	w.requeueAll()
}

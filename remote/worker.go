package remote

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	"github.com/velalang/runtime/async"
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
// that small tasks are not paced by round trips. It
// asks for them with its own pull requests, one open at a time, so a
// task's AckWait clock never runs in a buffer nobody watches. While a task is held (its
// function queued on the pool or running) the Worker tells the server
// every AckWait/3 that it is alive, so a long function is never
// redelivered while its worker lives. A cancel from the caller ends the
// function's context at once; a deadline travels with the task and bounds
// the function's context on the worker's clock.
type Worker struct {
	s     settings
	reg   *Registry
	l     *link
	pool  *workers.Pool
	inbox string // "_VELA.W.<id>.", followed by a pull request's number

	sub       *nats.Subscription // deliveries and pull statuses
	cancelSub *nats.Subscription
	infoSub   *nats.Subscription // QueueInfo's requests
	tickStop  chan struct{}
	tickDone  chan struct{}
	shutOnce  sync.Once
	shutErr   error

	mu        sync.Mutex
	stopping  bool                 // no more pull requests; deliveries are given back
	held      int                  // tasks delivered and not yet answered
	req       *pullReq             // the open pull request, or nil
	nreq      uint64               // pull requests made
	runs      map[string]*run      // held tasks that were started, by id
	cancelled map[string]time.Time // ids cancelled before this worker held them
	idle      chan struct{}        // closed when held becomes 0, if made
	needSetup bool                 // the stream or consumer may be missing: tick creates them
	runAvg    time.Duration        // moving average of the functions' run times
	measured  int                  // runs in runAvg, up to 8
}

// poolIdle is how long the pool's idle workers wait for the next task
// before they exit, so that a stream of tasks does not start a goroutine
// for each.
const poolIdle = time.Second

// Prefetch: a worker whose functions take under shortRun on average holds
// up to shortWindow tasks (when that is more than 2×Slots), so that small
// tasks are not paced by pull round trips. Longer functions keep the
// window at 2×Slots, so tasks are not kept from idle workers for long.
const (
	shortRun    = time.Millisecond
	shortWindow = 64
)

// pullReq is the open pull request: its inbox token, how many tasks it
// may still deliver, and when the worker stops counting on it even without
// word from the server. The server delivers tasks with their own subject,
// not the request's, so a worker keeps one request open at a time to know
// which one a task answers.
type pullReq struct {
	tok      string
	left     int
	forgetAt time.Time
}

// pullExpiry is how long a pull request waits for tasks at the server.
const pullExpiry = 10 * time.Second

// delivery is one delivered task message.
type delivery struct {
	m  *nats.Msg
	nc *nats.Conn
}

func (d delivery) ack()        { _ = d.nc.Publish(d.m.Reply, []byte("+ACK")) }
func (d delivery) nak()        { _ = d.nc.Publish(d.m.Reply, []byte("-NAK")) }
func (d delivery) term()       { _ = d.nc.Publish(d.m.Reply, []byte("+TERM")) }
func (d delivery) inProgress() { _ = d.nc.Publish(d.m.Reply, []byte("+WPI")) }

// deliveries is how many times the server has delivered the message: a
// field of its acknowledgement subject, "$JS.ACK.<stream>.<consumer>.
// <delivered>.<stream seq>.<consumer seq>.<time>.<pending>" (with two more
// tokens after "$JS.ACK" in the newer form, and one at the end).
func (d delivery) deliveries() uint64 {
	tok := strings.Split(d.m.Reply, ".")
	i := 4
	if len(tok) >= 11 {
		i = 6
	}
	if len(tok) <= i {
		return 0
	}
	n, _ := strconv.ParseUint(tok[i], 10, 64)
	return n
}

// run is one task started by a Worker: its message and the future of its
// function on the pool.
type run struct {
	w       *Worker
	id      string
	reply   string
	d       delivery
	f       *async.Future[[]byte]
	requeue atomic.Bool // give the task back to the queue instead of answering
	started atomic.Bool // its function has started on the pool
}

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
		inbox:     "_VELA.W." + nuid.Next() + ".",
		tickStop:  make(chan struct{}),
		tickDone:  make(chan struct{}),
		runs:      make(map[string]*run),
		cancelled: make(map[string]time.Time),
	}
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
	if err := l.ensureStream(ctx, &w.s, false); err != nil {
		return err
	}
	if _, err := l.ensureConsumer(ctx, &w.s, true); err != nil {
		return err
	}
	if w.cancelSub, err = l.nc.Subscribe(w.s.cancels, w.onCancel); err != nil {
		return fmt.Errorf("remote: Serve: %w", err)
	}
	if w.infoSub, err = l.nc.Subscribe(workersSubject(&w.s), w.onInfo); err != nil {
		return fmt.Errorf("remote: Serve: %w", err)
	}
	if w.sub, err = l.nc.Subscribe(w.inbox+"*", w.onDelivery); err != nil {
		return fmt.Errorf("remote: Serve: %w", err)
	}
	go w.tick()
	w.mu.Lock()
	w.pullLocked()
	w.mu.Unlock()
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

// pullLocked asks the server for tasks when no request is open and at
// least half the window is free. The window is 2×Slots (Slots running and
// as many waiting on the pool, so that the next function starts without a
// round trip to the server), or shortWindow for short functions. Held tasks are
// kept alive by tick, so the waiting ones are not redelivered.
func (w *Worker) pullLocked() {
	if w.stopping || w.req != nil || w.needSetup {
		return
	}
	window := 2 * w.s.Slots
	if w.measured >= 8 && w.runAvg < shortRun {
		window = max(window, shortWindow)
	}
	free := window - w.held
	if free < window/2 {
		return // ask for half the window or more, not one task per finished one
	}
	w.nreq++
	tok := strconv.FormatUint(w.nreq, 10)
	w.req = &pullReq{tok: tok, left: free, forgetAt: time.Now().Add(pullExpiry + 5*time.Second)}
	req := `{"batch":` + strconv.Itoa(free) + `,"expires":` + strconv.FormatInt(int64(pullExpiry), 10) + `}`
	_ = w.l.nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT."+w.s.stream+"."+consumerName, w.inbox+tok, []byte(req))
}

// reconnected forgets the pull request the server may have lost, and
// asks again.
func (w *Worker) reconnected() {
	w.mu.Lock()
	w.req = nil
	w.needSetup = true
	w.mu.Unlock()
}

// onDelivery runs on the delivery subscription's goroutine, one message
// at a time: a task, or the server's word that a pull request has ended.
func (w *Worker) onDelivery(m *nats.Msg) {
	if status := m.Header.Get("Status"); status != "" && len(m.Data) == 0 {
		// 100 is a heartbeat; 404, 408 and 409 end the request; 503 (no
		// responders) means the consumer is missing, after a server
		// restart without a store: tick sets it up again and pulls.
		tok := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		if status != "100" {
			w.mu.Lock()
			if w.req != nil && w.req.tok == tok {
				w.req = nil
				if status == "503" || strings.Contains(m.Header.Get("Description"), "Consumer Deleted") {
					w.needSetup = true
				} else {
					w.pullLocked()
				}
			}
			w.mu.Unlock()
		}
		return
	}
	d := delivery{m: m, nc: w.l.nc}
	w.mu.Lock()
	if w.req != nil {
		if w.req.left--; w.req.left == 0 {
			w.req = nil // fulfilled: the server sends no word
		}
	}
	w.held++
	stopping := w.stopping
	w.mu.Unlock()
	if stopping {
		d.nak()
		w.release()
		return
	}
	if !w.start1(d) {
		w.release()
	}
}

// noteRun adds a function's run time to the moving average.
func (w *Worker) noteRun(d time.Duration) {
	w.mu.Lock()
	if w.measured < 8 {
		w.measured++
	}
	w.runAvg += (d - w.runAvg) / time.Duration(w.measured)
	w.mu.Unlock()
}

// release frees the slot of a task that was answered or given back.
func (w *Worker) release() {
	w.mu.Lock()
	w.held--
	if w.held == 0 && w.idle != nil {
		close(w.idle)
		w.idle = nil
	}
	w.pullLocked()
	w.mu.Unlock()
}

// start1 looks at one message with a slot taken. It returns false if the
// task was answered or dropped without starting, so the slot is free again.
func (w *Worker) start1(msg delivery) bool {
	h, data, ok := decodeTask(msg.m.Data)
	if !ok {
		msg.term() // not a task of ours
		return false
	}
	id, name, reply := h.id, h.fn, h.reply
	w.mu.Lock()
	_, cancelled := w.cancelled[id]
	w.mu.Unlock()
	if cancelled {
		msg.ack()
		return false
	}
	var timeout time.Duration
	if h.deadline != 0 {
		timeout = time.Until(time.Unix(0, h.deadline))
		if timeout <= 0 {
			msg.ack() // its caller has given up on it: it never runs
			return false
		}
	}
	runTimeout := h.runTimeout
	fn := w.reg.lookup(name)
	if fn == nil {
		w.answer(reply, statusUnknown, nil, "")
		msg.ack()
		return false
	}
	if fn.notIdempotent {
		if msg.deliveries() > 1 {
			w.answer(reply, statusLost, nil, "")
			msg.ack()
			return false
		}
	}
	r := &run{w: w, id: id, reply: reply, d: msg}
	opts := []workers.Option{workers.OnPool(w.pool), workers.WithName(name)}
	if timeout > 0 {
		opts = append(opts, workers.WithTimeout(timeout))
	}
	if runTimeout > 0 {
		opts = append(opts, workers.WithRunTimeout(runTimeout))
	}
	codec := w.s.Codec
	parent := context.Background()
	if w.s.Hooks.worker() {
		parent = w.taskContext(msg.m, id, msg.deliveries())
	}
	r.f = workers.Spawn(parent, func(ctx context.Context) ([]byte, error) {
		r.started.Store(true)
		t0 := time.Now()
		out, err := fn.call(ctx, codec, data)
		w.noteRun(time.Since(t0))
		return out, err
	}, opts...)
	w.mu.Lock()
	_, cancelled = w.cancelled[id]
	if !cancelled {
		w.runs[id] = r
	}
	w.mu.Unlock()
	if cancelled {
		r.f.CancelWithCause(errCallerCancelled)
		msg.ack()
		return false
	}
	if r.f.Poll(r).IsReady() {
		r.Wake()
	}
	return true
}

// Wake runs once the run's future has settled, on the goroutine that
// settled it: it answers the caller, acknowledges the message and frees
// the slot.
func (r *run) Wake() {
	w := r.w
	w.mu.Lock()
	if w.runs[r.id] == r { // else a second delivery of the task took its place
		delete(w.runs, r.id)
	}
	w.mu.Unlock()
	res, _ := r.f.Result()
	switch {
	case r.requeue.Load():
		r.d.nak()
	case r.f.State() == async.Cancelled:
		r.d.ack() // the caller no longer wants it
	default:
		w.answerResult(r.reply, res.Value, res.Err)
		r.d.ack()
	}
	w.release()
}

func (w *Worker) answerResult(reply string, v []byte, err error) {
	if err == nil {
		w.answer(reply, statusOK, v, "")
		return
	}
	switch e := err.(type) {
	case *async.PanicError:
		w.answer(reply, statusPanic, e.Stack, fmt.Sprint(e.Value))
	case *codecFailure:
		w.answer(reply, statusCodec, []byte(e.Error()), "")
	case *workers.TimeoutError:
		if e.Run {
			w.answer(reply, statusRunOver, nil, "")
		} else {
			w.answer(reply, statusTimeout, nil, "")
		}
	default:
		w.answer(reply, statusError, []byte(err.Error()), "")
	}
}

// answer publishes a reply; extra is a panic's value.
func (w *Worker) answer(reply string, status byte, rest []byte, extra string) {
	_ = w.l.nc.Publish(reply, encodeReply(status, extra, rest))
}

// onCancel runs on the cancel subscription's goroutine: each line of the
// message is the id of a task its caller no longer wants.
func (w *Worker) onCancel(m *nats.Msg) {
	now := time.Now()
	var rs []*run
	w.mu.Lock()
	for id := range strings.SplitSeq(string(m.Data), "\n") {
		if id == "" {
			continue
		}
		if r := w.runs[id]; r != nil {
			rs = append(rs, r)
		} else {
			w.cancelled[id] = now
		}
	}
	w.mu.Unlock()
	// Every id is recorded, and every task of the message still waiting on
	// the pool is cancelled, before any running one is: cancelling a
	// running function frees its pool worker, which would start the next
	// waiting task.
	cancelRuns(rs, errCallerCancelled)
}

// tick tells the server that held tasks are alive, every AckWait/3; sets
// the queue up again after a reconnection; renews a pull request the
// server never answered; and forgets cancels old enough that their tasks
// can no longer arrive. It runs every AckWait/3, or every 250 ms if that is
// shorter.
func (w *Worker) tick() {
	defer close(w.tickDone)
	progress := max(w.s.AckWait/3, time.Millisecond)
	keep := max(4*w.s.AckWait, time.Minute)
	t := time.NewTicker(min(progress, 250*time.Millisecond))
	defer t.Stop()
	var ds []delivery
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
			ds = ds[:0]
			w.mu.Lock()
			if now.Sub(last) >= progress {
				last = now
				for _, r := range w.runs {
					ds = append(ds, r.d)
				}
			}
			if w.req != nil && now.After(w.req.forgetAt) {
				w.req = nil
			}
			w.pullLocked()
			for id, at := range w.cancelled {
				if now.Sub(at) > keep {
					delete(w.cancelled, id)
				}
			}
			w.mu.Unlock()
			for _, d := range ds {
				d.inProgress()
			}
		}
	}
}

// setUp creates the queue's stream and consumer again if they are
// missing, after a reconnection; it reports whether they exist.
func (w *Worker) setUp() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if w.l.ensureStream(ctx, &w.s, false) != nil {
		return false
	}
	_, err := w.l.ensureConsumer(ctx, &w.s, true)
	return err == nil
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
func (w *Worker) Shutdown(ctx context.Context) error {
	if ctx == nil {
		return invalid("Shutdown with a nil context")
	}
	w.shutOnce.Do(func() { w.shutErr = w.shutdown(ctx) })
	return w.shutErr
}

func (w *Worker) shutdown(ctx context.Context) error {
	w.stopTaking()
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

// cancelRuns cancels the runs whose function has not started, then the
// others.
func cancelRuns(rs []*run, cause error) {
	for _, r := range rs {
		if !r.started.Load() {
			r.f.CancelWithCause(cause)
		}
	}
	for _, r := range rs {
		r.f.CancelWithCause(cause)
	}
}

// serverClosing is called by an embedded server's Shutdown: the worker
// stops taking tasks and cancels what it runs, since no result can reach
// its caller any more.
func (w *Worker) serverClosing() {
	w.stopTaking()
	w.requeueAll()
}

package workers

import (
	"context"
	"errors"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes a pool.
type Config struct {
	// MaxWorkers bounds how many functions run at once; 0 means
	// runtime.GOMAXPROCS(0).
	MaxWorkers int
	// QueueSize bounds how many tasks may wait for a worker; 0 means no
	// bound. Beyond it, Spawn's future is rejected with ErrQueueFull.
	QueueSize int
	// Name prefixes the workers' names: "vela-worker" (the default) gives
	// "vela-worker-1", "vela-worker-2", and so on.
	Name string
	// LockOSThread makes each worker goroutine hold its own OS thread while
	// it lives, for thread-affine C libraries. The thread ends with the
	// worker.
	LockOSThread bool
	// IdleTimeout is how long a worker that finds the queue empty waits for
	// more work before it exits. Zero, the default, means it exits at once,
	// so a pool at rest holds no goroutine. A positive value keeps up to
	// MaxWorkers goroutines, with their grown stacks (and, with LockOSThread,
	// their threads), ready for the next task: a Spawn on an idle pool then
	// hands the task to a waiting worker instead of starting a goroutine.
	// Shutdown and Close retire waiting workers at once. Under
	// testing/synctest, use such a pool from a single bubble.
	IdleTimeout time.Duration

	// OnTaskStart, if set, is called on the worker just before a task's
	// function starts, with the context the function would receive and a
	// record of the task; the function receives the context it returns
	// instead (nil keeps ctx), which must be derived from ctx. Tracers
	// start a span here so that it is the parent of the function's own
	// work. It runs as part of the function: a panic or a Goexit in it
	// ends the task as the function's own would. A retried task calls it
	// once per attempt.
	//
	// OnTaskDone, if set, is called once per task after its outcome is
	// final and the pool's books are right, with the pool's mutex released
	// (see TaskRecord and docs/observe.md): by the worker once the function
	// has returned, also when the future was settled earlier by a cancel or
	// a timeout (Abandoned; the record then comes when the function
	// returns, and never if it never does); for a task that never started,
	// by the goroutine that settled it, before its future's waiters are
	// woken. A panic in it is recovered and counted in Stats.HookPanics.
	// It must not block or call runtime.Goexit: it holds up the worker,
	// or the goroutine that cancelled the task.
	//
	// Both are read once, by NewPool; unset, each costs one nil check per
	// task.
	OnTaskStart func(ctx context.Context, r TaskRecord) context.Context
	OnTaskDone  func(r TaskRecord)
}

// Pool runs tasks on at most MaxWorkers goroutines at once. Workers start
// when work arrives and exit as soon as they find the queue empty (or, with
// Config.IdleTimeout, once they have waited that long for more), so a pool
// at rest holds no goroutine and needs no Close to be garbage collected,
// with one exception: a pool keeps its one registration (context.AfterFunc)
// on each cancellable parent context its tasks were spawned under until
// that context ends or the pool is closed, so a pool made per request under
// a context that never ends should be closed.
//
// A zero Pool is ready to use, as NewPool(Config{}) would make it:
// GOMAXPROCS workers, no queue bound, workers named vela-worker-N. A Pool
// must not be copied after first use.
//
// All methods are safe for concurrent use. One mutex guards the queue and
// the worker set; counters are atomic. Submitting a task, or a whole batch,
// takes the mutex once; a worker takes it to finish each task and again to
// take the next, or once for both when a batch's task has nothing to
// settle.
type Pool struct {
	once        sync.Once // ready
	epoch       time.Time // the origin of task timestamps
	name        string
	queueSize   int
	lockThread  bool
	idleTimeout time.Duration
	hooks       hooks

	mu      sync.Mutex
	max     int
	workers int         // live worker goroutines
	active  int         // tasks whose function is running; moveLocked
	waiting int         // tasks due later or waiting to retry; moveLocked
	queue   queue       // waiting tasks, oldest first; moveLocked
	running list        // tasks whose function is running; moveLocked
	waits   list        // tasks due later or waiting to retry; moveLocked
	slots   []*worker   // slots[i] names worker i+1; made on first use
	free    []*worker   // slots with no live worker
	parked  []*worker   // idle workers waiting for work, most recent last
	reaper  *time.Timer // retires workers idle for IdleTimeout; nil if none waits
	closed  bool
	drained chan struct{} // made by Shutdown; closed when the last worker exits
	nextID  uint64
	abandon int // running functions whose future was cancelled or timed out; moveLocked

	timeouts deadlines

	watches map[<-chan struct{}]*watch // one per parent context with tasks; see watch
	sweepAt int                        // sweep empty watches when there are this many

	stats counters
}

// NewPool returns a pool configured by cfg. It starts no goroutine. A
// negative MaxWorkers or QueueSize is an error wrapping ErrInvalidArgument.
func NewPool(cfg Config) (*Pool, error) {
	if cfg.MaxWorkers < 0 {
		return nil, invalid("negative MaxWorkers %d", cfg.MaxWorkers)
	}
	if cfg.QueueSize < 0 {
		return nil, invalid("negative QueueSize %d", cfg.QueueSize)
	}
	if cfg.IdleTimeout < 0 {
		return nil, invalid("negative IdleTimeout %v", cfg.IdleTimeout)
	}
	p := &Pool{
		name:        cfg.Name,
		queueSize:   cfg.QueueSize,
		lockThread:  cfg.LockOSThread,
		idleTimeout: cfg.IdleTimeout,
		max:         cfg.MaxWorkers,
		hooks:       hooks{onStart: cfg.OnTaskStart, onDone: cfg.OnTaskDone},
	}
	p.ready()
	return p, nil
}

// ready fills in the defaults of a pool once, whether NewPool made it or
// it is a zero Pool: the clock's origin, GOMAXPROCS workers, the default
// name. Every method that needs them calls it first; after the first call
// it is one atomic load.
func (p *Pool) ready() {
	p.once.Do(func() {
		p.epoch = time.Now()
		if p.name == "" {
			p.name = "vela-worker"
		}
		if p.max == 0 {
			p.max = runtime.GOMAXPROCS(0)
		}
	})
}

// MaxWorkers reports how many functions the pool runs at once at most.
func (p *Pool) MaxWorkers() int {
	p.ready()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max
}

// Resize sets MaxWorkers to n (0 means runtime.GOMAXPROCS(0)). Growing
// starts workers for queued tasks at once; shrinking lets running functions
// finish and retires their workers as they do. A negative n is an error
// wrapping ErrInvalidArgument, and a closed pool returns ErrPoolClosed.
func (p *Pool) Resize(n int) error {
	if n < 0 {
		return invalid("Resize(%d)", n)
	}
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	p.ready()
	var starts []*taskBase
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrPoolClosed
	}
	p.max = n
	p.retireParkedLocked(false)
	if p.workers < p.max && p.queue.head != nil {
		starts = p.fillLocked(starts, p.now())
	}
	p.mu.Unlock()
	p.startWorkers(starts)
	return nil
}

// ActiveCount reports how many functions are running now, including those
// whose future was already cancelled or timed out but which have not
// returned.
func (p *Pool) ActiveCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.active
}

// QueuedCount reports how many tasks wait for a worker, those due later
// (WithDelay) and those waiting to retry (WithRetry) included.
func (p *Pool) QueuedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queuedLocked()
}

// queuedLocked is QueuedCount.
func (p *Pool) queuedLocked() int { return p.queue.len() + p.waiting }

// errParentDone tells Spawn that the parent context had already ended.
var errParentDone = errors.New("parent context done")

// submit publishes task t under one acquisition of the pool's mutex: it
// refuses it if the pool is closed or its queue is full, or if its parent
// context has ended (errParentDone); otherwise t gets its observer, its
// limits (timeouts, watch on the parent context), then goes to a waiting
// worker, to a new worker if a slot is free, or to the queue. It counts t in
// Stats.Submitted if it takes it, and nowhere if it refuses it. It never
// blocks beyond the mutex.
func (p *Pool) submit(s *settings, t *taskBase) error {
	p.ready()
	p.mu.Lock()
	err := p.refuseLocked(1)
	if err == nil && t.parent.Err() != nil {
		err = errParentDone
		p.nextID++
		t.id = p.nextID
	}
	if err != nil {
		p.mu.Unlock()
		return err
	}
	p.stats.submitted.Add(1)
	now := p.now()
	p.nextID++
	t.id = p.nextID
	t.enqueued = now
	t.body.attach()
	p.limitLocked(t, s, now)
	if s.delay > 0 {
		p.waitLocked(t, stateDue, now+s.delay)
		p.mu.Unlock()
		return nil
	}
	if w := p.unparkLocked(); w != nil {
		p.runLocked(t, w, now)
		w.park.ch <- t
		p.mu.Unlock()
		return nil
	}
	if p.workers < p.max {
		p.workers++
		p.runLocked(t, p.slotLocked(), now)
		p.mu.Unlock()
		go t.work()
		return nil
	}
	p.moveLocked(t, stateQueued)
	p.mu.Unlock()
	return nil
}

// refuseLocked says why the pool cannot take n more tasks now: it is
// closed (ErrPoolClosed), or they would overflow its queue (ErrQueueFull)
// once the idle workers and the free slots have taken what they can; nil
// if it can take them.
func (p *Pool) refuseLocked(n int) error {
	switch {
	case p.closed:
		return ErrPoolClosed
	case p.queueSize > 0 && p.queuedLocked()+n-max(p.max-p.workers, 0)-len(p.parked) > p.queueSize:
		return ErrQueueFull
	}
	return nil
}

// slotLocked takes a free worker slot, or makes one; slots are made in
// order, so the first workers are named -1, -2, and so on.
func (p *Pool) slotLocked() *worker {
	if n := len(p.free); n > 0 {
		w := p.free[n-1]
		p.free = p.free[:n-1]
		return w
	}
	n := len(p.slots) + 1
	name := p.name + "-" + strconv.Itoa(n)
	w := &worker{slot: n, name: name, labels: pprof.WithLabels(context.Background(), pprof.Labels("worker", name))}
	p.slots = append(p.slots, w)
	return w
}

// runLocked marks t as running on w since now.
func (p *Pool) runLocked(t *taskBase, w *worker, now time.Duration) {
	t.worker = w
	t.started = now
	p.moveLocked(t, stateRunning)
}

// exitLocked retires worker w, whose goroutine is about to return.
func (p *Pool) exitLocked(w *worker) {
	p.workers--
	w.park = nil
	p.free = append(p.free, w)
	p.drainedLocked()
}

// drainedLocked tells Shutdown, if it waits, once the pool has neither a
// worker nor a task waiting to be due or to retry.
func (p *Pool) drainedLocked() {
	if p.workers == 0 && p.waiting == 0 && p.drained != nil {
		close(p.drained)
		p.drained = nil
	}
}

// counters are the pool's cumulative statistics, but for those each worker
// keeps (see worker).
type counters struct {
	submitted, cancelled, timedOut, rejected, hookPanics, retried atomic.Uint64
}

// now is the clock of Tasks snapshots: time since the pool was made, read
// from the monotonic clock alone, which costs half of time.Now.
func (p *Pool) now() time.Duration { return time.Since(p.epoch) }

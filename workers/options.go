package workers

import "time"

// Option configures one Spawn or SpawnAll call. Options are plain values:
// passing them costs no allocation.
type Option struct {
	kind      optionKind
	timeout   time.Duration // WithTimeout, WithRunTimeout, WithDelay; WithRetry's Backoff
	name      string
	names     func(int) string
	pool      *Pool
	n         int           // WithRetry's MaxAttempts; WithBuffer's n
	max       time.Duration // WithRetry's MaxBackoff
	retryable func(error) bool
}

type optionKind uint8

const (
	optNone optionKind = iota
	optTimeout
	optRunTimeout
	optName
	optNames
	optPool
	optRetry
	optDelay
	optBuffer
)

// WithTimeout bounds a task to d, counted from Spawn: a task still queued at
// the deadline never runs, and a running one has its future rejected with a
// *TimeoutError at the deadline while its context is cancelled with that
// error as the cause. Zero means no timeout; a negative d makes Spawn reject
// the task with ErrInvalidArgument.
func WithTimeout(d time.Duration) Option { return Option{kind: optTimeout, timeout: d} }

// WithRunTimeout bounds the time a task's function runs to d, counted from
// the moment a worker starts it (start-to-close; WithTimeout counts from
// Spawn, schedule-to-close). When d passes, the future is rejected with a
// *TimeoutError whose Run field is true, at that moment, and the function's
// context ends with that error as its cause. For SpawnAll it applies to
// each task, and the first to overrun fails the batch like any failure.
// With both options, the first deadline to pass wins. Zero means none; a
// negative d is refused with ErrInvalidArgument.
func WithRunTimeout(d time.Duration) Option { return Option{kind: optRunTimeout, timeout: d} }

// WithName names a task for errors, Tasks snapshots and the "task" pprof
// label.
func WithName(name string) Option { return Option{kind: optName, name: name} }

// WithNames names each task of a SpawnAll: task i is named names(i), for
// its *TaskError, Tasks snapshots and the "task" pprof label. names runs on
// the worker that takes task i, so it must be safe for concurrent use. It
// wins over WithName; Spawn treats it as naming its one task names(0). A
// nil names is ignored.
func WithNames(names func(i int) string) Option { return Option{kind: optNames, names: names} }

// OnPool runs the task on p instead of the default pool. A nil p makes
// Spawn reject the task with ErrInvalidArgument.
func OnPool(p *Pool) Option { return Option{kind: optPool, pool: p} }

// Settings is what a list of Options asks for. Spawn and SpawnAll act on
// it; another backend that accepts the same options (the remote package,
// or a user's wrapper around Spawn) reads it with ReadOptions.
type Settings struct {
	Timeout    time.Duration    // WithTimeout: schedule-to-close; 0 means none
	RunTimeout time.Duration    // WithRunTimeout: start-to-close; 0 means none
	Name       string           // WithName; "" means unnamed
	Names      func(int) string // WithNames; nil means none
	Pool       *Pool            // OnPool; nil when no OnPool was given
	Retry      RetryPolicy      // WithRetry; the zero policy (one call) when none was given
	Delay      time.Duration    // WithDelay: the task is due Delay after submission; 0 means at once
	Buffer     int              // WithBuffer: the capacity of a Stream's or Map's channel; DefaultBuffer when none was given
}

// ReadOptions returns what opts ask for; when an option appears twice the
// last one wins. A negative timeout, delay or buffer, a RetryPolicy with negative
// fields or a MaxBackoff below its Backoff, OnPool(nil) or a zero Option
// gives an error wrapping ErrInvalidArgument, with the Settings read so far.
func ReadOptions(opts ...Option) (Settings, error) {
	s := Settings{Buffer: DefaultBuffer}
	var err error
	for _, o := range opts {
		switch o.kind {
		case optTimeout:
			if o.timeout < 0 {
				err = invalid("negative timeout %v", o.timeout)
			}
			s.Timeout = o.timeout
		case optRunTimeout:
			if o.timeout < 0 {
				err = invalid("negative run timeout %v", o.timeout)
			}
			s.RunTimeout = o.timeout
		case optName:
			s.Name = o.name
		case optNames:
			s.Names = o.names
		case optPool:
			if o.pool == nil {
				err = invalid("OnPool(nil)")
			}
			s.Pool = o.pool
		case optRetry:
			r := RetryPolicy{MaxAttempts: o.n, Backoff: o.timeout, MaxBackoff: o.max, Retryable: o.retryable}
			if e := r.check(); e != nil {
				err = e
			}
			s.Retry = r
		case optDelay:
			if o.timeout < 0 {
				err = invalid("negative delay %v", o.timeout)
			}
			s.Delay = o.timeout
		case optBuffer:
			if o.n < 0 {
				err = invalid("negative buffer %d", o.n)
			}
			s.Buffer = o.n
		default:
			err = invalid("zero Option")
		}
	}
	return s, err
}

// settings is the sum of a call's options, with the pool resolved.
type settings struct {
	timeout    time.Duration
	runTimeout time.Duration
	name       string
	names      func(int) string
	pool       *Pool
	retry      RetryPolicy
	delay      time.Duration
	err        error
}

func collect(opts []Option) settings {
	o, err := ReadOptions(opts...)
	s := settings{timeout: o.Timeout, runTimeout: o.RunTimeout, name: o.Name, names: o.Names, pool: o.Pool,
		retry: o.Retry, delay: o.Delay, err: err}

	if s.pool == nil {
		s.pool = Default() // also the pool that counts a call refused for bad options
	}
	return s
}

package workers

import "time"

// Option configures one Spawn or SpawnAll call. Options are plain values:
// passing them costs no allocation.
type Option struct {
	kind    optionKind
	timeout time.Duration
	name    string
	pool    *Pool
}

type optionKind uint8

const (
	optNone optionKind = iota
	optTimeout
	optName
	optPool
)

// WithTimeout bounds a task to d, counted from Spawn: a task still queued at
// the deadline never runs, and a running one has its future rejected with a
// *TimeoutError at the deadline while its context is cancelled with that
// error as the cause. Zero means no timeout; a negative d makes Spawn reject
// the task with ErrInvalidArgument.
func WithTimeout(d time.Duration) Option { return Option{kind: optTimeout, timeout: d} }

// WithName names a task for errors, Tasks snapshots and the "task" pprof
// label.
func WithName(name string) Option { return Option{kind: optName, name: name} }

// OnPool runs the task on p instead of the default pool. A nil p makes
// Spawn reject the task with ErrInvalidArgument.
func OnPool(p *Pool) Option { return Option{kind: optPool, pool: p} }

// settings is the sum of a call's options.
type settings struct {
	timeout time.Duration
	name    string
	pool    *Pool
	err     error
}

func collect(opts []Option) settings {
	var s settings
	for _, o := range opts {
		switch o.kind {
		case optTimeout:
			if o.timeout < 0 {
				s.err = invalid("negative timeout %v", o.timeout)
			}
			s.timeout = o.timeout
		case optName:
			s.name = o.name
		case optPool:
			if o.pool == nil {
				s.err = invalid("OnPool(nil)")
			}
			s.pool = o.pool
		default:
			s.err = invalid("zero Option")
		}
	}
	if s.pool == nil && s.err == nil {
		s.pool = Default()
	}
	return s
}

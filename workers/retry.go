package workers

import (
	"errors"
	"math/rand/v2"
	"time"
)

// RetryPolicy says how often, and after what waits, a failed call of a
// task's function is made again (see WithRetry). The zero RetryPolicy
// makes one call and never retries.
type RetryPolicy struct {
	// MaxAttempts counts the calls in all, the first included; 0 and 1
	// mean no retry.
	MaxAttempts int
	// Backoff is the longest wait before the second call; 0 means 100ms.
	Backoff time.Duration
	// MaxBackoff bounds the wait, which doubles after each failure; 0
	// means 10s. Each wait is drawn uniformly from (0, bound] ("full
	// jitter"), so retries of many tasks that failed together spread out.
	MaxBackoff time.Duration
	// Retryable tells which failures are retried. nil retries every error
	// and panic except those marked with Permanent. It runs once per failed
	// call that has attempts left, on a goroutine of its own that the
	// caller waits for, and must be safe for concurrent use; a Retryable
	// that panics or calls runtime.Goexit ends the retries, and the task
	// fails with the call's own error.
	Retryable func(error) bool
}

// The defaults of a RetryPolicy's zero fields.
const (
	defaultBackoff    = 100 * time.Millisecond
	defaultMaxBackoff = 10 * time.Second
)

// check reports a policy Spawn must refuse: negative fields, or a
// MaxBackoff below Backoff once the defaults of zero fields are applied.
func (p RetryPolicy) check() error {
	switch {
	case p.MaxAttempts < 0:
		return invalid("negative RetryPolicy.MaxAttempts %d", p.MaxAttempts)
	case p.Backoff < 0:
		return invalid("negative RetryPolicy.Backoff %v", p.Backoff)
	case p.MaxBackoff < 0:
		return invalid("negative RetryPolicy.MaxBackoff %v", p.MaxBackoff)
	}
	if b, m := p.bounds(); m < b {
		return invalid("RetryPolicy.MaxBackoff %v below Backoff %v (zero fields count as their defaults, 100ms and 10s)", m, b)
	}
	return nil
}

// bounds returns Backoff and MaxBackoff with their defaults applied.
func (p RetryPolicy) bounds() (backoff, maxBackoff time.Duration) {
	backoff, maxBackoff = p.Backoff, p.MaxBackoff
	if backoff == 0 {
		backoff = defaultBackoff
	}
	if maxBackoff == 0 {
		maxBackoff = defaultMaxBackoff
	}
	return backoff, maxBackoff
}

// retries reports whether the policy may make more than one call.
func (p RetryPolicy) retries() bool { return p.MaxAttempts > 1 }

// Next decides what follows call number attempt (1 for the first) of a
// task that failed with err: another call after wait (retry true), or the
// end, with the error the task settles with (final: err itself, or the
// error Permanent wrapped). It calls Retryable, recovering a panic in it
// as a refusal. It is how Spawn applies the policy, exported so that
// another backend that accepts WithRetry (the remote package) applies the
// same rules.
func (p RetryPolicy) Next(attempt int, err error) (wait time.Duration, retry bool, final error) {
	if pe, ok := err.(*permanentError); ok {
		return 0, false, pe.err
	}
	if attempt >= p.MaxAttempts || errors.As(err, new(*permanentError)) || !p.retryable(err) {
		return 0, false, err
	}
	return p.wait(attempt, rand.Int64N), true, nil
}

// retryable calls Retryable, if any. It is user code that runs where the
// pool's books are half done (a worker between a call and its outcome, the
// timer's goroutine), so it runs on a goroutine of its own: a panic or a
// runtime.Goexit in it ends that goroutine only, and means no.
func (p RetryPolicy) retryable(err error) bool {
	if p.Retryable == nil {
		return true
	}
	ok := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = recover() }()
		ok = p.Retryable(err)
	}()
	<-done
	return ok
}

// wait is the wait after call number attempt failed: drawn by draw (which
// returns a number in [0, n)) from (0, min(MaxBackoff, Backoff*2^(attempt-1))].
func (p RetryPolicy) wait(attempt int, draw func(n int64) int64) time.Duration {
	b, m := p.bounds()
	for i := 1; i < attempt && b < m; i++ {
		b *= 2
	}
	b = min(b, m)
	return time.Duration(draw(int64(b))) + 1
}

// WithRetry makes a failed call of the task's function be followed by
// another, as p says: after the function returns an error, panics or runs
// past WithRunTimeout; never after Cancel, the end of the parent context or
// WithTimeout's deadline, which bounds the whole task across its calls.
// Between calls the task holds no worker and counts in Stats.Queued. The
// future settles once: with the value of the call that succeeded, or with
// the error (or *PanicError) of the last call. A policy with negative
// fields, or a MaxBackoff below its Backoff, makes Spawn reject the task
// with ErrInvalidArgument.
func WithRetry(p RetryPolicy) Option {
	return Option{kind: optRetry, n: p.MaxAttempts, timeout: p.Backoff, max: p.MaxBackoff, retryable: p.Retryable}
}

// WithDelay makes the task due d after Spawn: until then it holds no
// worker, counts in Stats.Queued (and against Config.QueueSize) and shows
// in Tasks as due later; WithTimeout then counts from the due time. Zero
// means no delay; a negative d makes Spawn reject the task with
// ErrInvalidArgument.
func WithDelay(d time.Duration) Option { return Option{kind: optDelay, timeout: d} }

// Permanent marks err as a failure that WithRetry must not retry. The
// task's future then settles with err itself, not with the mark; wherever
// the mark is seen, errors.Is and errors.As see through it to err. A nil
// err gives nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// permanentError is what Permanent returns.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

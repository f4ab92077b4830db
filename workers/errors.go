package workers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/velalang/runtime/async"
)

var (
	// ErrTimeout matches the *TimeoutError of a task whose timeout passed.
	ErrTimeout = errors.New("workers: task timed out")
	// ErrPoolInUse is returned by ConfigurePool once the default pool exists.
	ErrPoolInUse = errors.New("workers: default pool already in use")
	// ErrPoolClosed rejects work submitted to a pool after Shutdown or Close,
	// and is the cause of the cancellation of work that Close cancelled.
	ErrPoolClosed = errors.New("workers: pool closed")
	// ErrQueueFull rejects work submitted to a pool whose queue holds
	// Config.QueueSize tasks already.
	ErrQueueFull = errors.New("workers: queue full")
	// ErrInvalidArgument rejects a call with a nil function or context, a
	// negative timeout or size, and the like. It is async.ErrInvalidArgument,
	// so one errors.Is check covers both packages.
	ErrInvalidArgument = async.ErrInvalidArgument
)

// PanicError is the error of a task that panicked: Value is what was passed
// to panic and Stack the panicking goroutine's stack. errors.As reaches a
// Value that is an error, such as a runtime.Error.
type PanicError = async.PanicError

// TimeoutError is the error of a task whose timeout passed before it
// returned. errors.Is matches both ErrTimeout and context.DeadlineExceeded,
// and it is also the context.Cause of the task's context.
type TimeoutError struct {
	Name    string        // the task's WithName name, if any
	Timeout time.Duration // the timeout it exceeded

	task *taskBase // the task it timed out, so its pool can tell it apart
}

// Error returns a message such as `worker "resize" timed out (exceeded 2s)`.
func (e *TimeoutError) Error() string {
	if e.Name == "" {
		return fmt.Sprintf("worker timed out (exceeded %v)", e.Timeout)
	}
	return fmt.Sprintf("worker %q timed out (exceeded %v)", e.Name, e.Timeout)
}

// Is reports whether target is ErrTimeout or context.DeadlineExceeded.
func (e *TimeoutError) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("workers: "+format+": %w", append(args, ErrInvalidArgument)...)
}

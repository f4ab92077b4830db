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
	Run     bool          // it was the WithRunTimeout one, counted from the start of the function

	task *taskBase // the task it timed out, so its pool can tell it apart
}

// Error returns a message such as `task "resize" timed out after 2s`, or
// `task "resize" timed out after running 2s` for a run timeout.
func (e *TimeoutError) Error() string {
	task, running := "task", ""
	if e.Name != "" {
		task = fmt.Sprintf("task %q", e.Name)
	}
	if e.Run {
		running = "running "
	}
	return fmt.Sprintf("%s timed out after %s%v", task, running, e.Timeout)
}

// Is reports whether target is ErrTimeout or context.DeadlineExceeded.
func (e *TimeoutError) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

// TaskError is the error of a SpawnAll whose task failed, or of a Map
// whose call failed: Index is the task's position in the input (for Map,
// the value's position in the stream), Name its name (WithName or
// WithNames), Err its error (the function's own, a *PanicError,
// async.ErrGoexit). Unwrap returns Err, so errors.Is and errors.As reach
// it and what it wraps.
type TaskError struct {
	Index int
	Name  string
	Err   error

	inMap bool // from Map: the message names Map and a value, not SpawnAll and a task
}

// Error returns a message such as `workers: SpawnAll task 3 ("resize"):
// boom`, or from Map `workers: Map value 3 ("resize"): boom`.
func (e *TaskError) Error() string {
	op := "SpawnAll "
	if e.inMap {
		op = "Map "
	}
	return "workers: " + op + e.item() + ": " + e.Err.Error()
}

// item names what failed: `task 3 ("resize")`, or `value 3` from Map.
func (e *TaskError) item() string {
	what := "task"
	if e.inMap {
		what = "value"
	}
	if e.Name == "" {
		return fmt.Sprintf("%s %d", what, e.Index)
	}
	return fmt.Sprintf("%s %d (%q)", what, e.Index, e.Name)
}

// Unwrap returns Err.
func (e *TaskError) Unwrap() error { return e.Err }

// siblingError is the context.Cause of the functions of a SpawnAll that a
// failed task cancelled: it matches async.ErrCancelled and the *TaskError.
type siblingError struct{ failed *TaskError }

func (e *siblingError) Error() string {
	return "workers: SpawnAll cancelled: " + e.failed.item() + " failed: " + e.failed.Err.Error()
}

func (e *siblingError) Unwrap() []error { return []error{async.ErrCancelled, e.failed} }

func invalid(format string, args ...any) error {
	return fmt.Errorf("workers: "+format+": %w", append(args, ErrInvalidArgument)...)
}

// cancelledError is the Result error of a SpawnAllSettled task that had not
// finished when the caller's context ended: it matches async.ErrCancelled
// and the context's cause, as a cancelled future's error does.
type cancelledError struct{ cause error }

func (e *cancelledError) Error() string   { return async.ErrCancelled.Error() + ": " + e.cause.Error() }
func (e *cancelledError) Unwrap() []error { return []error{async.ErrCancelled, e.cause} }

package remote

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrUnknownFunction rejects a task whose name no worker of its queue
	// serves. It is reported by the first worker that receives the task.
	ErrUnknownFunction = errors.New("remote: unknown function")
	// ErrWorkerLost rejects a task whose worker stopped answering: either it
	// was delivered Config.MaxDeliver times without a result, or its
	// function was registered NotIdempotent and it was delivered twice.
	ErrWorkerLost = errors.New("remote: worker lost")
	// ErrCodec is wrapped by the error of a task whose argument could not be
	// encoded (nothing is sent) or decoded by the worker, or whose result
	// could not be encoded by the worker or decoded by the caller.
	ErrCodec = errors.New("remote: codec")
	// ErrResultLost rejects a task whose result was produced while the
	// client was disconnected from the server: the task has left the queue
	// but its reply never arrived. See the delivery note.
	ErrResultLost = errors.New("remote: result lost while disconnected")
	// ErrTooLarge is wrapped by the error of a Spawn whose encoded argument
	// does not fit the server's payload limit; nothing is sent.
	ErrTooLarge = errors.New("remote: message exceeds the server's payload limit")
	// ErrNotPermitted is wrapped by the error of a Dial or Serve, or of a
	// task, that the server refused because the user may not do it (use
	// that queue, in that role).
	ErrNotPermitted = errors.New("remote: not permitted")
	// ErrNoControl is wrapped by the error of a Dial, as a user, to a
	// server with users where no control connection answers (an external
	// nats-server without ServeControl beside it): such a Client could
	// not withdraw its queued tasks, which would run later, nor delete
	// the ones the server gave up on.
	ErrNoControl = errors.New("remote: no control connection")
	// ErrDuplicateTask rejects a task that the server, on its first
	// publish, reported as a duplicate: a message with the task's id as
	// its Nats-Msg-Id was stored before, by another party (a peer that
	// may publish on the queue's task subjects, such as a worker, can do
	// that with a client id it has seen). Without it the task would wait
	// for a reply that never comes.
	ErrDuplicateTask = errors.New("remote: the server already holds a task with this id")
)

// taskError is the error of one task that the remote package decided (not
// the function's own error): `remote "resize": unknown function`. The
// function's name comes once, after the package's prefix, and the
// wrapped sentinels' own prefixes are not repeated; errors.Is and errors.As
// see the wrapped error.
type taskError struct {
	fn  string
	err error
}

func (e *taskError) Error() string {
	return fmt.Sprintf("remote %q: %s", e.fn, strings.ReplaceAll(e.err.Error(), "remote: ", ""))
}

func (e *taskError) Unwrap() error { return e.err }

func fnError(fn string, err error) error { return &taskError{fn: fn, err: err} }

// RemoteError is the error of a task whose function returned an error. A
// Go error value cannot cross machines, so only its message does; match on
// Function and Message, or make the function return a value that carries
// the details instead.
type RemoteError struct {
	Function string // the registered name
	Message  string // the function's err.Error()
}

// Error returns a message such as `remote "resize": image too large`.
func (e *RemoteError) Error() string {
	return fmt.Sprintf("remote %q: %s", e.Function, e.Message)
}

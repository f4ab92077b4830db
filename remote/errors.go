package remote

import (
	"errors"
	"fmt"
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
)

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

package async

import (
	"errors"
	"fmt"
)

// State is where a future is in its life. A future starts Pending and moves
// exactly once to one of the three settled states.
type State uint8

const (
	Pending   State = iota // not settled yet
	Fulfilled              // settled with a value
	Rejected               // settled with an error
	Cancelled              // settled by Cancel or CancelWithCause
)

// String returns "pending", "fulfilled", "rejected" or "cancelled".
func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Fulfilled:
		return "fulfilled"
	case Rejected:
		return "rejected"
	case Cancelled:
		return "cancelled"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// ErrCancelled is the error of every cancelled future: errors.Is(err,
// ErrCancelled) holds for the error that Await, Result and Poll report once
// Cancel or CancelWithCause has settled the future.
var ErrCancelled = errors.New("async: future cancelled")

// ErrInvalidArgument reports a call that cannot be carried out as asked: a
// nil future or function, or a combinator that needs at least one future and
// got none. The future returned by such a call is already rejected with an
// error that wraps ErrInvalidArgument; nothing panics.
var ErrInvalidArgument = errors.New("invalid argument")

// ErrRejectedNil is the error of a future rejected with a nil error:
// Promise.Reject(nil) still rejects, and says so.
var ErrRejectedNil = errors.New("async: promise rejected with a nil error")

// cancelError is the error of a future cancelled with a cause. It matches
// ErrCancelled and unwraps to the cause.
type cancelError struct{ cause error }

func (e *cancelError) Error() string {
	return ErrCancelled.Error() + ": " + e.cause.Error()
}

func (e *cancelError) Unwrap() []error { return []error{ErrCancelled, e.cause} }

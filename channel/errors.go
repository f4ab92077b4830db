package channel

import (
	"context"
	"errors"
	"fmt"

	"github.com/velalang/runtime/async"
)

var (
	// ErrClosed is returned by a send on a closed channel (closed by its
	// senders, failed with CloseWithError, or left by every receiver), by
	// a receive once a normally closed channel is drained, and by any
	// operation on a handle that was itself closed.
	ErrClosed = errors.New("channel: closed")
	// ErrFull is returned by TrySend when the channel is full; for a
	// rendezvous channel, when no receiver is waiting.
	ErrFull = errors.New("channel: full")
	// ErrEmpty is returned by TryRecv when the channel is open and holds no
	// value (for a rendezvous channel: no sender is waiting).
	ErrEmpty = errors.New("channel: empty")
	// ErrInvalidArgument is the error of a call given a nil handle,
	// function, case or context. It is async.ErrInvalidArgument, so one
	// errors.Is check covers both packages.
	ErrInvalidArgument = async.ErrInvalidArgument
)

// ctxError describes a context that ended while an operation waited: it
// matches ctx.Err() and, when it differs, context.Cause(ctx).
func ctxError(ctx context.Context, op string) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != err {
		return fmt.Errorf("channel: %s: %w (%w)", op, err, cause)
	}
	return fmt.Errorf("channel: %s: %w", op, err)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("channel: "+format+": %w", append(args, ErrInvalidArgument)...)
}

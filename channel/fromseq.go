package channel

import (
	"context"
	"fmt"
	"iter"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/internal/safecall"
)

// FromSeq feeds a channel of the given capacity from seq, on a goroutine it
// owns, and returns the channel's receiving end. The goroutine pulls a value
// only when it can be sent (it waits while the channel is full), so seq runs
// at the consumers' pace. When seq ends the channel closes normally; when
// seq panics or calls runtime.Goexit, the channel fails (CloseWithError)
// with a *async.PanicError or async.ErrGoexit. Once every receiver handle
// is closed, or ctx has ended, it stops pulling from seq and the goroutine
// ends; an ended ctx fails the channel with an error that matches
// async.ErrCancelled and context.Cause(ctx). A value pulled from seq whose
// send was refused that way is dropped. A nil ctx or seq gives a channel
// whose first receive returns an error wrapping ErrInvalidArgument.
//
// The goroutine can only notice that it should stop between values: if seq
// blocks, the goroutine waits with it.
func FromSeq[T any](ctx context.Context, seq iter.Seq[T], capacity int) *Receiver[T] {
	tx, rx := New[T](capacity)
	switch {
	case ctx == nil:
		tx.CloseWithError(invalid("FromSeq with a nil context"))
	case seq == nil:
		tx.CloseWithError(invalid("FromSeq with a nil sequence"))
	default:
		go feed(ctx, seq, tx)
	}
	return rx
}

// feed is FromSeq's goroutine.
func feed[T any](ctx context.Context, seq iter.Seq[T], tx *Sender[T]) {
	pull := func(struct{}) (struct{}, error) {
		if ctx.Err() != nil {
			return struct{}{}, cancelled(ctx)
		}
		for v := range seq {
			switch err := tx.Send(ctx, v); {
			case err == ErrClosed:
				return struct{}{}, nil // every receiver left: nobody to tell
			case err != nil:
				return struct{}{}, cancelled(ctx)
			}
			if ctx.Err() != nil {
				return struct{}{}, cancelled(ctx)
			}
		}
		return struct{}{}, nil
	}
	_, r, err := safecall.Call(pull, struct{}{}, goexitCloser[T]{tx})
	if r != nil {
		err = &async.PanicError{Value: r.Value, Stack: r.Stack}
	}
	tx.CloseWithError(err)
}

// cancelled is the error of a FromSeq whose ctx ended.
func cancelled(ctx context.Context) error {
	return fmt.Errorf("channel: FromSeq: %w: %w", async.ErrCancelled, context.Cause(ctx))
}

// goexitCloser fails the channel of a FromSeq whose seq called
// runtime.Goexit.
type goexitCloser[T any] struct{ tx *Sender[T] }

func (g goexitCloser[T]) Goexited() { g.tx.CloseWithError(async.ErrGoexit) }

package async

import (
	"errors"
	"fmt"
)

// PanicError is the error of a future whose producing function panicked. It
// keeps the value passed to panic and the stack of the panicking goroutine,
// taken where the panic was recovered. Unwrap returns Value when it is an
// error, so errors.Is and errors.As reach it (a runtime.Error, for example).
type PanicError struct {
	Value any
	Stack []byte
}

// Error returns "panic: " followed by the panic value; the stack is in Stack.
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns Value if it is an error, and nil otherwise.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// ErrGoexit is the error of a future whose producing function called
// runtime.Goexit instead of returning.
var ErrGoexit = errors.New("runtime.Goexit called")

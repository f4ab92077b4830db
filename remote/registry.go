package remote

import (
	"context"
	"fmt"
	"sync"

	"github.com/velalang/runtime/workers"
)

// Registry maps names to the functions a Worker serves. Register and Serve
// may be called from any goroutine; a function registered after Serve is
// served from then on. A Registry may be served by several Workers.
type Registry struct {
	mu    sync.RWMutex
	funcs map[string]*function
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{funcs: make(map[string]*function)} }

// function is one registered function, with its argument and result types
// erased behind call.
type function struct {
	name          string
	notIdempotent bool
	// call decodes the argument, runs the function and encodes its
	// result. A codec failure is returned as a *codecFailure.
	call func(ctx context.Context, c Codec, arg []byte) ([]byte, error)
}

// codecFailure marks an error of the codec on the worker, as opposed to an
// error returned by the function.
type codecFailure struct{ err error }

func (e *codecFailure) Error() string { return e.err.Error() }

// FuncOption configures one registered function.
type FuncOption struct{ notIdempotent bool }

// NotIdempotent marks a function that must never run twice for one task. At
// least once is the default: a task whose worker dies is run again by
// another worker. With NotIdempotent, a task delivered a second time fails
// with ErrWorkerLost instead, whether or not its first delivery got as far
// as calling the function.
func NotIdempotent() FuncOption { return FuncOption{notIdempotent: true} }

// Register adds fn to r under name. Its argument and result travel through
// the Config's Codec, so A and R must be types the codec can encode and
// decode (with JSON: exported fields). It returns an error wrapping
// workers.ErrInvalidArgument for a nil r, an empty name, a nil fn or a name
// already taken.
func Register[A, R any](r *Registry, name string, fn func(context.Context, A) (R, error), opts ...FuncOption) error {
	switch {
	case r == nil || r.funcs == nil:
		return invalid("Register on a nil or zero Registry")
	case name == "":
		return invalid("Register with an empty name")
	case fn == nil:
		return invalid("Register %q with a nil function", name)
	}
	f := &function{name: name}
	for _, o := range opts {
		f.notIdempotent = f.notIdempotent || o.notIdempotent
	}
	f.call = func(ctx context.Context, c Codec, data []byte) ([]byte, error) {
		var a A
		if err := c.Unmarshal(data, &a); err != nil {
			return nil, &codecFailure{fmt.Errorf("decoding the argument of %q: %w", name, err)}
		}
		v, err := fn(ctx, a)
		if err != nil {
			return nil, err
		}
		out, err := c.Marshal(v)
		if err != nil {
			return nil, &codecFailure{fmt.Errorf("encoding the result of %q: %w", name, err)}
		}
		return out, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, taken := r.funcs[name]; taken {
		return invalid("Register: name %q already taken", name)
	}
	r.funcs[name] = f
	return nil
}

func (r *Registry) lookup(name string) *function {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.funcs[name]
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("remote: "+format+": %w", append(args, workers.ErrInvalidArgument)...)
}

package jsloop

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/dop251/goja"
	"github.com/velalang/runtime/workers"
)

// RegisterFunc makes fn callable from JavaScript as spawn(name, arg): it
// takes exactly one JavaScript argument, decoded into A on the loop with
// JSON's rules (the argument is cloned by the spawnJS rules, then
// encoding/json decodes it: an object into a struct by its json tags or
// field names, an array into a slice, and so on). A missing argument
// (undefined), an extra one, or a value that does not decode rejects the
// promise with a TypeError naming the function and the problem, and fn
// never runs. fn runs on Options.Pool as a Register function does, and its
// R goes back through goja's ToValue. Safe from any goroutine; an empty
// name, a nil fn or a name already registered is an error wrapping
// workers.ErrInvalidArgument.
func RegisterFunc[A, R any](r *Runtime, name string, fn func(context.Context, A) (R, error)) error {
	if fn == nil {
		return fmt.Errorf("jsloop: RegisterFunc(%q) with a nil function: %w", name, workers.ErrInvalidArgument)
	}
	return r.register("RegisterFunc", name, goFunc{
		decode: decodeOne[A],
		call: func(ctx context.Context, in any) (any, error) {
			return fn(ctx, in.(A))
		},
	})
}

// decodeOne is RegisterFunc's decode: the one argument into an A.
func decodeOne[A any](r *Runtime, name string, args []goja.Value) (any, goja.Value) {
	var a A
	typeName := reflect.TypeFor[A]().String()
	if len(args) != 1 || goja.IsUndefined(args[0]) {
		n := len(args)
		if n == 1 {
			n = 0
		}
		return nil, r.vm.NewTypeError("spawn: %s takes exactly one argument (a %s), got %d", name, typeName, n)
	}
	s, err := r.toJSON(goja.Undefined(), args[0], r.spawnLabel)
	if err != nil {
		if isUncatchable(err) {
			panic(err)
		}
		return nil, r.thrownValue(err)
	}
	if err := json.Unmarshal([]byte(s.String()), &a); err != nil {
		return nil, r.vm.NewTypeError("spawn: the argument of %s does not decode into a %s: %v", name, typeName, err)
	}
	return a, nil
}

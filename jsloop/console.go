package jsloop

import (
	"io"
	"strings"
	"sync"

	"github.com/dop251/goja"
)

// Console returns a Setup function that installs a minimal console:
// console.log, info and debug write to out, console.error and warn to errOut
// (out again if errOut is nil), each call one line of its arguments joined
// by spaces. Strings are written as they are; other values as JSON where
// JSON can write them (objects, arrays), else as JavaScript's String(v).
// Writes happen on the loop goroutine; a writer shared with other
// goroutines is locked around each line.
func Console(out, errOut io.Writer) func(*goja.Runtime) {
	if errOut == nil {
		errOut = out
	}
	var mu sync.Mutex
	return func(vm *goja.Runtime) {
		stringify, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("stringify"))
		format := func(args []goja.Value) string {
			var b strings.Builder
			for i, a := range args {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(formatValue(stringify, a))
			}
			b.WriteByte('\n')
			return b.String()
		}
		console := vm.NewObject()
		printer := func(w io.Writer) func(goja.FunctionCall) goja.Value {
			return func(call goja.FunctionCall) goja.Value {
				line := format(call.Arguments)
				mu.Lock()
				_, _ = io.WriteString(w, line)
				mu.Unlock()
				return goja.Undefined()
			}
		}
		for _, name := range []string{"log", "info", "debug"} {
			_ = console.Set(name, printer(out))
		}
		for _, name := range []string{"error", "warn"} {
			_ = console.Set(name, printer(errOut))
		}
		_ = vm.Set("console", console)
	}
}

func formatValue(stringify goja.Callable, v goja.Value) string {
	if v == nil {
		return "undefined"
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		return v.String()
	}
	if _, isFn := goja.AssertFunction(v); isFn {
		return v.String()
	}
	if name := obj.Get("stack"); name != nil && !goja.IsUndefined(name) && obj.Get("message") != nil {
		return name.String()
	}
	if stringify != nil {
		if s, err := stringify(goja.Undefined(), v); err == nil && !goja.IsUndefined(s) {
			return s.String()
		}
	}
	return v.String()
}

package jsloop

import (
	"reflect"
	"runtime"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"
)

// The call-stack limit. goja's own limit (SetMaxCallStackSize) ends the
// script with an error that try/catch never sees, and goja has no limit
// by default. So every function a Runtime compiles starts with a call of
// a hook of ours (inserted in the syntax tree, so no position moves) that,
// every checkEvery calls, measures the depth and throws a RangeError that
// JavaScript can catch, as Node does. goja's limit stays above ours as a
// backstop for code the hook cannot reach (eval, new Function).
//
// Recursion through native functions ([0].map(f), a getter reading
// itself, JSON.stringify calling toJSON) nests Go calls too, about 9 Go
// frames per level, and goja unwinds an interrupt through them in time
// that grows quickly with the Go depth (it re-panics at every level; on a
// 2-core machine 5,000 nested levels took 2 s to unwind). The hook
// therefore also bounds the Go stack of the VM's goroutine, at
// maxGoFrames: a script that catches its RangeErrors and recurses again
// through natives stops within about a quarter second of its ctx's end.
const (
	stackOverflowMessage = "Maximum call stack size exceeded"
	// maxCallDepth is the JavaScript depth of the RangeError; Node's
	// default stack allows about 10,800 frames of a small function.
	maxCallDepth = 10000
	// gojaCallDepth is goja's own limit, the backstop.
	gojaCallDepth = maxCallDepth + 2000
	// maxGoFrames bounds the Go stack of the VM's goroutine: about 1,000
	// nested native levels of 9 Go frames each (measured).
	maxGoFrames = 9000
	// checkEvery: the hook measures the depth at every checkEvery-th call,
	// so the cost of a call stays small (measured: +29% on a recursive
	// fib, the worst case of a tiny function).
	checkEvery = 32
	// goCheckFrom is the JavaScript depth from which the hook measures
	// the Go stack too, at every call (nesting needs depth; with a
	// shallow Go stack the measure costs about a microsecond).
	goCheckFrom = 128
	// goCheckEvery: while deep, the hook measures the Go stack every
	// goCheckEvery calls.
	goCheckEvery = 4
	// enterHook is the global the instrumented code calls.
	enterHook = "__velaEnter"
)

// depthGuard is the hook of one VM; used on the VM's goroutine only.
type depthGuard struct {
	vm     *goja.Runtime
	calls  uint32
	deep   bool // the last measure found goCheckFrom frames or more
	frames []goja.StackFrame
	pcs    []uintptr
}

// installDepthGuard sets the hook as a global that scripts cannot change,
// and goja's backstop limit.
func installDepthGuard(vm *goja.Runtime) error {
	d := &depthGuard{vm: vm}
	vm.SetMaxCallStackSize(gojaCallDepth)
	return vm.GlobalObject().DefineDataProperty(enterHook, vm.ToValue(d.enter), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
}

func (d *depthGuard) enter(goja.FunctionCall) goja.Value {
	d.calls++
	if d.calls%checkEvery == 0 {
		d.frames = d.vm.CaptureCallStack(maxCallDepth+1, d.frames[:0])
		n := len(d.frames)
		clear(d.frames) // do not keep the programs alive
		if n > maxCallDepth {
			d.overflow()
		}
		d.deep = n >= goCheckFrom
	}
	if d.deep && d.calls%goCheckEvery == 0 {
		// Often while deep: a catch that recurses again must not get far
		// past the bound (measured: checking every 32nd call let such a
		// script take 3 s to stop instead of 0.2 s; every call made plain
		// native recursion spend most of its time in runtime.Callers).
		if d.pcs == nil {
			d.pcs = make([]uintptr, maxGoFrames)
		}
		if runtime.Callers(0, d.pcs) >= maxGoFrames {
			d.overflow()
		}
	}
	return nil
}

func (d *depthGuard) overflow() {
	ctor, _ := goja.AssertConstructor(d.vm.Get("RangeError"))
	if ctor != nil {
		if e, err := ctor(nil, d.vm.ToValue(stackOverflowMessage)); err == nil {
			panic(e)
		}
	}
	panic(d.vm.NewTypeError(stackOverflowMessage))
}

// instrument inserts a call of the hook at the start of every function of
// prg (after its directives), and before the expression of every arrow
// function with an expression body. The call takes the position of the
// function's body, so positions in errors and stacks are those of the
// source.
func instrument(prg *ast.Program) {
	seen := make(map[any]bool)
	walkAST(reflect.ValueOf(prg), func(n any) {
		if seen[n] {
			return
		}
		seen[n] = true
		switch f := n.(type) {
		case *ast.FunctionLiteral:
			if f.Body != nil {
				f.Body.List = withHook(f.Body.List, f.Body.LeftBrace)
			}
		case *ast.ArrowFunctionLiteral:
			switch b := f.Body.(type) {
			case *ast.BlockStatement:
				b.List = withHook(b.List, b.LeftBrace)
			case *ast.ExpressionBody:
				b.Expression = &ast.SequenceExpression{Sequence: []ast.Expression{hookCall(b.Expression.Idx0()), b.Expression}}
			}
		}
	})
}

func hookCall(at file.Idx) ast.Expression {
	return &ast.CallExpression{Callee: &ast.Identifier{Name: enterHook, Idx: at}, LeftParenthesis: at, RightParenthesis: at}
}

// withHook inserts the hook's call after the directive prologue of body.
func withHook(body []ast.Statement, at file.Idx) []ast.Statement {
	i := 0
	for ; i < len(body); i++ {
		es, ok := body[i].(*ast.ExpressionStatement)
		if !ok {
			break
		}
		if _, isString := es.Expression.(*ast.StringLiteral); !isString {
			break
		}
	}
	out := make([]ast.Statement, 0, len(body)+1)
	out = append(out, body[:i]...)
	out = append(out, &ast.ExpressionStatement{Expression: hookCall(at)})
	return append(out, body[i:]...)
}

var (
	fileType = reflect.TypeOf((*file.File)(nil))
	idxType  = reflect.TypeOf(file.Idx(0))
)

// walkAST calls visit with every function literal reachable from v,
// outer ones first.
func walkAST(v reflect.Value, visit func(any)) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			walkAST(v.Elem(), visit)
		}
	case reflect.Pointer:
		if v.IsNil() || v.Type() == fileType {
			return
		}
		switch n := v.Interface().(type) {
		case *ast.FunctionLiteral, *ast.ArrowFunctionLiteral:
			visit(n)
		}
		walkAST(v.Elem(), visit)
	case reflect.Struct:
		t := v.Type()
		for i := range v.NumField() {
			// DeclarationList repeats declarations found in the body.
			if f := v.Field(i); f.CanInterface() && f.Type() != idxType && t.Field(i).Name != "DeclarationList" {
				walkAST(f, visit)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			walkAST(v.Index(i), visit)
		}
	}
}

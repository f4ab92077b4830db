package jsloop

import (
	"errors"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/parser"
	"github.com/dop251/goja/unistring"
	"github.com/evanw/esbuild/pkg/api"
)

// compile turns a script's source into a program for any of the Runtime's
// VMs. The pinned goja cannot parse for await or async generator
// functions (ES2018), so a source goja does not parse is lowered to
// ES2017 by esbuild, with an inline source map that goja reads: errors and
// stack traces still point into the user's source (line and column of the
// statement esbuild mapped; a position inside a lowered for await may
// point at its start). A source that goja parses is compiled as it is,
// without esbuild's cost (about 0.5 to 2 ms for a small script, measured in
// BENCHMARKS.md). Either way every function gets the call-stack hook
// (stack.go).
//
// Source maps are only read from the source itself (a data: URL, as
// esbuild writes them): a script's sourceMappingURL naming a file is
// ignored, so a script cannot make the Runtime read the file system.
func compile(name, src string, strict bool) (*goja.Program, error) {
	prg, err := parse(name, src)
	if err != nil {
		return nil, err
	}
	instrument(prg)
	return goja.CompileAST(prg, strict)
}

// parse parses src, lowered by esbuild if goja cannot parse it as it is.
func parse(name, src string) (*ast.Program, error) {
	prg, err := goja.Parse(name, src, noSourceMapFiles)
	if err == nil {
		return prg, nil
	}
	lowered, ok := lower(name, src)
	if !ok {
		return nil, err // goja's syntax error, which names the position
	}
	if prg, lerr := goja.Parse(name, lowered, noSourceMapFiles); lerr == nil {
		return prg, nil
	}
	return nil, err
}

// compileModule compiles a CommonJS module's source as the function
// (exports, module) { src }. The function is made in the syntax tree
// around the parsed source, so positions in errors and stacks are those of
// the file; a source that only parses inside a function (a top-level
// return) is wrapped as text instead, and then columns on its first line
// are off by the wrapper's length.
func compileModule(name, src string) (*goja.Program, error) {
	prg, err := parse(name, src)
	if err != nil {
		return compile(name, moduleWrapper+src+"\n})", false)
	}
	param := func(n string) *ast.Binding {
		return &ast.Binding{Target: &ast.Identifier{Name: unistring.NewFromString(n), Idx: 1}}
	}
	fn := &ast.FunctionLiteral{
		Function:        1,
		ParameterList:   &ast.ParameterList{Opening: 1, List: []*ast.Binding{param("exports"), param("module")}, Closing: 1},
		Body:            &ast.BlockStatement{LeftBrace: 1, List: prg.Body, RightBrace: file.Idx(len(src) + 1)},
		DeclarationList: prg.DeclarationList,
	}
	wrapped := &ast.Program{Body: []ast.Statement{&ast.ExpressionStatement{Expression: fn}}, File: prg.File}
	instrument(wrapped)
	return goja.CompileAST(wrapped, false)
}

const moduleWrapper = "(function (exports, module) {"

var noSourceMapFiles = parser.WithSourceMapLoader(func(string) ([]byte, error) {
	return nil, errNoSourceMapFiles
})

var errNoSourceMapFiles = errors.New("jsloop: source maps are only read from data: URLs")

// lower is src lowered to ES2017 with an inline source map, or false if
// esbuild cannot parse it either.
func lower(name, src string) (string, bool) {
	res := api.Transform(src, api.TransformOptions{
		Loader:         api.LoaderJS,
		Target:         api.ES2017,
		Sourcefile:     name,
		Sourcemap:      api.SourceMapInline,
		SourcesContent: api.SourcesContentExclude,
		LegalComments:  api.LegalCommentsNone,
		Charset:        api.CharsetUTF8,
		LogLevel:       api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		return "", false
	}
	return strings.TrimRight(string(res.Code), "\n"), true
}

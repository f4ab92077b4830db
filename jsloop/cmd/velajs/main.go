// Command velajs runs a JavaScript file on a Vela event loop (package
// jsloop), with console, timers, AbortController, spawn over a few Go
// functions and spawnJS over the modules next to the script:
//
//	go run ./jsloop/cmd/velajs script.js [args...]
//
// Go functions for spawn(name, ...args), each run on a worker pool:
//
//	readFile(path)    the file's contents as a string
//	sha256File(path)  the hex SHA-256 of the file, read in chunks
//	readDir(path)     the names of the directory's entries, sorted
//	sleep(ms)         waits ms milliseconds (or until cancelled), returns ms
//
// Every other *.js file in the script's directory is a module for
// spawnJS(name, export, ...args) and spawnJS.stream, name being the file
// name without ".js"; each is compiled when a script first calls it, so a
// file that does not compile only fails the scripts that use it.
// Globals: args (the command-line arguments after the script), __filename
// and __dirname (the script's absolute path and directory).
//
// The script's completion value, if it is not undefined (or a promise of
// undefined), is printed as JSON. Ctrl-C (SIGINT) or SIGTERM cancels
// everything in flight: JavaScript on the loop is interrupted, every Go
// function's and spawnJS call's context ends, and velajs exits with status
// 130 once the workers have returned (at most a few seconds). An uncaught
// error prints its stack and exits with status 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dop251/goja"

	"github.com/velalang/runtime/jsloop"
	"github.com/velalang/runtime/workers"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// run is velajs with its arguments; it returns the exit status.
func run(parent context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: velajs script.js [args...]")
		return exitUsage
	}
	script, err := filepath.Abs(args[0])
	if err != nil {
		fmt.Fprintln(stderr, "velajs:", err)
		return exitError
	}
	src, err := os.ReadFile(script)
	if err != nil {
		fmt.Fprintln(stderr, "velajs:", err)
		return exitError
	}
	modules, err := siblingModules(script)
	if err != nil {
		fmt.Fprintln(stderr, "velajs:", err)
		return exitError
	}

	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Both pools are shut down on the way out, after the cancel: every Go
	// function and spawnJS call has returned when velajs exits.
	pool, _ := workers.NewPool(workers.Config{Name: "velajs"})
	jsPool, _ := workers.NewPool(workers.Config{Name: "velajs-js"})
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = pool.Shutdown(sctx)
		_ = jsPool.Shutdown(sctx)
	}()
	scriptArgs := args[1:]
	rt, err := jsloop.New(jsloop.Options{
		Pool:    pool,
		JSPool:  jsPool,
		Modules: modules,
		Setup: func(vm *goja.Runtime) {
			jsloop.Console(stdout, stderr)(vm)
			_ = vm.Set("args", scriptArgs)
			_ = vm.Set("__filename", script)
			_ = vm.Set("__dirname", filepath.Dir(script))
		},
	})
	if err != nil {
		fmt.Fprintln(stderr, "velajs:", err)
		return exitError
	}
	defer rt.Close()
	if err := registerBuiltins(rt); err != nil {
		fmt.Fprintln(stderr, "velajs:", err)
		return exitError
	}

	v, err := rt.RunScript(ctx, script, string(src))
	switch {
	case err != nil && ctx.Err() != nil && parent.Err() == nil:
		fmt.Fprintln(stderr, "velajs: interrupted; cancelled the work in flight")
		return exitInterrupted
	case err != nil:
		var je *jsloop.JSError
		if errors.As(err, &je) && je.Stack != "" {
			fmt.Fprintln(stderr, "velajs: uncaught", je.Stack)
		} else {
			fmt.Fprintln(stderr, "velajs:", err)
		}
		return exitError
	}
	if v != nil {
		out, err := json.Marshal(v)
		if err != nil {
			out = []byte(fmt.Sprint(v))
		}
		fmt.Fprintln(stdout, string(out))
	}
	return exitOK
}

// siblingModules reads every *.js file next to script but script itself.
func siblingModules(script string) (map[string]string, error) {
	paths, err := filepath.Glob(filepath.Join(filepath.Dir(script), "*.js"))
	if err != nil {
		return nil, err
	}
	modules := make(map[string]string)
	for _, p := range paths {
		if p == script {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		modules[strings.TrimSuffix(filepath.Base(p), ".js")] = string(b)
	}
	return modules, nil
}

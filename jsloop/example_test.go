package jsloop_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/velalang/runtime/jsloop"
)

// A script awaits a Go function running on the worker pool and a module
// export running in another JavaScript runtime.
func Example() {
	rt, err := jsloop.New(jsloop.Options{
		Modules: map[string]string{"text": `exports.shout = s => s.toUpperCase() + '!'`},
		Setup:   jsloop.Console(os.Stdout, os.Stdout),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Close()
	_ = rt.Register("words", func(ctx context.Context, args []any) (any, error) {
		return strings.Fields(args[0].(string)), nil
	})
	v, err := rt.RunScript(context.Background(), "main.js", `
		(async () => {
			const words = await spawn('words', 'hello from the loop');
			const loud = await Promise.all(words.map(w => spawnJS('text', 'shout', w)));
			setTimeout(() => console.log('timers run after microtasks'), 0);
			queueMicrotask(() => console.log(loud.join(' ')));
			return loud.length;
		})()`)
	fmt.Println(v, err)
	// Output:
	// HELLO! FROM! THE! LOOP!
	// timers run after microtasks
	// 4 <nil>
}

// An uncaught error comes back with its JavaScript name and message.
func ExampleJSError() {
	rt, err := jsloop.New(jsloop.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Close()
	_, err = rt.RunScript(context.Background(), "bad.js", `setTimeout(() => { throw new RangeError('out of range') }, 1)`)
	var je *jsloop.JSError
	if errors.As(err, &je) {
		fmt.Println(je.Name, "|", je.Message)
	}
	// Output: RangeError | out of range
}

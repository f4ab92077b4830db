package jsloop_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/velalang/runtime/jsloop"
	"github.com/velalang/runtime/workers"
)

type resizeArgs struct {
	Path  string `json:"path"`
	Width int    `json:"width"`
}

func TestRegisterFunc(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	must(t, jsloop.RegisterFunc(r, "resize", func(_ context.Context, a resizeArgs) (string, error) {
		return fmt.Sprintf("%s@%d", a.Path, a.Width), nil
	}))
	must(t, jsloop.RegisterFunc(r, "double", func(_ context.Context, n float64) (float64, error) { return 2 * n, nil }))
	v := runOK(t, r, `
		(async () => {
			const out = [await spawn('resize', { path: 'a.png', width: 300 }), await spawn('double', 21)];
			for (const bad of [[], ['x', 1], [{ width: 'wide' }], [undefined]]) {
				try { await spawn('resize', ...bad); out.push('ran') }
				catch (e) { out.push((e instanceof TypeError) + ' ' + e.message) }
			}
			return out.join('\n');
		})()`)
	lines := strings.Split(v.(string), "\n")
	if lines[0] != "a.png@300" || lines[1] != "42" {
		t.Errorf("results %q", lines[:2])
	}
	for i, want := range []string{
		"true spawn: resize takes exactly one argument (a jsloop_test.resizeArgs), got 0",
		"true spawn: resize takes exactly one argument (a jsloop_test.resizeArgs), got 2",
		"true spawn: the argument of resize does not decode into a jsloop_test.resizeArgs",
		"true spawn: resize takes exactly one argument (a jsloop_test.resizeArgs), got 0",
	} {
		if got := lines[2+i]; !strings.HasPrefix(got, want) {
			t.Errorf("bad call %d: %q, want %q", i, got, want)
		}
	}
	if err := jsloop.RegisterFunc[int, int](r, "nil", nil); !errors.Is(err, workers.ErrInvalidArgument) {
		t.Errorf("nil fn: %v", err)
	}
	if err := jsloop.RegisterFunc(r, "double", func(context.Context, int) (int, error) { return 0, nil }); !errors.Is(err, workers.ErrInvalidArgument) {
		t.Errorf("name taken: %v", err)
	}
}

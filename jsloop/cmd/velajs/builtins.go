package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/velalang/runtime/jsloop"
	"github.com/velalang/runtime/workers"
)

// errBadArgs is the error of a built-in called with the wrong arguments.
var errBadArgs = fmt.Errorf("velajs: bad arguments: %w", workers.ErrInvalidArgument)

func registerBuiltins(rt *jsloop.Runtime) error {
	return errors.Join(
		rt.Register("readFile", readFile),
		rt.Register("sha256File", sha256File),
		rt.Register("readDir", readDir),
		rt.Register("sleep", sleep),
	)
}

func stringArg(args []any, i int) (string, error) {
	if i >= len(args) {
		return "", fmt.Errorf("%w: argument %d missing", errBadArgs, i+1)
	}
	s, ok := args[i].(string)
	if !ok {
		return "", fmt.Errorf("%w: argument %d is a %T, not a string", errBadArgs, i+1, args[i])
	}
	return s, nil
}

func readFile(ctx context.Context, args []any) (any, error) {
	path, err := stringArg(args, 0)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// ctxReader fails reads once ctx has ended, so a large file stops being
// hashed soon after a cancel.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func sha256File(ctx context.Context, args []any) (any, error) {
	path, err := stringArg(args, 0)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, ctxReader{ctx, f}, make([]byte, 64<<10)); err != nil {
		return nil, err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func readDir(ctx context.Context, args []any) (any, error) {
	path, err := stringArg(args, 0)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	slices.Sort(names)
	return names, nil
}

func sleep(ctx context.Context, args []any) (any, error) {
	var ms float64
	switch n := firstArg(args).(type) {
	case int64:
		ms = float64(n)
	case float64:
		ms = n
	default:
		return nil, fmt.Errorf("%w: sleep(ms) needs a number", errBadArgs)
	}
	t := time.NewTimer(time.Duration(ms * float64(time.Millisecond)))
	defer t.Stop()
	select {
	case <-t.C:
		return ms, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

func firstArg(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}

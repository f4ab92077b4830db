package remote_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
)

// A worker and a caller in one process, on the embedded server that a
// zero Config starts on first use and stops when both are closed.
func ExampleSpawn() {
	ctx := context.Background()

	reg := remote.NewRegistry()
	_ = remote.Register(reg, "upper", func(_ context.Context, s string) (string, error) {
		if s == "" {
			return "", errors.New("empty input")
		}
		return strings.ToUpper(s), nil
	})
	w, err := remote.Serve(ctx, remote.Config{Queue: "example"}, reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Shutdown(ctx)

	c, err := remote.Dial(ctx, remote.Config{Queue: "example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	v, err := remote.Spawn[string](ctx, c, "upper", "hello", workers.WithTimeout(5*time.Second)).Await(ctx)
	fmt.Println(v, err)

	_, err = remote.Spawn[string](ctx, c, "upper", "").Await(ctx)
	var re *remote.RemoteError
	fmt.Println(errors.As(err, &re), re.Message)

	_, err = remote.Spawn[string](ctx, c, "lower", "x").Await(ctx)
	fmt.Println(errors.Is(err, remote.ErrUnknownFunction))

	all, err := remote.SpawnAll[string](ctx, c, "upper", []string{"a", "b", "c"}).Await(ctx)
	fmt.Println(all, err)
	// Output:
	// HELLO <nil>
	// true empty input
	// true
	// [A B C] <nil>
}

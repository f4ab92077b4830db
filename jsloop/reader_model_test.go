package jsloop_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/velalang/runtime/channel"
	"github.com/velalang/runtime/jsloop"
)

// TestIteratorRandomMixes: random mixes of next() calls (several pending at
// once, awaited in random order), pauses and return() against a Go stream,
// checked against a model: the values come in order, each once, with no
// gap; every next() settles; after return() every pending and later next()
// gives done; a stream that ends gives done after its last value.
func TestIteratorRandomMixes(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	must(t, r.RegisterStream("seq", func(ctx context.Context, args []any, out *channel.Sender[any]) error {
		for i := range args[0].(int64) {
			if err := out.Send(ctx, i); err != nil {
				return err
			}
		}
		return nil
	}))
	const script = `
	(async (ops, n, buffer) => {
		const it = spawn.stream.with({ buffer }, 'seq', n)[Symbol.asyncIterator]();
		const pending = [], log = [];
		for (const op of ops) {
			if (op === 'n') pending.push(it.next());
			else if (op === 'a' && pending.length) { const r = await pending.shift(); log.push(r.done ? 'done' : r.value) }
			else if (op === 'p') await new Promise(res => setImmediate(res));
			else if (op === 'r') { await it.return(); log.push('ret') }
		}
		for (const p of pending) { const r = await p; log.push(r.done ? 'done' : r.value) }
		return log.join(' ');
	})`
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	for round := range 200 {
		n := rng.IntN(20)
		buffer := rng.IntN(4)
		ops := make([]string, 5+rng.IntN(40))
		for i := range ops {
			switch x := rng.IntN(20); {
			case x < 9:
				ops[i] = "n"
			case x < 16:
				ops[i] = "a"
			case x < 19:
				ops[i] = "p"
			default:
				ops[i] = "r"
			}
		}
		src := fmt.Sprintf("%s(%q.split(''), %d, %d)", script, strings.Join(ops, ""), n, buffer)
		v, err := run(t, r, src)
		if err != nil {
			t.Fatalf("round %d (ops %s, n %d, buffer %d): %v", round, strings.Join(ops, ""), n, buffer, err)
		}
		// The model: values come as 0, 1, 2, ... with no gap or repeat
		// (a next() already settled with a value keeps it, even if it is
		// awaited after return()); done comes only after return() or
		// after the last value, and nothing but done follows it.
		want, returned, ended := int64(0), false, false
		for _, got := range strings.Fields(v.(string)) {
			switch got {
			case "ret":
				returned = true
			case "done":
				if !returned && want < int64(n) {
					t.Fatalf("round %d (ops %s, n %d): done after %d of %d values without return(): %s", round, strings.Join(ops, ""), n, want, n, v)
				}
				ended = true
			default:
				if ended {
					t.Fatalf("round %d (ops %s, n %d): value %s after done: %s", round, strings.Join(ops, ""), n, got, v)
				}
				if got != fmt.Sprint(want) {
					t.Fatalf("round %d (ops %s, n %d): got %s, want %d: %s", round, strings.Join(ops, ""), n, got, want, v)
				}
				want++
			}
		}
	}
}

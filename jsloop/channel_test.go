package jsloop_test

// Channel in JavaScript and spawnJS.stream: a channel shared by the loop,
// spawnJS workers and Go functions; generators of worker runtimes streaming
// to the loop.

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/velalang/runtime/jsloop"
)

const channelModule = `
exports.produce = async function (ch, n) {
	for (let i = 1; i <= n; i++) await ch.send(i);
	ch.close();
	return 'sent ' + n;
};
exports.consume = async function (ch) {
	let sum = 0;
	for await (const v of ch) sum += v;
	return sum;
};
exports.count = function* (n) { for (let i = 0; i < n; i++) yield { i: i } };
exports.countAsync = async function* (n) { for (let i = 0; i < n; i++) { await null; yield i } };
exports.failing = function* () { yield 1; yield 2; throw new RangeError('generator broke') };
exports.endless = function* (ch) {
	try { for (let i = 0; ; i++) yield i }
	finally { ch.send('finally ran') }
};
exports.badValue = function* () { yield 1; yield () => 2 };
exports.notGen = function () { return 3 };
`

func channelRuntime(t *testing.T) *jsloop.Runtime {
	t.Helper()
	r := newRuntime(t, jsloop.Options{Modules: map[string]string{"ch": channelModule}}, nil)
	must(t, r.Register("take", func(ctx context.Context, args []any) (any, error) {
		ch, ok := args[0].(*jsloop.Channel)
		if !ok {
			return nil, fmt.Errorf("take: argument is a %T", args[0])
		}
		return ch.Receiver().Recv(ctx)
	}))
	must(t, r.Register("goProduce", func(ctx context.Context, args []any) (any, error) {
		ch := args[0].(*jsloop.Channel)
		for i := range 3 {
			if err := ch.Sender().Send(ctx, map[string]any{"n": i}); err != nil {
				return nil, err
			}
		}
		ch.Sender().CloseWithError(nil)
		return nil, nil
	}))
	return r
}

func TestChannelOnTheLoop(t *testing.T) {
	r := channelRuntime(t)
	v := runOK(t, r, `
		(async () => {
			const ch = new Channel(4);
			await ch.send({ a: 1 });
			await ch.send('two');
			const first = await ch.recv();
			ch.close();
			const second = await ch.recv();
			const after = await ch.recv();
			let closedSend;
			try { await ch.send(3) } catch (e) { closedSend = e.name }
			// break out of a for await stops only that loop
			const c2 = new Channel(Infinity);
			for (const v of [1, 2, 3]) await c2.send(v);
			for await (const v of c2) { if (v === 1) break }
			const rest = [await c2.recv(), await c2.recv()];
			let clone;
			try { await c2.send(() => 1) } catch (e) { clone = e.name }
			return JSON.stringify([first, second, after === undefined, closedSend, rest, clone]);
		})()`)
	if v != `[{"a":1},"two",true,"GoError",[2,3],"DataCloneError"]` {
		t.Errorf("Channel on the loop: %v", v)
	}
	if _, err := run(t, r, `new Channel(-2)`); err == nil {
		t.Error("a negative capacity was accepted")
	}
}

// TestChannelBetweenWorkers: two spawnJS workers share a Channel, one
// producing and one consuming; the loop and a Go function share others.
func TestChannelBetweenWorkers(t *testing.T) {
	r := channelRuntime(t)
	v := runOK(t, r, `
		(async () => {
			const ch = new Channel(2);
			const [sent, sum] = await Promise.all([spawnJS('ch', 'produce', ch, 100), spawnJS('ch', 'consume', ch)]);
			const fromGo = new Channel(1);
			const got = [];
			const done = spawn('goProduce', fromGo);
			for await (const v of fromGo) got.push(v.n);
			await done;
			const toGo = new Channel(0);
			const taken = spawn('take', toGo);
			await toGo.send('hello Go');
			return JSON.stringify([sent, sum, got, await taken]);
		})()`)
	if v != `["sent 100",5050,[0,1,2],"hello Go"]` {
		t.Errorf("channels between runtimes: %v", v)
	}
}

// TestAbandonedChannelDoesNotHang: a recv on a channel nobody else holds
// does not keep RunScript alive: the script's promise is reported
// unsettled.
func TestAbandonedChannelDoesNotHang(t *testing.T) {
	r := channelRuntime(t)
	_, err := run(t, r, `(async () => { const ch = new Channel(1); return await ch.recv() })()`)
	if !errors.Is(err, jsloop.ErrUnsettled) {
		t.Errorf("RunScript: %v, want ErrUnsettled", err)
	}
}

func TestSpawnJSStream(t *testing.T) {
	r := channelRuntime(t)
	v := runOK(t, r, `
		(async () => {
			const a = [];
			for await (const v of spawnJS.stream('ch', 'count', 5)) a.push(v.i);
			const b = [];
			for await (const v of spawnJS.stream.with({ buffer: 1 }, 'ch', 'countAsync', 3)) b.push(v);
			const c = [];
			try { for await (const v of spawnJS.stream('ch', 'failing')) c.push(v) } catch (e) { c.push(e.name + ': ' + e.message) }
			const d = [];
			try { for await (const v of spawnJS.stream('ch', 'badValue')) d.push(v) } catch (e) { d.push(e.name) }
			let e1, e2;
			try { for await (const v of spawnJS.stream('ch', 'notGen')) {} } catch (e) { e1 = e.name }
			try { for await (const v of spawnJS.stream('nope', 'x')) {} } catch (e) { e2 = e.name }
			return JSON.stringify([a, b, c, d, e1, e2]);
		})()`)
	want := `[[0,1,2,3,4],[0,1,2],[1,2,"RangeError: generator broke"],[1,"DataCloneError"],"TypeError","TypeError"]`
	if v != want {
		t.Errorf("spawnJS.stream: %v\nwant %s", v, want)
	}
}

// TestSpawnJSStreamBreakRunsFinally: break out of a for await over a
// worker generator runs the generator's finally block in its runtime.
func TestSpawnJSStreamBreakRunsFinally(t *testing.T) {
	r := channelRuntime(t)
	v := runOK(t, r, `
		(async () => {
			const ch = new Channel(1);
			let last;
			for await (const v of spawnJS.stream('ch', 'endless', ch)) { last = v; if (v === 20) break }
			return [last, await spawn('take', ch)];
		})()`)
	if got := fmt.Sprint(v); got != "[20 finally ran]" {
		t.Errorf("break out of a worker generator: %s", got)
	}
}

// TestPendingChannelOpsWithdrawnAtRunEnd: a recv still pending when its run
// ends takes nothing: the next run's value is not lost to it.
func TestPendingChannelOpsWithdrawnAtRunEnd(t *testing.T) {
	r := channelRuntime(t)
	runOK(t, r, `globalThis.ch = new Channel(1); ch.recv().then(v => { globalThis.stolen = v }); 'first run ends'`)
	v := runOK(t, r, `(async () => { await ch.send('x'); return [await ch.recv(), typeof stolen] })()`)
	if got := fmt.Sprint(v); got != "[x undefined]" {
		t.Errorf("after a run ended with a pending recv: %s", got)
	}
}

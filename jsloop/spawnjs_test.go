package jsloop_test

import (
	"strings"
	"testing"

	"github.com/velalang/runtime/jsloop"
	"github.com/velalang/runtime/workers"
)

const mathModule = `
let calls = 0; // module state: fresh for every call
exports.add = (a, b) => a + b;
exports.calls = () => ++calls;
exports.echo = v => v;
exports.fn = () => () => 1;
exports.big = () => 10n;
exports.sym = () => ({ s: Symbol('x') });
exports.thrower = () => { const e = new Error('worker says no'); e.name = 'ValidationError'; throw e; };
exports.spin = () => { for (;;) {} };
exports.pollute = () => {
	globalThis.leak = 'leaked';
	Array.prototype.evil = () => 'evil';
	Object.prototype.polluted = true;
	JSON.parse = () => 'hijacked';
	return 'polluted';
};
exports.probe = () => [typeof leak, typeof [].evil, ({}).polluted === undefined, JSON.parse('1')];
exports.asyncAdd = async (a, b) => (await a) + b;
exports.never = () => new Promise(() => {});
`

func newJSRuntime(t *testing.T, workersN int) *jsloop.Runtime {
	t.Helper()
	pool, err := workers.NewPool(workers.Config{MaxWorkers: workersN, Name: "test-js"})
	must(t, err)
	t.Cleanup(pool.Close)
	return newRuntime(t, jsloop.Options{JSPool: pool, Modules: map[string]string{"math": mathModule}}, nil)
}

func TestSpawnJSValues(t *testing.T) {
	r := newJSRuntime(t, 2)
	v := runOK(t, r, `Promise.all([
		spawnJS('math', 'add', 2, 40),
		spawnJS('math', 'echo', {a: [1, 'two', null, true], b: {c: 1.5}}),
		spawnJS('math', 'echo', undefined),
		spawnJS('math', 'asyncAdd', 1, 2),
		spawnJS('math', 'calls'), spawnJS('math', 'calls'),
		spawnJS('math', 'echo', [undefined, NaN, new Date(0)]),
	]).then(rs => JSON.stringify(rs))`)
	want := `[42,{"a":[1,"two",null,true],"b":{"c":1.5}},null,3,1,1,[null,null,"1970-01-01T00:00:00.000Z"]]`
	if v != want {
		t.Errorf("got  %v\nwant %s", v, want)
	}
}

func TestSpawnJSCleanGlobalStatePerCall(t *testing.T) {
	r := newJSRuntime(t, 1) // one worker: the calls run one after the other
	v := runOK(t, r, `spawnJS('math', 'pollute').then(() => spawnJS('math', 'probe')).then(JSON.stringify)`)
	if v != `["undefined","undefined",true,1]` {
		t.Errorf("a later call saw an earlier call's changes: %v", v)
	}
}

func TestSpawnJSErrors(t *testing.T) {
	r := newJSRuntime(t, 2)
	v := runOK(t, r, `
		const desc = p => p.then(v => 'ok ' + v, e => e.name + ': ' + e.message);
		Promise.all([
			desc(spawnJS('nope', 'f')),
			desc(spawnJS('math', 'missing')),
			desc(spawnJS('math', 'echo', () => 1)),
			desc(spawnJS('math', 'echo', 5n)),
			desc(spawnJS('math', 'echo', {s: Symbol('k')})),
			desc(spawnJS('math', 'fn')),
			desc(spawnJS('math', 'big')),
			desc(spawnJS('math', 'sym')),
			desc(spawnJS('math', 'never')),
			desc((() => { const o = {}; o.o = o; return spawnJS('math', 'echo', o); })()),
		])`)
	got := v.([]any)
	wants := []string{
		`TypeError: spawnJS: no module named "nope"`,
		`TypeError: spawnJS: module "math" has no exported function "missing"`,
		"DataCloneError: spawnJS: a function cannot be cloned",
		"DataCloneError: spawnJS: a bigint cannot be cloned",
		"DataCloneError: spawnJS: a symbol cannot be cloned",
		"DataCloneError: spawnJS: a function cannot be cloned",
		"DataCloneError: spawnJS: a bigint cannot be cloned",
		"DataCloneError: spawnJS: a symbol cannot be cloned",
		"Error: spawnJS: math.never returned a promise that did not settle",
		"DataCloneError: spawnJS: ",
	}
	for i, want := range wants {
		if s, _ := got[i].(string); !strings.HasPrefix(s, want) {
			t.Errorf("case %d: %q, want prefix %q", i, got[i], want)
		}
	}
	v = runOK(t, r, `spawnJS('math', 'thrower').catch(e => [e.name, e.message, e.stack])`)
	got = v.([]any)
	if got[0] != "ValidationError" || got[1] != "worker says no" || !strings.Contains(got[2].(string), "math") {
		t.Errorf("thrown in the worker: %q", got)
	}
}

func TestSpawnJSTimeoutInterruptsAndWorkerIsReused(t *testing.T) {
	r := newJSRuntime(t, 1)
	v := runOK(t, r, `
		spawnJS.with({timeout: 30}, 'math', 'spin')
			.catch(e => e.name)
			.then(name => spawnJS('math', 'add', 1, 1).then(v => [name, v]))`)
	if got := v.([]any); got[0] != "TimeoutError" || got[1] != int64(2) {
		t.Errorf("got %v, want [TimeoutError 2]", got)
	}
	v = runOK(t, r, `{
		const ac = new AbortController();
		setTimeout(() => ac.abort(), 20);
		spawnJS.with({signal: ac.signal}, 'math', 'spin')
			.catch(e => e.name)
			.then(name => spawnJS('math', 'add', 2, 2).then(v => [name, v])) }`)
	if got := v.([]any); got[0] != "AbortError" || got[1] != int64(4) {
		t.Errorf("got %v, want [AbortError 4]", got)
	}
}

// The loop keeps running timers while spawnJS JavaScript runs elsewhere:
// ten ticks of an interval pass while an endless export still runs, then
// the loop aborts it.
func TestLoopStaysResponsiveDuringSpawnJS(t *testing.T) {
	r := newJSRuntime(t, 1)
	v := runOK(t, r, `{
		const ac = new AbortController();
		let ticks = 0, settled = false, settledAtAbort;
		const p = spawnJS.with({signal: ac.signal}, 'math', 'spin').finally(() => { settled = true; });
		const id = setInterval(() => {
			if (++ticks === 10) { clearInterval(id); settledAtAbort = settled; ac.abort(); }
		}, 1);
		p.catch(e => [e.name, ticks, settledAtAbort]) }`)
	if got := v.([]any); got[0] != "AbortError" || got[1] != int64(10) || got[2] != false {
		t.Errorf("got %v, want [AbortError 10 false]", got)
	}
}

// TestModuleErrorPositions: an error in a spawnJS module reports the line
// and column of the module's file.
func TestModuleErrorPositions(t *testing.T) {
	r := newRuntime(t, jsloop.Options{Modules: map[string]string{
		"pos": "exports.f = () => { null.x };\nexports.g = function () {\n  undefined.y;\n};",
	}}, nil)
	v := runOK(t, r, `Promise.all([spawnJS('pos', 'f').catch(e => e.stack), spawnJS('pos', 'g').catch(e => e.stack)])`)
	got := v.([]any)
	if s := got[0].(string); !strings.Contains(s, "pos:1:26") {
		t.Errorf("stack of f: %q, want pos:1:26", s)
	}
	if s := got[1].(string); !strings.Contains(s, "pos:3:13") {
		t.Errorf("stack of g: %q, want pos:3:13", s)
	}
}

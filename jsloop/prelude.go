package jsloop

import (
	"errors"

	"github.com/dop251/goja"
)

// preludeSource is the part of the globals written in JavaScript. It runs
// once per Runtime, before Setup and any script, and captures the
// intrinsics it uses so that a script replacing Promise or JSON cannot
// change how queueMicrotask, AbortSignal or spawnJS behave.
const preludeSource = `(function (natives) {
'use strict';
var PromiseCtor = Promise, then = Promise.prototype.then, resolved = Promise.resolve();
var stringify = JSON.stringify, parse = JSON.parse, ErrorCtor = Error, TypeErrorCtor = TypeError;
var WeakMapCtor = WeakMap, wmGet = WeakMap.prototype.get, wmSet = WeakMap.prototype.set;

function makeError(name, msg) { var e = new ErrorCtor(msg); e.name = name; return e; }

function queueMicrotask(fn) {
	if (typeof fn !== 'function') throw new TypeErrorCtor('queueMicrotask: the callback must be a function');
	then.call(resolved, function () {
		try { fn(); } catch (e) { natives.uncaught(e); }
	});
}

var key = {};
var states = new WeakMapCtor();
function state(s) {
	var st = wmGet.call(states, s);
	if (st === undefined) throw new TypeErrorCtor('not an AbortSignal');
	return st;
}
function abortSignal(s, reason) {
	var st = state(s);
	if (st.aborted) return;
	st.aborted = true;
	st.reason = reason;
	var ls = st.listeners;
	st.listeners = [];
	var ev = { type: 'abort', target: s };
	if (typeof s.onabort === 'function') ls.unshift({ fn: s.onabort });
	for (var i = 0; i < ls.length; i++) {
		try { ls[i].fn.call(s, ev); } catch (e) { natives.uncaught(e); }
	}
}

class AbortSignal {
	constructor(k) {
		if (k !== key) throw new TypeErrorCtor('Illegal constructor');
		wmSet.call(states, this, { aborted: false, reason: undefined, listeners: [] });
		this.onabort = null;
	}
	get aborted() { return state(this).aborted; }
	get reason() { return state(this).reason; }
	throwIfAborted() { var st = state(this); if (st.aborted) throw st.reason; }
	addEventListener(type, fn, opts) {
		var st = state(this);
		if (type !== 'abort' || typeof fn !== 'function' || st.aborted) return;
		for (var i = 0; i < st.listeners.length; i++) if (st.listeners[i].fn === fn) return;
		st.listeners.push({ fn: fn });
	}
	removeEventListener(type, fn) {
		var st = state(this);
		if (type !== 'abort') return;
		st.listeners = st.listeners.filter(function (l) { return l.fn !== fn; });
	}
	static abort(reason) {
		var s = new AbortSignal(key);
		abortSignal(s, reason === undefined ? makeError('AbortError', 'This operation was aborted') : reason);
		return s;
	}
	static timeout(ms) {
		var s = new AbortSignal(key);
		natives.unrefTimer(ms, function () {
			abortSignal(s, makeError('TimeoutError', 'The operation was aborted due to timeout'));
		});
		return s;
	}
	static any(signals) {
		var s = new AbortSignal(key);
		var list = Array.from(signals);
		for (var i = 0; i < list.length; i++) {
			if (list[i].aborted) { abortSignal(s, list[i].reason); return s; }
		}
		list.forEach(function (src) {
			src.addEventListener('abort', function () { abortSignal(s, src.reason); });
		});
		return s;
	}
}
Object.defineProperty(AbortSignal.prototype, Symbol.toStringTag, { value: 'AbortSignal' });

var signals = new WeakMapCtor();
class AbortController {
	constructor() { wmSet.call(signals, this, new AbortSignal(key)); }
	get signal() { return wmGet.call(signals, this); }
	abort(reason) {
		abortSignal(wmGet.call(signals, this), reason === undefined ? makeError('AbortError', 'This operation was aborted') : reason);
	}
}

// onAbort calls fn once when signal aborts and returns a function that
// stops watching; it throws a TypeError if signal is not an AbortSignal.
function onAbort(signal, fn) {
	var st = state(signal);
	var l = { fn: fn };
	st.listeners.push(l);
	return function () {
		st.listeners = st.listeners.filter(function (x) { return x !== l; });
	};
}

// toJSON is how values cross to and from spawnJS, and how spawn's
// arguments reach Go: JSON, refusing what JSON would silently drop or
// cannot write. who names the caller in the error.
function toJSON(v, who) {
	var t = typeof v;
	if (t === 'undefined') return '';
	function cloneReplacer(k, v) {
		var t = typeof v;
		if (t === 'function' || t === 'symbol' || t === 'bigint') {
			throw makeError('DataCloneError', who + ': a ' + t + ' cannot be cloned' + (k !== '' ? ' (key "' + k + '")' : ''));
		}
		return v;
	}
	try {
		return stringify(v, cloneReplacer);
	} catch (e) {
		if (e && e.name === 'DataCloneError') throw e;
		throw makeError('DataCloneError', who + ': ' + (e && e.message ? e.message : String(e)));
	}
}
function fromJSON(s) { return s === '' ? undefined : parse(s); }

// structuredClone: Node's structured clone for the values a script holds
// (no transfer list): primitives, plain objects and arrays, Date, RegExp,
// Map, Set, ArrayBuffer and typed arrays, Error objects, boxed primitives,
// with shared and cyclic references kept. Functions, symbols, and objects
// of other classes' internals (a Promise, a WeakMap) throw a
// DataCloneError. Prototypes other than the built-ins' are not kept.
var MapCtor = Map, SetCtor = Set, DateCtor = Date, RegExpCtor = RegExp, ArrayBufferCtor = ArrayBuffer;
var getProto = Object.getPrototypeOf, ObjectProto = Object.prototype, keys = Object.keys;
var isArray = Array.isArray, isView = ArrayBuffer.isView, abSlice = ArrayBuffer.prototype.slice;
var errorNames = { Error: Error, EvalError: EvalError, RangeError: RangeError, ReferenceError: ReferenceError, SyntaxError: SyntaxError, TypeError: TypeError, URIError: URIError };
function structuredClone(value) {
	if (arguments.length === 0) throw new TypeErrorCtor("structuredClone: 1 argument required, but only 0 present");
	var seen = new MapCtor();
	function clone(v) {
		var t = typeof v;
		if (t === 'function' || t === 'symbol') {
			throw makeError('DataCloneError', (t === 'function' ? String(v).slice(0, 40) : String(v)) + ' could not be cloned.');
		}
		if (v === null || t !== 'object') return v;
		if (seen.has(v)) return seen.get(v);
		var out, i;
		if (isArray(v)) {
			out = new Array(v.length); seen.set(v, out);
			for (i = 0; i < v.length; i++) if (i in v) out[i] = clone(v[i]);
			return out;
		}
		if (v instanceof DateCtor) { out = new DateCtor(v.getTime()); seen.set(v, out); return out; }
		if (v instanceof RegExpCtor) { out = new RegExpCtor(v.source, v.flags); seen.set(v, out); return out; }
		if (v instanceof MapCtor) {
			out = new MapCtor(); seen.set(v, out);
			v.forEach(function (val, k) { out.set(clone(k), clone(val)); });
			return out;
		}
		if (v instanceof SetCtor) {
			out = new SetCtor(); seen.set(v, out);
			v.forEach(function (val) { out.add(clone(val)); });
			return out;
		}
		if (v instanceof ArrayBufferCtor) { out = abSlice.call(v, 0); seen.set(v, out); return out; }
		if (isView(v)) {
			var buf = clone(v.buffer);
			out = v instanceof DataView ? new DataView(buf, v.byteOffset, v.byteLength) : new v.constructor(buf, v.byteOffset, v.length);
			seen.set(v, out);
			return out;
		}
		if (v instanceof ErrorCtor) {
			var Ctor = errorNames[v.name] || ErrorCtor;
			out = new Ctor(v.message); seen.set(v, out);
			if (Ctor === ErrorCtor && v.name !== 'Error') out.name = v.name;
			if (typeof v.stack === 'string') out.stack = v.stack;
			if ('cause' in v) out.cause = clone(v.cause);
			return out;
		}
		if (v instanceof Number || v instanceof String || v instanceof Boolean) { out = Object(v.valueOf()); seen.set(v, out); return out; }
		var proto = getProto(v);
		if (proto !== ObjectProto && proto !== null && (v instanceof PromiseCtor || v instanceof WeakMapCtor || v instanceof WeakSet)) {
			throw makeError('DataCloneError', '#<' + (v.constructor && v.constructor.name || 'Object') + '> could not be cloned.');
		}
		out = {}; seen.set(v, out);
		var ks = keys(v);
		for (i = 0; i < ks.length; i++) out[ks[i]] = clone(v[ks[i]]);
		return out;
	}
	return clone(value);
}

return {
	queueMicrotask: queueMicrotask,
	structuredClone: structuredClone,
	AbortController: AbortController,
	AbortSignal: AbortSignal,
	onAbort: onAbort,
	toJSON: toJSON,
	fromJSON: fromJSON,
	isPromise: function (v) { return v instanceof PromiseCtor; },
};
})`

// workerHarnessSource runs one spawnJS call in a worker's runtime: it
// instantiates the module (its top-level code runs once per call), then
// calls the export with the arguments parsed from JSON.
const workerHarnessSource = `(function (modFn, moduleName, exportName, argsJSON, channelAt) {
'use strict';
var module = { exports: {} };
modFn.call(module.exports, module.exports, module);
var exp = module.exports;
var f = exp == null ? undefined : exp[exportName];
if (typeof f !== 'function') {
	throw new TypeError('spawnJS: module "' + moduleName + '" has no exported function "' + exportName + '"');
}
var reviver = channelAt === undefined ? undefined : function (k, v) {
	if (v !== null && typeof v === 'object' && typeof v.$velaChannel === 'number' && Object.keys(v).length === 1) {
		return channelAt(v.$velaChannel);
	}
	return v;
};
return f.apply(undefined, argsJSON === '' ? [] : JSON.parse(argsJSON, reviver));
})`

var (
	preludeProgram       = goja.MustCompile("vela:prelude", preludeSource, true)
	workerHarnessProgram = goja.MustCompile("vela:spawnJS", workerHarnessSource, true)
	// workerCloneProgram is the prelude's toJSON for the worker's side.
	workerCloneProgram = goja.MustCompile("vela:clone", `(function () {
'use strict';
var stringify = JSON.stringify;
function makeError(name, msg) { var e = new Error(msg); e.name = name; return e; }
function cloneReplacer(k, v) {
	var t = typeof v;
	if (t === 'function' || t === 'symbol' || t === 'bigint') {
		throw makeError('DataCloneError', 'spawnJS: a ' + t + ' cannot be cloned' + (k !== '' ? ' (key "' + k + '")' : ''));
	}
	return v;
}
return function toJSON(v) {
	if (typeof v === 'undefined') return '';
	try {
		return stringify(v, cloneReplacer);
	} catch (e) {
		if (e && e.name === 'DataCloneError') throw e;
		throw makeError('DataCloneError', 'spawnJS: ' + (e && e.message ? e.message : String(e)));
	}
};
})()`, true)
)

// asyncIteratorProgram defines Symbol.asyncIterator, which the pinned goja
// lacks, as the symbol esbuild's lowered code falls back to
// (Symbol.for("Symbol.asyncIterator")), so lowered for await loops, async
// generators and the Runtime's own iterables agree on it.
var asyncIteratorProgram = goja.MustCompile("vela:symbols", `(function () {
'use strict';
if (typeof Symbol.asyncIterator !== 'symbol') {
	Object.defineProperty(Symbol, 'asyncIterator', { value: Symbol.for('Symbol.asyncIterator') });
}
return Symbol.asyncIterator;
})()`, true)

// defineAsyncIterator runs asyncIteratorProgram in vm and returns the
// symbol.
func defineAsyncIterator(vm *goja.Runtime) (*goja.Symbol, error) {
	v, err := vm.RunProgram(asyncIteratorProgram)
	if err != nil {
		return nil, err
	}
	sym, ok := v.(*goja.Symbol)
	if !ok {
		return nil, errors.New("jsloop: Symbol.asyncIterator is not a symbol")
	}
	return sym, nil
}

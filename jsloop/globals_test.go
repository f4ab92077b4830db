package jsloop_test

import (
	"testing"

	"github.com/velalang/runtime/jsloop"
)

// TestCommonGlobals: setImmediate, structuredClone, TextEncoder and
// TextDecoder, performance.now, atob and btoa behave as in Node.
func TestCommonGlobals(t *testing.T) {
	r := newRuntime(t, jsloop.Options{}, nil)
	for _, tc := range []struct{ src, want string }{
		{`new Promise(res => {
			const log = [];
			setTimeout(() => { log.push('timeout'); res(log.join(',')) }, 5);
			setImmediate((a, b) => log.push('immediate ' + a + b), 1, 2);
			clearImmediate(setImmediate(() => log.push('cleared')));
			Promise.resolve().then(() => log.push('microtask'));
			log.push('sync');
		})`, "sync,microtask,immediate 12,timeout"},
		{`(() => {
			const o = { d: new Date(5), m: new Map([[1, { x: 1 }]]), s: new Set(['a']), re: /a+/gi, arr: [1, , 3], e: new RangeError('r') };
			o.self = o;
			const c = structuredClone(o);
			let fn;
			try { structuredClone({ f() {} }) } catch (e) { fn = e.name }
			return JSON.stringify([c !== o, c.self === c, c.d instanceof Date && c.d.getTime(), c.m.get(1).x, c.m.get(1) !== o.m.get(1),
				c.s.has('a'), String(c.re), 1 in c.arr, c.e instanceof RangeError && c.e.message, fn]);
		})()`, `[true,true,5,1,true,true,"/a+/gi",false,"r","DataCloneError"]`},
		{`(() => {
			const bytes = new TextEncoder().encode('héllo €');
			const back = new TextDecoder().decode(bytes);
			const bom = new TextDecoder().decode(new Uint8Array([0xEF, 0xBB, 0xBF, 0x61]));
			const lossy = new TextDecoder().decode(new Uint8Array([0x61, 0xFF]));
			let fatal;
			try { new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xFF])) } catch (e) { fatal = e.name }
			return JSON.stringify([Array.from(bytes), back, bom, lossy, fatal, new TextDecoder().decode(bytes.buffer)]);
		})()`, `[[104,195,169,108,108,111,32,226,130,172],"héllo €","a","a` + "\uFFFD" + `","TypeError","héllo €"]`},
		{`(() => {
			let wide, bad;
			try { btoa('€') } catch (e) { wide = e.name }
			try { atob('a') } catch (e) { bad = e.name }
			return JSON.stringify([btoa('hello'), atob(' aGVs bG8= '), atob('aGVsbG8'), btoa(atob('/w==')) , wide, bad]);
		})()`, `["aGVsbG8=","hello","hello","/w==","InvalidCharacterError","InvalidCharacterError"]`},
		{`(() => { const a = performance.now(); let x = 0; for (let i = 0; i < 1e5; i++) x += i; const b = performance.now(); return JSON.stringify([typeof a, b >= a, performance.timeOrigin > 1.6e12]) })()`, `["number",true,true]`},
	} {
		if v := runOK(t, r, tc.src); v != tc.want {
			t.Errorf("%s\n got %v\nwant %s", tc.src, v, tc.want)
		}
	}
}

package jsloop

import "testing"

const benchScript = `
async function main(it) {
	let s = 0;
	for (const v of it) s += v;
	return s;
}
main([1, 2, 3]);
`

const benchLowered = `
async function* twice(it) { for await (const v of it) { yield v; yield v } }
async function main(it) {
	let s = 0;
	for await (const v of twice(it)) s += v;
	return s;
}
main([1, 2, 3]);
`

// BenchmarkCompile: the cost of compiling a small script goja parses as
// it is ("plain": parse, the call-stack hook, compile), one esbuild must
// lower first ("lowered": goja's failed parse, esbuild's transform to
// ES2017 with an inline source map, parse with the map, hook, compile),
// and the same as a spawnJS module.
func BenchmarkCompile(b *testing.B) {
	for _, bc := range []struct {
		name, src string
		module    bool
	}{
		{"plain", benchScript, false},
		{"lowered", benchLowered, false},
		{"module-plain", benchScript, true},
		{"module-lowered", benchLowered, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if bc.module {
					_, err = compileModule("m", bc.src)
				} else {
					_, err = compile("s.js", bc.src, false)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

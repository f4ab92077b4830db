package jsloop

import (
	"encoding/base64"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// installGlobals sets the common globals of Node that are not about I/O:
// setImmediate and clearImmediate, performance.now, TextEncoder and
// TextDecoder (UTF-8), atob and btoa; structuredClone is in the prelude.
func (r *Runtime) installGlobals() error {
	vm := r.vm
	_ = vm.Set("setImmediate", func(call goja.FunctionCall) goja.Value {
		fn, ok := goja.AssertFunction(call.Argument(0))
		if !ok {
			panic(vm.NewTypeError("setImmediate: the callback must be a function"))
		}
		var args []goja.Value
		if len(call.Arguments) > 1 {
			args = append(args, call.Arguments[1:]...)
		}
		// Due at once: before any setTimeout made in the same turn (whose
		// delay is at least 1 ms), after the turn's microtasks.
		return vm.ToValue(r.current().addTimer(fn, args, 0, false, true))
	})
	_ = vm.Set("clearImmediate", vm.Get("clearTimeout"))

	origin := time.Now()
	perf := vm.NewObject()
	_ = perf.Set("now", func(goja.FunctionCall) goja.Value {
		return vm.ToValue(float64(time.Since(origin).Nanoseconds()) / 1e6)
	})
	_ = perf.Set("timeOrigin", float64(origin.UnixNano())/1e6)
	_ = vm.Set("performance", perf)

	_ = vm.Set("btoa", func(call goja.FunctionCall) goja.Value {
		if len(call.Arguments) == 0 {
			panic(vm.NewTypeError("btoa: 1 argument required, but only 0 present"))
		}
		s := call.Argument(0).String()
		b := make([]byte, 0, len(s))
		for _, c := range s {
			if c > 0xFF {
				panic(r.newError("InvalidCharacterError", "Invalid character"))
			}
			b = append(b, byte(c))
		}
		return vm.ToValue(base64.StdEncoding.EncodeToString(b))
	})
	_ = vm.Set("atob", func(call goja.FunctionCall) goja.Value {
		if len(call.Arguments) == 0 {
			panic(vm.NewTypeError("atob: 1 argument required, but only 0 present"))
		}
		b, ok := forgivingBase64(call.Argument(0).String())
		if !ok {
			panic(r.newError("InvalidCharacterError", "The string to be decoded is not correctly encoded."))
		}
		var out strings.Builder
		for _, c := range b {
			out.WriteRune(rune(c)) // a "binary string": one char per byte
		}
		return vm.ToValue(out.String())
	})

	uint8Array, _ := goja.AssertConstructor(vm.Get("Uint8Array"))
	encode := func(s string) goja.Value {
		buf := vm.NewArrayBuffer([]byte(s))
		arr, err := uint8Array(nil, vm.ToValue(buf))
		if err != nil {
			r.throw(err)
		}
		return arr
	}
	ctorOf := func(name string, init func(this *goja.Object, call goja.ConstructorCall)) {
		_ = vm.Set(name, func(call goja.ConstructorCall) *goja.Object {
			init(call.This, call)
			return nil
		})
	}
	ctorOf("TextEncoder", func(this *goja.Object, _ goja.ConstructorCall) {
		_ = this.Set("encoding", "utf-8")
		_ = this.Set("encode", func(call goja.FunctionCall) goja.Value {
			s := ""
			if v := call.Argument(0); !goja.IsUndefined(v) {
				s = v.String() // lone surrogates become U+FFFD, as in Node
			}
			return encode(s)
		})
	})
	ctorOf("TextDecoder", func(this *goja.Object, call goja.ConstructorCall) {
		label := "utf-8"
		if v := call.Argument(0); !goja.IsUndefined(v) {
			label = strings.ToLower(strings.TrimSpace(v.String()))
		}
		if label != "utf-8" && label != "utf8" && label != "unicode-1-1-utf-8" {
			panic(r.newRangeError("TextDecoder: the \"" + label + "\" encoding is not supported (only utf-8)"))
		}
		fatal, ignoreBOM := false, false
		if o, ok := call.Argument(1).(*goja.Object); ok {
			fatal = o.Get("fatal") != nil && o.Get("fatal").ToBoolean()
			ignoreBOM = o.Get("ignoreBOM") != nil && o.Get("ignoreBOM").ToBoolean()
		}
		_ = this.Set("encoding", "utf-8")
		_ = this.Set("fatal", fatal)
		_ = this.Set("ignoreBOM", ignoreBOM)
		_ = this.Set("decode", func(c goja.FunctionCall) goja.Value {
			b := r.bytesOf(c.Argument(0))
			if !ignoreBOM && len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
				b = b[3:]
			}
			if fatal && !utf8.Valid(b) {
				panic(vm.NewTypeError("The encoded data was not valid for encoding utf-8"))
			}
			return vm.ToValue(strings.ToValidUTF8(string(b), "\uFFFD"))
		})
	})
	return nil
}

// bytesOf is the bytes of an ArrayBuffer, a typed array or a DataView
// (undefined: none); anything else is a TypeError.
func (r *Runtime) bytesOf(v goja.Value) []byte {
	if goja.IsUndefined(v) {
		return nil
	}
	if ab, ok := v.Export().(goja.ArrayBuffer); ok {
		return ab.Bytes()
	}
	obj, ok := v.(*goja.Object)
	if ok {
		if ab, ok := obj.Get("buffer").Export().(goja.ArrayBuffer); ok {
			off, n := obj.Get("byteOffset").ToInteger(), obj.Get("byteLength").ToInteger()
			b := ab.Bytes()
			if off >= 0 && n >= 0 && off+n <= int64(len(b)) {
				return b[off : off+n]
			}
		}
	}
	panic(r.vm.NewTypeError("TextDecoder.decode: the input must be an ArrayBuffer or an ArrayBufferView"))
}

// forgivingBase64 decodes s as the HTML standard's forgiving-base64 (what
// atob does): ASCII whitespace is ignored and the padding is optional.
func forgivingBase64(s string) ([]byte, bool) {
	s = strings.Map(func(c rune) rune {
		switch c {
		case ' ', '\t', '\n', '\f', '\r':
			return -1
		}
		return c
	}, s)
	if len(s)%4 == 0 && strings.HasSuffix(s, "==") {
		s = s[:len(s)-2]
	} else if len(s)%4 == 0 && strings.HasSuffix(s, "=") {
		s = s[:len(s)-1]
	}
	if len(s)%4 == 1 || strings.ContainsRune(s, '=') {
		return nil, false
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	return b, true
}

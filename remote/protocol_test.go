package remote

import (
	"bytes"
	"testing"
	"time"
)

func TestTaskEnvelopeRoundTrip(t *testing.T) {
	h := taskHead{id: "abc.7", secret: "s3cret", fn: "resize", reply: "_VELA._.abc.r.7", deadline: time.Now().UnixNano(), runTimeout: time.Second,
		due: time.Now().UnixNano(), attempt: 2, retry: retryPolicy{3, time.Millisecond, time.Second}}
	got, arg, ok := decodeTask(encodeTask(&h, []byte(`{"x":1}`)))
	if !ok || got != h || string(arg) != `{"x":1}` {
		t.Fatalf("decodeTask = %+v, %q, %v; want %+v", got, arg, ok, h)
	}
	status, id, secret, extra, rest, ok := decodeReply(encodeReply(statusPanic, "abc.7", "s3cret", "boom", []byte("stack")))
	if !ok || status != statusPanic || string(id) != "abc.7" || string(secret) != "s3cret" || string(extra) != "boom" || string(rest) != "stack" {
		t.Fatalf("decodeReply = %q, %q, %q, %q, %q, %v", status, id, secret, extra, rest, ok)
	}
}

// Whatever arrives on the queue's subject, a worker never panics on it and
// refuses what is not a task.
func FuzzDecodeTask(f *testing.F) {
	f.Add(encodeTask(&taskHead{id: "a.1", secret: "s", fn: "f", reply: "r", attempt: 1}, []byte("1")))
	f.Add([]byte("VT3\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Add([]byte("not a task"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, arg, ok := decodeTask(data)
		if !ok {
			return
		}
		if h.id == "" || h.secret == "" || h.reply == "" || !bytes.HasSuffix(data, arg) {
			t.Fatalf("accepted %+v with argument %q", h, arg)
		}
		decodeReply(data)
	})
}

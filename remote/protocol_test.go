package remote

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestTaskEnvelopeRoundTrip(t *testing.T) {
	h := taskHead{n: 7, secret: "s3cret", fn: "resize", deadline: time.Now().UnixNano(), runTimeout: time.Second,
		due: time.Now().UnixNano(), attempt: 2, retry: retryPolicy{3, time.Millisecond, time.Second}}
	data := encodeTask(&h, []byte(`{"x":1}`))
	if bytes.Contains(data, []byte("abc")) {
		t.Fatalf("the envelope %q names its client: the worker derives it from the subject", data)
	}
	from, ok := senderOf("alice.abc.s")
	if !ok {
		t.Fatal("senderOf refused a single Spawn's subject")
	}
	got, arg, ok := decodeTask(data, "jobs", from)
	want := h
	want.id, want.reply, want.key = "abc.7", "_VELA.alice.jobs.abc.r.0", "alice.abc.7"
	if !ok || got != want || string(arg) != `{"x":1}` {
		t.Fatalf("decodeTask = %+v, %q, %v; want %+v", got, arg, ok, want)
	}
	// The derived reply subject is the one the client listens on.
	if s := (&settings{user: "alice", Config: Config{Queue: "jobs"}}); s.prefix("abc")+"r.0" != got.reply {
		t.Fatalf("derived reply %q, client's %q", got.reply, s.prefix("abc")+"r.0")
	}
	status, id, secret, extra, rest, ok := decodeReply(encodeReply(statusPanic, "abc.7", "s3cret", "boom", []byte("stack")))
	if !ok || status != statusPanic || string(id) != "abc.7" || string(secret) != "s3cret" || string(extra) != "boom" || string(rest) != "stack" {
		t.Fatalf("decodeReply = %q, %q, %q, %q, %q, %v", status, id, secret, extra, rest, ok)
	}
}

// A task subject's tail must name a user, a client and a batch.
func TestSenderOfMalformedSubjects(t *testing.T) {
	for _, tail := range []string{"", "u", "u.", "u.c", "u.c.", ".c.1", "u..1", "..", "u"} {
		if s, ok := senderOf(tail); ok {
			t.Errorf("senderOf(%q) = %+v, true; want a refusal", tail, s)
		}
	}
	if s, ok := senderOf("u.c.1.2"); !ok || s != (sender{"u", "c"}) {
		t.Errorf("senderOf(u.c.1.2) = %+v, %v", s, ok)
	}
}

// Whatever arrives on the queue's subject, a worker never panics on it and
// refuses what is not a task; what it accepts has its id and reply derived
// from its sender.
func FuzzDecodeTask(f *testing.F) {
	f.Add(encodeTask(&taskHead{n: 1, secret: "s", fn: "f", attempt: 1}, []byte("1")), "u.c.1")
	f.Add([]byte("VT4\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), "u.c.s")
	f.Add([]byte("not a task"), "u")
	f.Fuzz(func(t *testing.T, data []byte, tail string) {
		from, ok := senderOf(tail)
		if !ok {
			return
		}
		h, arg, ok := decodeTask(data, "q", from)
		if !ok {
			return
		}
		if h.n == 0 || h.secret == "" || !strings.HasPrefix(h.id, from.client+".") || h.key != from.user+"."+h.id ||
			h.reply != "_VELA."+from.user+".q."+from.client+".r.0" || !bytes.HasSuffix(data, arg) {
			t.Fatalf("accepted %+v with argument %q", h, arg)
		}
		decodeReply(data)
	})
}

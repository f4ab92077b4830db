package remote

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/velalang/runtime/async"
)

// hostileQueue is an open embedded server with a worker whose functions
// count their calls, a client, and a third party's raw connection.
type hostileQueue struct {
	srv   *Server
	w     *Worker
	c     *Client
	nc    *nats.Conn
	calls atomic.Int32 // calls of "count" and "countOnce"
}

func newHostileQueue(t *testing.T) *hostileQueue {
	t.Helper()
	srv, err := StartServer(ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	q := &hostileQueue{srv: srv}
	reg := NewRegistry()
	count := func(_ context.Context, n int) (int, error) {
		q.calls.Add(1)
		return n, nil
	}
	if err := Register(reg, "count", count); err != nil {
		t.Fatal(err)
	}
	if err := Register(reg, "countOnce", count, NotIdempotent()); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Server: srv, Slots: 2, AckWait: 5 * time.Second}
	if q.w, err = Serve(context.Background(), cfg, reg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.w.Shutdown(context.Background()) })
	if q.c, err = Dial(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.c.Close() })
	if q.nc, err = nats.Connect("", nats.InProcessServer(srv)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.nc.Close)
	return q
}

func (q *hostileQueue) queued(t *testing.T) uint64 {
	st, err := q.c.l.js.Stream(context.Background(), q.c.s.stream)
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().State.Msgs
}

// Malformed task envelopes, one field at a time, and malformed task
// subjects: the worker never panics, never runs a function for one, takes
// every one off the queue, and keeps serving real tasks. A task's id and
// reply subject are not in its envelope (the worker derives them from the
// subject), so no envelope can name another client's, nor put protocol in
// a subject the worker publishes on.
func TestHostileTaskEnvelopes(t *testing.T) {
	q := newHostileQueue(t)
	answers := make(chan *nats.Msg, 512)
	if _, err := q.nc.ChanSubscribe("_VELA._.default.*.r.0", answers); err != nil {
		t.Fatal(err)
	}
	// Tasks on the subject of client "evil" of user "_" (an open server).
	const subject = "vela.default.tasks._.evil.1"
	good := taskHead{n: 1, secret: "s", fn: "count", attempt: 1}
	arg := []byte("7")
	valid := encodeTask(&good, arg)

	var bad [][]byte
	// Every cut of the header, and of the argument (an empty argument
	// fails to decode: the function is not called).
	for k := range len(valid) {
		bad = append(bad, valid[:k])
	}
	field := func(f func(h *taskHead)) []byte {
		h := good
		f(&h)
		return encodeTask(&h, arg)
	}
	bad = append(bad,
		append([]byte("VT3"), valid[3:]...), // an older envelope's tag
		append([]byte("XT4"), valid[3:]...),
		append([]byte("VT4\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02"), valid[4:]...),         // a number beyond 2^64
		append([]byte("VT4\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"), valid[5:]...),     // a length beyond 2^63
		append(binary.AppendUvarint([]byte("VT4\x01"), uint64(len(valid))*4), valid[5:]...), // a length beyond the data
		field(func(h *taskHead) { h.n = 0 }),                                                // no number
		field(func(h *taskHead) { h.secret = "" }),                                          // no secret
		field(func(h *taskHead) { h.runTimeout = -time.Second }),                            // a negative run timeout
		field(func(h *taskHead) { h.attempt = 0 }),                                          // attempt 0
		field(func(h *taskHead) { h.attempt = -5 }),                                         // a negative attempt
		field(func(h *taskHead) { h.retry.maxAttempts = -1 }),                               // negative retry fields
		field(func(h *taskHead) { h.retry.backoff = -1 }),                                   //
		field(func(h *taskHead) { h.retry.maxBackoff = -1 }),                                //
		field(func(h *taskHead) { h.deadline = time.Now().Add(-time.Hour).UnixNano() }),     // its caller gave up
		field(func(h *taskHead) { h.deadline = -1 }),                                        //
		field(func(h *taskHead) { h.fn = "nobody" }),                                        // no such function: answered as such
		field(func(h *taskHead) { h.fn = strings.Repeat("x", 1<<16) }),                      //
		field(func(h *taskHead) { h.n = 1<<64 - 1 }),                                        // the largest number, well formed: it runs
		field(func(h *taskHead) { h.secret = strings.Repeat("s", 1<<16) }),                  // oversized, but well formed: it runs
	)
	const wellFormedOnSubject = 2
	for _, b := range bad {
		if err := q.nc.Publish(subject, b); err != nil {
			t.Fatal(err)
		}
	}
	// A valid envelope on task subjects that do not name a user, a client
	// and a batch, stray messages of the server's own kinds, and a body
	// that is not an envelope at all: none runs.
	for _, m := range []*nats.Msg{
		{Subject: "vela.default.tasks._.evil", Data: valid},
		{Subject: "vela.default.tasks._", Data: valid},
		{Subject: "vela.default.tasks.evil", Data: valid},
		{Subject: "vela.default.tasks._.evil.2", Data: bytes.Repeat([]byte{0xff}, 1<<16)},
		{Subject: "vela.default.tasks._.evil.2", Header: nats.Header{"Status": {"409"}}, Data: valid[:10]},
	} {
		if err := q.nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	// Well formed, on odd but valid subjects: a batch of two tokens, and a
	// client whose name the give-back bucket refuses as a key (a
	// NotIdempotent function: recording a give-back would fail, to the safe
	// side).
	once := good
	once.fn = "countOnce"
	for _, m := range []*nats.Msg{
		{Subject: "vela.default.tasks._.evil.1.2", Data: valid},
		{Subject: "vela.default.tasks._.ev!l.1", Data: encodeTask(&once, arg)},
	} {
		if err := q.nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	const wellFormed = wellFormedOnSubject + 2
	if err := q.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	poll(t, "every hostile message to leave the queue", func() bool { return q.queued(t) == 0 })
	if got := q.calls.Load(); got != wellFormed {
		t.Fatalf("the functions ran %d times for hostile envelopes; want %d (the well-formed ones)", got, wellFormed)
	}
	// The worker still serves.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if v, err := Spawn[int](ctx, q.c, "count", 42).Await(ctx); err != nil || v != 42 {
		t.Fatalf("a real task after the hostile ones = %v, %v", v, err)
	}
	// Every answer went to the reply subject of the client its subject
	// named, with the id derived from it.
	ids := map[string]bool{}
	for len(answers) > 0 {
		m := <-answers
		_, id, _, _, _, ok := decodeReply(m.Data)
		client, _, _ := strings.Cut(string(id), ".")
		if !ok || m.Subject != "_VELA._.default."+client+".r.0" {
			t.Fatalf("an answer to %q on %q", id, m.Subject)
		}
		ids[string(id)] = true
	}
	for _, id := range []string{"evil.1", "evil.18446744073709551615", "ev!l.1"} {
		if !ids[id] {
			t.Errorf("no answer to %s; got %v", id, ids)
		}
	}
	q.w.mu.Lock()
	n := len(q.w.runs)
	q.w.mu.Unlock()
	if n != 0 {
		t.Fatalf("the worker still holds %d runs", n)
	}
}

// Malformed and forged replies on a client's reply subject: a reply
// without the task's secret, with another batch's secret (a reply of
// another task replayed with this one's id), naming another client's or
// no task, or cut anywhere, is dropped; a replay of a settled task's reply
// is ignored; the task settles with its real reply.
func TestHostileReplies(t *testing.T) {
	q := newHostileQueue(t)
	if err := q.w.Shutdown(context.Background()); err != nil { // the tasks stay queued
		t.Fatal(err)
	}
	tasks := make(chan *nats.Msg, 4)
	if _, err := q.nc.ChanSubscribe("vela.default.tasks.>", tasks); err != nil {
		t.Fatal(err)
	}
	if err := q.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	a := Spawn[int](context.Background(), q.c, "count", 1)
	b := Spawn[int](context.Background(), q.c, "count", 2)
	var ha, hb taskHead
	for _, h := range []*taskHead{&ha, &hb} {
		select {
		case m := <-tasks:
			var ok bool
			if *h, ok = decodeTaskMsg(m.Subject, m.Data); !ok {
				t.Fatal("not a task")
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no task")
		}
	}
	if ha.secret == hb.secret {
		t.Fatal("two Spawns share a secret")
	}
	send := func(data []byte) {
		t.Helper()
		if err := q.nc.Publish(q.c.replies, data); err != nil {
			t.Fatal(err)
		}
	}
	// a settles with its real reply.
	real := encodeReply(statusOK, ha.id, ha.secret, "", []byte("1"))
	send(real)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if v, err := a.Await(ctx); err != nil || v != 1 {
		t.Fatalf("a = %v, %v", v, err)
	}

	forged := [][]byte{
		nil, {statusOK}, {statusOK, 0}, {statusOK, 0, 0, 0},
		encodeReply(statusOK, hb.id, "guess", "", []byte("666")),                            // no secret
		encodeReply(statusOK, hb.id, ha.secret, "", []byte("666")),                          // a's reply replayed with b's id
		encodeReply(statusOK, "other."+hb.id[len(q.c.id)+1:], hb.secret, "", []byte("666")), // another client's task
		encodeReply(statusOK, q.c.id+".x", hb.secret, "", []byte("666")),                    // no number
		encodeReply(statusOK, q.c.id+".99999", hb.secret, "", []byte("666")),                // no such task
		encodeReply(statusOK, q.c.id, hb.secret, "", []byte("666")),                         // the client's id alone
		encodeReply(statusRetry, hb.id, ha.secret, "1", nil),                                // a forged retry
		encodeReply(statusLost, hb.id, "", "", nil),                                         // an empty secret
		append([]byte{statusOK, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, hb.id...),
	}
	full := encodeReply(statusOK, hb.id, hb.secret, "", []byte("666"))
	for k := range len(full) - 1 { // every cut that loses part of the secret
		if k < 1+1+len(hb.id)+1+len(hb.secret) {
			forged = append(forged, full[:k])
		}
	}
	for _, f := range forged {
		send(f)
	}
	send(real) // a replay of a's reply, once settled
	send(encodeReply(statusOK, hb.id, hb.secret, "", []byte("2")))
	if v, err := b.Await(ctx); err != nil || v != 2 {
		t.Fatalf("b after forged replies = %v, %v; want its real reply", v, err)
	}
	if v, _ := a.Await(ctx); v != 1 || a.State() != async.Fulfilled {
		t.Fatalf("a replayed reply changed a settled future: %v %v", v, a.State())
	}
}

// On a server with users, a client (bob) cannot use a worker as a deputy
// against another (alice): a task carries no id and no reply subject, the
// worker derives both from the subject, on which only bob may publish. So
// even a task on bob's subject that names alice's client, and so the same
// "<client>.<n>" as her running task, is bob's: it runs as his (it does
// not replace hers among the worker's runs, where a cancel of hers would
// have missed her task), and its answer goes to bob's replies.
func TestAClientCannotAnswerAnotherThroughAWorker(t *testing.T) {
	users := []User{
		{Name: "alice", Password: "pa", Role: RoleClient, Queues: []string{"jobs"}},
		{Name: "bob", Password: "pb", Role: RoleClient, Queues: []string{"jobs"}},
		{Name: "wk", Password: "pw", Role: RoleWorker, Queues: []string{"jobs"}},
	}
	srv, err := StartServer(ServerConfig{Users: users})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	started, ended := make(chan struct{}, 1), make(chan struct{}, 1)
	var ran atomic.Int32
	reg := NewRegistry()
	if err := Register(reg, "hold", func(ctx context.Context, n int) (int, error) {
		started <- struct{}{}
		<-ctx.Done()
		ended <- struct{}{}
		return 0, ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	if err := Register(reg, "count", func(_ context.Context, n int) (int, error) { ran.Add(1); return n, nil }); err != nil {
		t.Fatal(err)
	}
	w, err := Serve(context.Background(), Config{Server: srv, Queue: "jobs", User: "wk", Password: "pw", Slots: 2}, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(context.Background()) })
	alice, err := Dial(context.Background(), Config{Server: srv, Queue: "jobs", User: "alice", Password: "pa"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = alice.Close() })
	f := Spawn[int](context.Background(), alice, "hold", 1)
	within(t, started, "alice's task to start")
	bob, err := nats.Connect("", nats.InProcessServer(srv), nats.UserInfo("bob", "pb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bob.Close)
	answers := make(chan *nats.Msg, 4)
	if _, err := bob.ChanSubscribe("_VELA.bob.>", answers); err != nil {
		t.Fatal(err)
	}
	h := taskHead{n: 1, secret: "guess", fn: "count", attempt: 1} // alice's task is "<alice>.1" too
	if err := bob.Publish("vela.jobs.tasks.bob."+alice.id+".s", encodeTask(&h, []byte("666"))); err != nil {
		t.Fatal(err)
	}
	m := within(t, answers, "the answer to bob's task")
	status, id, secret, _, rest, ok := decodeReply(m.Data)
	if want := "_VELA.bob.jobs." + alice.id + ".r.0"; !ok || m.Subject != want || string(id) != alice.id+".1" ||
		status != statusOK || string(secret) != "guess" || string(rest) != "666" {
		t.Fatalf("bob's task answered on %q with %q %q %q %q; want its answer on bob's %q", m.Subject, status, id, secret, rest, want)
	}
	if n := ran.Load(); n != 1 {
		t.Fatalf("bob's task ran %d times", n)
	}
	w.mu.Lock()
	r := w.runs["alice."+alice.id+".1"]
	w.mu.Unlock()
	if r == nil || r.id != alice.id+".1" {
		t.Fatal("alice's running task is no longer among the worker's runs")
	}
	// Her cancel still reaches her task.
	f.Cancel()
	within(t, ended, "alice's cancelled task to see its context end")
	if f.State() != async.Cancelled {
		t.Fatalf("alice's task is %v; want cancelled", f.State())
	}
}

func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s within 20s", what)
		panic("unreachable")
	}
}

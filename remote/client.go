package remote

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// Client sends tasks to a queue and settles their futures from the
// workers' replies. It is made by Dial, is safe for concurrent use by any
// number of goroutines, and holds one NATS connection with two
// subscriptions: one for its own replies and acknowledgements, one for the
// server's advisories about tasks delivered too often.
//
// Spawn publishes without waiting for the server's acknowledgement; the
// acknowledgement, the reply, a cancel, a timeout and Close race, and the
// first to arrive settles the future. Each Spawn, and each SpawnAll, is a
// batch with its own secret. A SpawnAll has its own subject too:
// withdrawing it is one purge of that subject and one line in a cancel
// message, whatever its size. A single Spawn is published on the client's
// one subject for single tasks (a new subject per task costs the server a
// subject-cache miss and a subject-tree entry per task: measured 7% of the
// CPU per task) and is withdrawn by deleting its stream sequence, once its
// acknowledgement has told it (withdraw.go).
type Client struct {
	s       settings
	l       *link
	id      string        // unique per Client; tasks are "<id>.<n>"
	prefix  string        // "_VELA.<user>.<queue>.<id>." for acknowledgements and replies
	replies string        // "<prefix>r.0", where every reply comes (it names its task in its data)
	single  string        // "vela.<queue>.tasks.<user>.<id>.s", where single Spawns are published
	next    atomic.Uint64 // tasks numbered so far
	nbatch  atomic.Uint64 // SpawnAll batches numbered so far
	keys    cipher.Block
	sub     *nats.Subscription
	advSub  *nats.Subscription

	hooked    bool // the Config has caller's hooks (Hooks)
	closeOnce sync.Once
	checks    sync.WaitGroup     // the goroutine that checks pending tasks after a reconnection
	stop      context.Context    // ends when Close starts, to cut a check short
	stopNow   context.CancelFunc // ends stop

	mu        sync.Mutex
	closedErr error             // non-nil once the client no longer takes tasks
	epoch     uint64            // disconnections so far
	away      time.Time         // when the last disconnection began
	calls     map[uint64]*entry // tasks not yet settled, and withdrawn ones awaiting their acknowledgement
	bySeq     map[uint64]uint64 // stream sequence -> call number, once acknowledged
	purging   map[uint64]*batch // withdrawn batches whose purge has not been answered

	dropAcks atomic.Int32 // tests: acknowledgements to ignore, as if lost
	dropPubs atomic.Int32 // tests: task publishes to skip, as if lost on the way
}

// batch is the tasks of one Spawn or SpawnAll. Its fields after single
// are guarded by Client.mu; the others are set before its first task is
// registered, then fixed.
type batch struct {
	n         uint64 // a SpawnAll's batch number; a single Spawn's task number
	key       string // "<user>.<client>.<n>"; a single Spawn's: "<user>.<client>.s<n>"
	subject   string // "vela.<queue>.tasks.<key>"; a single Spawn's: Client.single
	secret    string
	block     [16]byte // scratch for deriving the secret (kept here: a local would escape to the heap)
	single    bool     // a single Spawn, on Client.single: withdrawn by its sequence, not by a purge
	live      int      // tasks sent and not settled
	withdrawn bool     // a purge of the subject was sent
	purged    bool     // and answered: a task acknowledged after it is still queued
}

// entry is a task of the Client's, with the fields guarded by Client.mu.
type entry struct {
	n         uint64
	epoch     uint64 // Client.epoch when it was sent
	t         call
	b         *batch
	msg       *nats.Msg   // the task as published (msgv), until it is acknowledged (to send again)
	msgv      nats.Msg    // the task's message, kept in the entry to save an allocation
	msgID     [1]string   // msgv's Nats-Msg-Id header value
	sentAt    time.Time   // when it was first published
	resent    bool        // sent again after a reconnection
	repeated  bool        // sent again because its acknowledgement did not come
	seq       uint64      // the task's stream sequence, once acknowledged
	abandoned bool        // withdrawn before its sequence was known
	noStream  time.Time   // when a 503 first said that no server took it
	timer     *time.Timer // the WithTimeout deadline
	stopCtx   func() bool // stops the context.AfterFunc of Spawn's ctx
}

// call is the typed side of a task: its future.
type call interface {
	reply(status byte, extra string, rest []byte) // settle from a worker's reply
	reject(err error)                             // reject, as the client decided
	cancel(cause error)                           // cancel, as the caller's context asked
	timedOut() bool                               // reject with a *workers.TimeoutError; false if already settled
	done() bool                                   // reports whether the future has settled
	function() string                             // the registered name
	watch(o async.Observer)                       // makes o the observer of the future (Hooks.OnCallDone)
}

// Dial connects to the queue cfg names and returns a Client. ctx bounds
// the setup: connecting, and creating the queue's stream if it is missing
// (Dial sets the stream's MaxQueued bound from cfg, and creates the
// consumer if no Worker has). Bad input gives an error wrapping
// workers.ErrInvalidArgument. The caller must Close the Client.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if ctx == nil {
		return nil, invalid("Dial with a nil context")
	}
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	c := &Client{s: s, id: newClientID(), calls: make(map[uint64]*entry), bySeq: make(map[uint64]uint64), purging: make(map[uint64]*batch), hooked: s.Hooks.client()}
	var key [16]byte
	_, _ = rand.Read(key[:])
	c.keys, _ = aes.NewCipher(key[:])
	c.stop, c.stopNow = context.WithCancel(context.Background())
	c.prefix = s.prefix(c.id)
	c.replies = c.prefix + "r.0"
	c.single = s.tasksBase + s.user + "." + c.id + ".s"
	if err := c.start(ctx); err != nil {
		c.stopNow()
		c.teardown()
		return nil, err
	}
	c.checks.Add(1)
	go c.resendLoop()
	return c, nil
}

// newClientID returns a new client's id: 72 random bits, 12 characters of
// unpadded base64url. The id is in every task's subject, Nats-Msg-Id,
// acknowledgement and reply subjects and in its reply, so its length is
// paid several times per task (measured: a 22-character nuid instead
// cost 3% of the throughput at 64 in flight on one core, 450 bytes per
// task copied). It is not a secret (secrets are per batch); it must only
// differ from every other client's of the queue while their tasks are
// remembered (the server's two-minute duplicate window keyed by task id,
// workers' runs and give-backs): two clients among a million sharing one
// has a probability of about 1e-10.
func newClientID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (c *Client) start(ctx context.Context) error {
	l, err := dial(ctx, &c.s, "vela-remote-client",
		nats.DisconnectErrHandler(func(*nats.Conn, error) { c.disconnected() }),
		nats.ReconnectHandler(func(*nats.Conn) { c.reconnected() }))
	if err != nil {
		return err
	}
	c.l = l
	if l.srv != nil {
		if err := l.srv.join(c); err != nil {
			return err
		}
	}
	if c.sub, err = l.nc.Subscribe(c.prefix+">", c.onMsg); err != nil {
		return fmt.Errorf("remote: Dial: %w", err)
	}
	if err := c.sub.SetPendingLimits(-1, -1); err != nil {
		return fmt.Errorf("remote: Dial: %w", err)
	}
	if c.advSub, err = l.nc.Subscribe(c.s.advisory, c.onMaxDeliver); err != nil {
		return fmt.Errorf("remote: Dial: %w", err)
	}
	// An empty cancel, which workers ignore, checks that this user may
	// publish on the queue.
	if err := l.nc.Publish(c.s.cancels, nil); err != nil {
		return fmt.Errorf("remote: Dial: %w", err)
	}
	if err := l.checkPermissions(ctx); err != nil {
		return err
	}
	return l.setUp(ctx, &c.s, false)
}

func (c *Client) teardown() {
	if c.l != nil {
		if c.l.srv != nil {
			c.l.srv.leave(c)
		}
		c.l.close()
	}
}

// Close rejects every pending future with an error wrapping
// workers.ErrPoolClosed, withdraws their tasks (queued ones never run,
// running ones have their context cancelled), then closes the connection.
// Later Spawns are rejected with ErrPoolClosed. Close may be called more
// than once; later calls do nothing and return nil.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.rejectAll(fmt.Errorf("remote: client closed: %w", workers.ErrPoolClosed))
		c.stopNow()
		c.checks.Wait()
		_ = c.sub.Unsubscribe()
		_ = c.advSub.Unsubscribe()
		c.l.flush()
		c.teardown()
	})
	return nil
}

// serverClosing is called by an embedded server's Shutdown.
func (c *Client) serverClosing() {
	c.rejectAll(fmt.Errorf("remote: embedded server shut down: %w", workers.ErrPoolClosed))
}

// rejectAll stops the client taking tasks, rejects every pending future
// with err, and withdraws all its tasks with one purge.
func (c *Client) rejectAll(err error) {
	c.mu.Lock()
	if c.closedErr == nil {
		c.closedErr = err
	}
	calls := c.calls
	c.calls, c.bySeq = make(map[uint64]*entry), make(map[uint64]uint64)
	batches := make(map[*batch]struct{})
	for _, e := range calls {
		e.stopTimers()
		if !e.b.withdrawn {
			e.b.withdrawn = true
			batches[e.b] = struct{}{}
		}
	}
	c.mu.Unlock()
	if len(calls) == 0 {
		return
	}
	c.purgeAll()
	bs := make([]*batch, 0, len(batches))
	for b := range batches {
		bs = append(bs, b)
	}
	c.broadcastCancel(bs, nil)
	for _, e := range calls {
		if !e.abandoned {
			e.t.reject(err)
		}
	}
}

func (e *entry) stopTimers() {
	if e.timer != nil {
		e.timer.Stop()
	}
	if e.stopCtx != nil {
		e.stopCtx()
	}
}

func (c *Client) taskID(n uint64) string { return c.id + "." + strconv.FormatUint(n, 10) }

// initBatch numbers SpawnAll batch b and gives it its subject and
// secret, which share one allocation.
func (c *Client) initBatch(b *batch) {
	b.n = c.nbatch.Add(1)
	buf := make([]byte, 0, 128)
	buf = append(buf, c.s.tasksBase...)
	buf = append(buf, c.s.user...)
	buf = append(buf, '.')
	buf = append(buf, c.id...)
	buf = append(buf, '.')
	buf = strconv.AppendUint(buf, b.n, 10)
	end := len(buf)
	buf = c.appendSecret(buf, b, 0)
	both := string(buf)
	b.subject, b.secret = both[:end], both[end:]
	b.key = b.subject[len(c.s.tasksBase):]
}

// appendSecret appends the secret of batch b, numbered b.n in the series
// kind (0 for SpawnAll batches, 's' for single Spawns): the client's
// random AES key applied to the number, 22 bytes of unpadded base64.
func (c *Client) appendSecret(buf []byte, b *batch, kind byte) []byte {
	clear(b.block[:8])
	b.block[0] = kind
	binary.BigEndian.PutUint64(b.block[8:], b.n)
	c.keys.Encrypt(b.block[:], b.block[:])
	return base64.RawURLEncoding.AppendEncode(buf, b.block[:])
}

// newBatch returns a batch of its own, for a SpawnAll.
func (c *Client) newBatch() *batch {
	b := new(batch)
	c.initBatch(b)
	return b
}

// send publishes a task of batch b and registers e for its replies. It
// does not wait for the server: the acknowledgement comes to onMsg. The
// task carries its id as Nats-Msg-Id, so that the server stores it once
// however often it is sent within dedupWindow.
func (c *Client) send(ctx context.Context, e *entry, b *batch, name string, data []byte, o *workers.Settings) error {
	n := c.next.Add(1)
	e.n = n
	// The task's names, "<prefix>a.<n>" (for the server's
	// acknowledgement) and "<client>.<n>" (its id), and for a single
	// Spawn its batch's key and secret, share one allocation. Its reply
	// comes to the client's one reply subject.
	buf := make([]byte, 0, 160)
	buf = append(buf, c.prefix...)
	buf = append(buf, "a."...)
	buf = strconv.AppendUint(buf, n, 10)
	ackEnd := len(buf)
	buf = append(buf, c.id...)
	buf = append(buf, '.')
	buf = strconv.AppendUint(buf, n, 10)
	idEnd, keyEnd := len(buf), 0
	if b.single {
		b.n = n
		buf = append(buf, c.single[len(c.s.tasksBase):]...)
		buf = strconv.AppendUint(buf, n, 10)
		keyEnd = len(buf)
		buf = c.appendSecret(buf, b, 's')
	}
	names := string(buf)
	ack, id := names[:ackEnd], names[ackEnd:idEnd]
	if b.single {
		b.subject, b.key, b.secret = c.single, names[idEnd:keyEnd], names[keyEnd:]
	}
	h := taskHead{n: n, secret: b.secret, fn: name, runTimeout: o.RunTimeout, attempt: 1}
	if o.Retry.MaxAttempts > 1 {
		h.retry = retryPolicy{o.Retry.MaxAttempts, o.Retry.Backoff, o.Retry.MaxBackoff}
	}
	now := time.Now()
	if o.Delay > 0 {
		h.due = now.Add(o.Delay).UnixNano()
	}
	// WithTimeout counts from the due time, as on a workers.Pool.
	timeout := o.Timeout
	var deadline time.Time
	if timeout > 0 {
		deadline = now.Add(o.Delay + timeout)
		h.deadline = deadline.UnixNano()
	}
	m := &e.msgv
	m.Subject, m.Reply, m.Data = b.subject, ack, encodeTask(&h, data)
	// The task's headers are set here, and only here: the observers' (trace
	// context), then Nats-Msg-Id. Without observers the message keeps no
	// headers: publishTask adds Nats-Msg-Id each time it is sent.
	e.msgID[0] = id
	c.mu.Lock()
	if c.closedErr != nil {
		c.mu.Unlock()
		return c.closedErr
	}
	e.epoch, e.b = c.epoch, b
	b.live++
	c.calls[n] = e
	if !c.hooked {
		e.msg, e.sentAt = m, now
	}
	c.mu.Unlock()
	if c.hooked {
		if m.Header = c.startCall(ctx, e, name); m.Header == nil {
			m.Header = make(nats.Header, 1)
		}
		m.Header["Nats-Msg-Id"] = e.msgID[:]
		c.mu.Lock()
		e.msg, e.sentAt = m, now
		c.mu.Unlock()
	}
	var err error
	if c.dropPubs.Load() <= 0 || c.dropPubs.Add(-1) < 0 {
		err = c.publishTask(m, e.msgID[:])
	}
	if err != nil {
		c.forget(e)
		c.mu.Lock()
		closed := c.closedErr
		c.mu.Unlock()
		switch {
		case closed != nil:
			return closed
		case errors.Is(err, nats.ErrMaxPayload):
			return fnError(name, fmt.Errorf("argument of %d bytes: %w (%d bytes): %w", len(data), ErrTooLarge, c.l.nc.MaxPayload(), err))
		}
		return fnError(name, fmt.Errorf("publishing: %w", err))
	}
	c.mu.Lock()
	if c.calls[n] == e && !e.abandoned {
		if e.t.done() { // cancelled while it was being sent
			c.mu.Unlock()
			c.abandon(e)
			return nil
		}
		if timeout > 0 {
			e.timer = time.AfterFunc(time.Until(deadline), func() { c.timedOut(e) })
		}
		if ctx.Done() != nil {
			t := e.t
			e.stopCtx = context.AfterFunc(ctx, func() { t.cancel(context.Cause(ctx)) })
		}
	}
	c.mu.Unlock()
	return nil
}

// headers holds header maps for publishTask: a map per task was the
// client's largest allocation (about 340 bytes; measured: 2-4% of the
// throughput at 64 in flight on one core).
var headers = sync.Pool{New: func() any { return make(nats.Header, 1) }}

// publishTask publishes task message m (or sends it again). A message
// with headers (the observers') holds its Nats-Msg-Id already; one
// without is published through a copy that carries id, the task's id, as
// Nats-Msg-Id in a pooled map (PublishMsg has encoded the headers when it
// returns), so that m itself is never written.
func (c *Client) publishTask(m *nats.Msg, id []string) error {
	if m.Header != nil {
		return c.l.nc.PublishMsg(m)
	}
	h := headers.Get().(nats.Header)
	h["Nats-Msg-Id"] = id
	sent := *m
	sent.Header = h
	err := c.l.nc.PublishMsg(&sent)
	h["Nats-Msg-Id"] = nil
	headers.Put(h)
	return err
}

// forget drops e without any message to the server.
func (c *Client) forget(e *entry) {
	c.mu.Lock()
	if c.calls[e.n] == e {
		delete(c.calls, e.n)
		e.b.live--
	}
	c.mu.Unlock()
}

// timedOut runs on e's timer at the deadline.
func (c *Client) timedOut(e *entry) {
	if e.t.timedOut() {
		c.abandon(e)
	}
}

// settledLocked removes a task that settled from the maps.
func (c *Client) settledLocked(e *entry) {
	delete(c.calls, e.n)
	if e.seq != 0 {
		delete(c.bySeq, e.seq)
	}
	e.b.live--
	e.msg = nil
	e.stopTimers()
}

func (c *Client) disconnected() {
	c.mu.Lock()
	c.epoch++
	c.away = time.Now()
	c.mu.Unlock()
}

// onMsg runs on the reply subscription's goroutine, one message at a time.
func (c *Client) onMsg(m *nats.Msg) {
	rest := strings.TrimPrefix(m.Subject, c.prefix)
	kind, num, ok := strings.Cut(rest, ".")
	if !ok {
		return
	}
	if kind == "r" {
		c.onReply(m) // the reply names its task in the data
		return
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return
	}
	switch kind {
	case "a":
		c.onAck(n, m)
	case "l":
		c.onLost(n)
	case "p":
		c.onPurged(n)
	}
}

// onLost rejects a task that recheck found lost, if no reply came first.
func (c *Client) onLost(n uint64) {
	c.mu.Lock()
	e := c.calls[n]
	if e == nil || e.abandoned {
		c.mu.Unlock()
		return
	}
	c.settledLocked(e)
	c.mu.Unlock()
	e.t.reject(fnError(e.t.function(), fmt.Errorf("its result was lost while the client was disconnected: %w", ErrResultLost)))
}

// onReply settles a task from its worker's reply, if the reply carries
// the task's secret.
func (c *Client) onReply(m *nats.Msg) {
	status, id, secret, extra, rest, ok := decodeReply(m.Data)
	if !ok || len(id) <= len(c.id) || string(id[:len(c.id)]) != c.id || id[len(c.id)] != '.' {
		return
	}
	n, err := strconv.ParseUint(string(id[len(c.id)+1:]), 10, 64)
	if err != nil {
		return
	}
	c.mu.Lock()
	e := c.calls[n]
	if e == nil || !sameSecretBytes(e.b.secret, secret) {
		c.mu.Unlock()
		return // a duplicate, the task was settled otherwise, or a forgery
	}
	if status == statusRetry {
		// A worker queued the task's next attempt as a new message.
		if seq, err := strconv.ParseUint(string(extra), 10, 64); err == nil && !e.abandoned {
			if e.seq != 0 {
				delete(c.bySeq, e.seq)
			}
			e.seq = seq
			c.bySeq[seq] = n
		}
		c.mu.Unlock()
		return
	}
	abandoned := e.abandoned
	if !abandoned {
		c.settledLocked(e)
	}
	c.mu.Unlock()
	if !abandoned {
		e.t.reply(status, string(extra), rest)
	}
}

// pubAck is the server's answer to a publish into a stream.
type pubAck struct {
	Stream    string `json:"stream"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
	Error     *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

func (c *Client) onAck(n uint64, m *nats.Msg) {
	if c.dropAcks.Load() > 0 && c.dropAcks.Add(-1) >= 0 {
		return
	}
	if seq, ok := quickSeq(m.Data); ok {
		c.settleAck(n, pubAck{Seq: seq}, nil)
		return
	}
	if m.Header.Get("Status") == "503" {
		c.noStream(n)
		return
	}
	var ack pubAck // on the heap (json): only off the fast path
	failure := parseAck(m, &ack, c.s.Queue)
	c.settleAck(n, ack, failure)
}

// noStreamGiveUp bounds how long a task keeps being sent while the
// server answers that nothing took it (below).
const noStreamGiveUp = 30 * time.Second

// noStream handles an acknowledgement with status 503 (no responders):
// no server took the task, because the queue's stream has no leader for a
// moment (a cluster electing one after a leader change: measured, tasks
// spawned across stream leader stepdowns got it) or because the stream is
// gone. The task was not stored, so resendLoop sends it again at its next
// tick (same Nats-Msg-Id); it fails only if the 503s go on for
// noStreamGiveUp.
func (c *Client) noStream(n uint64) {
	c.mu.Lock()
	e := c.calls[n]
	switch {
	case e == nil:
	case e.abandoned:
		delete(c.calls, n) // withdrawn, and never stored
	case e.noStream.IsZero():
		e.noStream = time.Now()
	case time.Since(e.noStream) > noStreamGiveUp:
		c.settledLocked(e)
		c.mu.Unlock()
		e.t.reject(fnError(e.t.function(), fmt.Errorf("remote: no stream for queue %q for %v (was it deleted?)", c.s.Queue, noStreamGiveUp)))
		return
	}
	c.mu.Unlock()
}

// quickSeq reads the sequence of a plain acknowledgement,
// {"stream":"VELA_q","seq":N}, without encoding/json (measured: it saves
// about a microsecond per task); ok is false for anything else (an error,
// a duplicate, a domain), which parseAck reads.
func quickSeq(data []byte) (uint64, bool) {
	const key = `,"seq":`
	i := bytes.Index(data, []byte(key))
	if i < 0 || !bytes.HasPrefix(data, []byte(`{"stream":"`)) {
		return 0, false
	}
	rest := data[i+len(key):]
	j := 0
	var n uint64
	for ; j < len(rest) && rest[j] >= '0' && rest[j] <= '9'; j++ {
		n = n*10 + uint64(rest[j]-'0')
	}
	if j == 0 || j != len(rest)-1 || rest[j] != '}' {
		return 0, false
	}
	return n, true
}

// parseAck reads any acknowledgement; a non-nil error is the reason the
// task was refused.
func parseAck(m *nats.Msg, ack *pubAck, queue string) error {
	switch {
	case json.Unmarshal(m.Data, ack) != nil:
		return fmt.Errorf("remote: unreadable acknowledgement %q", m.Data)
	case ack.Error != nil && strings.Contains(ack.Error.Description, "maximum messages"):
		return fmt.Errorf("remote: queue %q holds MaxQueued tasks: %w", queue, workers.ErrQueueFull)
	case ack.Error != nil:
		return fmt.Errorf("remote: queue %q refused the task: %s", queue, ack.Error.Description)
	}
	return nil
}

// settleAck records a task's sequence, or rejects it with failure.
func (c *Client) settleAck(n uint64, ack pubAck, failure error) {
	c.mu.Lock()
	e := c.calls[n]
	if e == nil {
		c.mu.Unlock()
		return // settled by its reply already
	}
	switch {
	case e.abandoned:
		// Withdrawn before the server had it: a SpawnAll's purge removed it
		// unless it was stored after the purge ran; a single Spawn's is
		// deleted now that its sequence is known.
		delete(c.calls, n)
		again := failure == nil && e.b.purged
		del := failure == nil && e.b.single
		c.mu.Unlock()
		if again {
			c.purge(e.b)
		}
		if del {
			c.deleteMsg(ack.Seq)
		}
		return
	case failure != nil:
		c.settledLocked(e)
		c.mu.Unlock()
		e.t.reject(fnError(e.t.function(), failure))
		return
	}
	if ack.Duplicate && !e.resent && !e.repeated {
		// Sent once, yet already stored: somebody else published a
		// message with this task's id first, and the server dropped this
		// one. It would never run.
		c.settledLocked(e)
		c.mu.Unlock()
		e.t.reject(fnError(e.t.function(), fmt.Errorf("task %s, sequence %d: %w", e.msgID[0], ack.Seq, ErrDuplicateTask)))
		return
	}
	e.seq = ack.Seq
	e.msg = nil
	c.bySeq[ack.Seq] = n
	check := e.resent && ack.Duplicate
	c.mu.Unlock()
	if check {
		// Sent again after a reconnection and already stored: it may have
		// run and been answered while the client was away.
		c.background(func() { c.checkOne(n, ack.Seq) })
	}
}

// background runs f on a goroutine that Close waits for; once the client
// is closing, f runs at once on the caller's goroutine instead.
func (c *Client) background(f func()) {
	c.mu.Lock()
	if c.closedErr != nil {
		c.mu.Unlock()
		f()
		return
	}
	c.checks.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.checks.Done()
		f()
	}()
}

// maxDeliverAdvisory is the part of the server's advisory we read.
type maxDeliverAdvisory struct {
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// onMaxDeliver runs when the server gives up redelivering a task: if it
// is ours, its future fails with ErrWorkerLost and it leaves the stream.
func (c *Client) onMaxDeliver(m *nats.Msg) {
	var adv maxDeliverAdvisory
	if json.Unmarshal(m.Data, &adv) != nil || adv.StreamSeq == 0 {
		return
	}
	c.mu.Lock()
	n, ok := c.bySeq[adv.StreamSeq]
	e := c.calls[n]
	if !ok || e == nil {
		c.mu.Unlock()
		return
	}
	c.settledLocked(e)
	c.mu.Unlock()
	e.t.reject(fnError(e.t.function(), fmt.Errorf("delivered %d times without a result: %w", adv.Deliveries, ErrWorkerLost)))
	c.deleteMsg(adv.StreamSeq)
}

// Publishes whose acknowledgement does not come. In a cluster a task
// published while its stream's leader changes can be lost without a word,
// and the client stays connected, so no reconnection check looks at it.
// Every second the client sends again, with the same Nats-Msg-Id (the
// server keeps one copy), each task unacknowledged for ackPatience, and
// rejects one still unacknowledged after ackGiveUp (within the server's
// duplicate window, so a late copy is never queued twice). A single Spawn
// withdrawn before its acknowledgement is sent again the same way, so that
// the acknowledgement tells the sequence to delete.
const (
	ackPatience = 2 * time.Second
	ackGiveUp   = 90 * time.Second
)

// resendLoop runs until Close; Client.checks waits for it.
func (c *Client) resendLoop() {
	defer c.checks.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var again []*entry
	var gone []*entry
	for {
		select {
		case <-c.stop.Done():
			return
		case now := <-t.C:
			if !c.l.nc.IsConnected() {
				continue
			}
			again, gone = again[:0], gone[:0]
			c.mu.Lock()
			for _, e := range c.calls {
				switch age := now.Sub(e.sentAt); {
				case e.seq != 0 || e.msg == nil || age < ackPatience && e.noStream.IsZero():
				case e.abandoned && age > ackGiveUp:
					delete(c.calls, e.n) // a withdrawn single Spawn the server never acknowledged
				case age > ackGiveUp:
					c.settledLocked(e)
					gone = append(gone, e)
				default:
					e.repeated = true
					again = append(again, e)
				}
			}
			c.mu.Unlock()
			for _, e := range again {
				_ = c.publishTask(&e.msgv, e.msgID[:])
			}
			for _, e := range gone {
				e.t.reject(fnError(e.t.function(), fmt.Errorf("the server never acknowledged the task (sent %v ago)", ackGiveUp)))
			}
		}
	}
}

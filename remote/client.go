package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
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
// first to arrive settles the future.
type Client struct {
	s      settings
	l      *link
	id     string // unique per Client; tasks are "<id>.<n>"
	prefix string // "_VELA.<id>." for acknowledgements and replies
	sub    *nats.Subscription
	advSub *nats.Subscription

	hooked    bool // the Config has caller's hooks (Hooks)
	closeOnce sync.Once
	checks    sync.WaitGroup     // the goroutine that checks pending tasks after a reconnection
	stop      context.Context    // ends when Close starts, to cut a check short
	stopNow   context.CancelFunc // ends stop

	mu        sync.Mutex
	closedErr error // non-nil once the client no longer takes tasks
	next      uint64
	epoch     uint64            // disconnections so far
	calls     map[uint64]*entry // tasks not yet settled, and abandoned ones awaiting their sequence number
	bySeq     map[uint64]uint64 // stream sequence -> call number, once acknowledged
}

// entry is a task of the Client's, with the fields guarded by Client.mu.
type entry struct {
	n         uint64
	epoch     uint64 // Client.epoch when it was sent
	t         call
	seq       uint64      // the task's stream sequence, once acknowledged
	abandoned bool        // settled by cancel or timeout before its sequence was known
	timer     *time.Timer // the WithTimeout deadline
	stopCtx   func() bool // stops the context.AfterFunc of Spawn's ctx
}

// call is the typed side of a task: its future.
type call interface {
	reply(m *nats.Msg)      // settle from a worker's reply
	reject(err error)       // reject, as the client decided
	cancel(cause error)     // cancel, as the caller's context asked
	timedOut() bool         // reject with a *workers.TimeoutError; false if already settled
	done() bool             // reports whether the future has settled
	watch(o async.Observer) // makes o the observer of the future (Hooks.OnCallDone)
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
	c := &Client{s: s, id: nuid.Next(), calls: make(map[uint64]*entry), bySeq: make(map[uint64]uint64), hooked: s.Hooks.client()}
	c.stop, c.stopNow = context.WithCancel(context.Background())
	c.prefix = "_VELA." + c.id + "."
	if err := c.start(ctx); err != nil {
		c.stopNow()
		c.teardown()
		return nil, err
	}
	return c, nil
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
	if err := l.ensureStream(ctx, &c.s, true); err != nil {
		return err
	}
	if _, err := l.ensureConsumer(ctx, &c.s, false); err != nil {
		return err
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
	if _, ok := ctx.Deadline(); ok {
		return l.nc.FlushWithContext(ctx)
	}
	return l.nc.Flush()
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
// with err, and withdraws their tasks.
func (c *Client) rejectAll(err error) {
	c.mu.Lock()
	if c.closedErr == nil {
		c.closedErr = err
	}
	calls := c.calls
	c.calls, c.bySeq = make(map[uint64]*entry), make(map[uint64]uint64)
	for _, e := range calls {
		e.stopTimers()
	}
	c.mu.Unlock()
	ids := make([]string, 0, len(calls))
	for _, e := range calls {
		if !e.abandoned {
			e.t.reject(err)
		}
		if e.seq != 0 {
			c.deleteMsg(e.seq)
		}
		ids = append(ids, c.taskID(e.n))
	}
	c.broadcastCancel(ids...)
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

// send publishes a task and registers e for its replies. It does not wait
// for the server: the acknowledgement comes to onMsg.
func (c *Client) send(ctx context.Context, e *entry, name string, data []byte, timeout, runTimeout time.Duration) error {
	c.mu.Lock()
	if c.closedErr != nil {
		c.mu.Unlock()
		return c.closedErr
	}
	c.next++
	n := c.next
	e.n, e.epoch = n, c.epoch
	c.calls[n] = e
	c.mu.Unlock()

	ns := strconv.FormatUint(n, 10)
	h := taskHead{id: c.id + "." + ns, fn: name, reply: c.prefix + "r." + ns, runTimeout: runTimeout}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
		h.deadline = deadline.UnixNano()
	}
	m := &nats.Msg{Subject: c.s.tasks, Reply: c.prefix + "a." + ns, Data: encodeTask(&h, data)}
	if c.hooked {
		m.Header = c.startCall(ctx, e, name) // the task's headers are set here, and only here
	}
	if err := c.l.nc.PublishMsg(m); err != nil {
		c.forget(e)
		c.mu.Lock()
		closed := c.closedErr
		c.mu.Unlock()
		switch {
		case closed != nil:
			return closed
		case errors.Is(err, nats.ErrMaxPayload):
			return fmt.Errorf("remote: %q: argument of %d bytes: %w (%d bytes): %w", name, len(data), ErrTooLarge, c.l.nc.MaxPayload(), err)
		}
		return fmt.Errorf("remote: %q: publishing: %w", name, err)
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

// forget drops e without any message to the server.
func (c *Client) forget(e *entry) {
	c.mu.Lock()
	if c.calls[e.n] == e {
		delete(c.calls, e.n)
	}
	c.mu.Unlock()
}

// timedOut runs on e's timer at the deadline.
func (c *Client) timedOut(e *entry) {
	if e.t.timedOut() {
		c.abandon(e)
	}
}

// abandon withdraws a task whose future was cancelled or timed out: a
// queued task is deleted from the stream (at once if its sequence is
// known, else when its acknowledgement arrives), and the workers are told,
// so a running function's context ends and a task already delivered but
// not started never starts.
func (c *Client) abandon(e *entry) { c.abandonAll([]*entry{e}) }

// abandonAll withdraws several tasks, telling the workers in one message,
// so that a worker whose slot is freed by cancelling one of them already
// knows that the others are cancelled.
func (c *Client) abandonAll(es []*entry) {
	var seqs []uint64
	ids := make([]string, 0, len(es))
	c.mu.Lock()
	for _, e := range es {
		if c.calls[e.n] != e || e.abandoned {
			continue
		}
		e.stopTimers()
		if e.seq != 0 {
			delete(c.calls, e.n)
			delete(c.bySeq, e.seq)
			seqs = append(seqs, e.seq)
		} else {
			e.abandoned = true
		}
		ids = append(ids, c.taskID(e.n))
	}
	c.mu.Unlock()
	for _, seq := range seqs {
		c.deleteMsg(seq)
	}
	c.broadcastCancel(ids...)
}

// deleteMsg asks the server to delete a task from the stream, without
// waiting for the answer.
func (c *Client) deleteMsg(seq uint64) {
	req := `{"seq":` + strconv.FormatUint(seq, 10) + `,"no_erase":true}`
	_ = c.l.nc.PublishRequest("$JS.API.STREAM.MSG.DELETE."+c.s.stream, c.prefix+"d", []byte(req))
}

// broadcastCancel tells every worker of the queue that these tasks are no
// longer wanted, in messages that fit the payload limit.
func (c *Client) broadcastCancel(ids ...string) {
	limit := int(c.l.nc.MaxPayload()) - 256
	var b strings.Builder
	for _, id := range ids {
		if b.Len() > 0 && b.Len()+len(id)+1 > limit {
			_ = c.l.nc.Publish(c.s.cancels, []byte(b.String()))
			b.Reset()
		}
		b.WriteString(id)
		b.WriteByte('\n')
	}
	if b.Len() > 0 {
		_ = c.l.nc.Publish(c.s.cancels, []byte(b.String()))
	}
}

// pubAck is the server's answer to a publish into a stream.
type pubAck struct {
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
	Error  *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

// onMsg runs on the reply subscription's goroutine, one message at a time.
func (c *Client) onMsg(m *nats.Msg) {
	rest := strings.TrimPrefix(m.Subject, c.prefix)
	kind, num, ok := strings.Cut(rest, ".")
	if !ok {
		return // an answer to a delete: nothing to do
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return
	}
	switch kind {
	case "r":
		c.onReply(n, m)
	case "a":
		c.onAck(n, m)
	case "l":
		c.onLost(n)
	}
}

func (c *Client) disconnected() {
	c.mu.Lock()
	c.epoch++
	c.mu.Unlock()
}

// reconnected starts the check of pending tasks, unless the client is
// closing.
func (c *Client) reconnected() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closedErr == nil {
		c.checks.Add(1)
		go c.recheck()
	}
}

// recheck runs after a reconnection. It sets the queue up again (the
// server may have restarted without a store), then looks for each pending
// task in the stream: a task still there is waiting or running and its
// reply will come; a task no longer there was answered while the client
// was away, or lost with the server's memory; so was a task whose
// acknowledgement never came back. Such tasks are marked lost with a
// message to the client itself, which arrives after any reply published
// before the check, so a reply that did arrive still wins.
func (c *Client) recheck() {
	defer c.checks.Done()
	ctx, cancel := context.WithTimeout(c.stop, 30*time.Second)
	defer cancel()
	_ = c.l.ensureStream(ctx, &c.s, true)
	_, _ = c.l.ensureConsumer(ctx, &c.s, false)
	c.mu.Lock()
	epoch := c.epoch
	pending := make([]*entry, 0, len(c.calls))
	for _, e := range c.calls {
		if !e.abandoned {
			pending = append(pending, e)
		}
	}
	c.mu.Unlock()
	st, err := c.l.js.Stream(ctx, c.s.stream)
	for _, e := range pending {
		c.mu.Lock()
		seq := e.seq
		c.mu.Unlock()
		lost := false
		switch {
		case seq == 0:
			lost = e.epoch < epoch // sent before the disconnection, never acknowledged
		case err != nil:
			lost = errors.Is(err, jetstream.ErrStreamNotFound)
		default:
			_, gerr := st.GetMsg(ctx, seq)
			lost = errors.Is(gerr, jetstream.ErrMsgNotFound)
		}
		if lost {
			_ = c.l.nc.Publish(c.prefix+"l."+strconv.FormatUint(e.n, 10), nil)
		}
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
	delete(c.calls, n)
	if e.seq != 0 {
		delete(c.bySeq, e.seq)
	}
	e.stopTimers()
	c.mu.Unlock()
	e.t.reject(fmt.Errorf("remote: its result was lost while the client was disconnected: %w", ErrResultLost))
	c.broadcastCancel(c.taskID(n))
}

func (c *Client) onReply(n uint64, m *nats.Msg) {
	c.mu.Lock()
	e := c.calls[n]
	if e == nil {
		c.mu.Unlock()
		return // a duplicate, or the task was settled otherwise
	}
	delete(c.calls, n)
	if e.seq != 0 {
		delete(c.bySeq, e.seq)
	}
	e.stopTimers()
	c.mu.Unlock()
	if !e.abandoned {
		e.t.reply(m)
	}
}

func (c *Client) onAck(n uint64, m *nats.Msg) {
	var ack pubAck
	var failure error
	if seq, ok := quickSeq(m.Data); ok {
		ack.Seq = seq
	} else {
		failure = parseAck(m, &ack, c.s.Queue)
	}
	c.settleAck(n, ack.Seq, failure)
}

// quickSeq reads the sequence of a plain acknowledgement,
// {"stream":"VELA_q","seq":N}, without encoding/json; ok is false for
// anything else (an error, a duplicate, a domain), which parseAck reads.
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
	case m.Header.Get("Status") == "503":
		return fmt.Errorf("remote: no stream for queue %q (was it deleted?)", queue)
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
func (c *Client) settleAck(n, seq uint64, failure error) {
	c.mu.Lock()
	e := c.calls[n]
	if e == nil {
		c.mu.Unlock()
		return // settled by its reply already
	}
	if failure != nil || e.abandoned {
		delete(c.calls, n)
		e.stopTimers()
		c.mu.Unlock()
		if failure == nil {
			c.deleteMsg(seq) // abandoned before it was acknowledged
		} else if !e.abandoned {
			e.t.reject(failure)
		}
		return
	}
	e.seq = seq
	c.bySeq[seq] = n
	c.mu.Unlock()
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
	delete(c.calls, n)
	delete(c.bySeq, adv.StreamSeq)
	e.stopTimers()
	c.mu.Unlock()
	e.t.reject(fmt.Errorf("remote: task delivered %d times without a result: %w", adv.Deliveries, ErrWorkerLost))
	c.deleteMsg(adv.StreamSeq)
}

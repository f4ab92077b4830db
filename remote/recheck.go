package remote

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// After a reconnection. Replies travel on core NATS and are not stored,
// so a reply published while the client was disconnected is lost; the
// client therefore checks its pending tasks when it reconnects, with one
// request whatever their number: the stream's state with the list of its
// deleted sequences tells which tasks are still queued or running (their
// reply will come) and which have left (answered while the client was
// away, or lost with the server's memory). A task sent before the
// disconnection whose acknowledgement never came is sent again: it
// carries its id as Nats-Msg-Id, so the server stores it once. The check
// is retried until it succeeds, the client disconnects again (a new check
// starts) or closes, so no future is left pending.

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

func (c *Client) recheck() {
	defer c.checks.Done()
	c.mu.Lock()
	epoch := c.epoch
	c.mu.Unlock()
	for {
		ctx, cancel := context.WithTimeout(c.stop, 10*time.Second)
		err := c.recheckOnce(ctx, epoch)
		cancel()
		if err == nil {
			return
		}
		c.mu.Lock()
		again := c.epoch != epoch || c.closedErr != nil
		c.mu.Unlock()
		if again {
			return
		}
		select {
		case <-c.stop.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// recheckOnce checks the tasks pending at disconnection epoch.
func (c *Client) recheckOnce(ctx context.Context, epoch uint64) error {
	_ = c.l.setUp(ctx, &c.s, false)
	var gone func(seq uint64) bool
	st, err := c.l.js.Stream(ctx, c.s.stream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		gone = func(uint64) bool { return true }
	case err != nil:
		return err
	default:
		info, err := st.Info(ctx, jetstream.WithDeletedDetails(true))
		if err != nil {
			return err
		}
		deleted := make(map[uint64]struct{}, len(info.State.Deleted))
		for _, d := range info.State.Deleted {
			deleted[d] = struct{}{}
		}
		first, last := info.State.FirstSeq, info.State.LastSeq
		gone = func(seq uint64) bool {
			_, del := deleted[seq]
			return seq < first || seq > last || del || info.State.Msgs == 0
		}
	}
	var lost []*entry
	var resend []*entry
	c.mu.Lock()
	resendable := time.Since(c.away) < dedupWindow-10*time.Second
	for _, e := range c.calls {
		switch {
		case e.abandoned:
		case e.seq == 0 && e.epoch < epoch && e.msg != nil && resendable:
			e.resent = true
			resend = append(resend, e)
		case e.seq == 0 && e.epoch < epoch:
			lost = append(lost, e)
		case e.seq != 0 && gone(e.seq):
			lost = append(lost, e)
		}
	}
	msgs := make([]string, 0, len(lost))
	for _, e := range lost {
		msgs = append(msgs, c.prefix+"l."+strconv.FormatUint(e.n, 10))
	}
	c.mu.Unlock()
	for _, e := range resend {
		_ = c.publishTask(&e.msgv, e.msgID[:])
	}
	// The marks travel through the server, so that they arrive after any
	// reply published before the check, and a reply that did arrive wins.
	for _, s := range msgs {
		_ = c.l.nc.Publish(s, nil)
	}
	return nil
}

// checkOne looks for a task that was sent again and found already stored:
// if it has left the stream, its reply was lost while the client was away.
func (c *Client) checkOne(n, seq uint64) {
	ctx, cancel := context.WithTimeout(c.stop, 10*time.Second)
	defer cancel()
	st, err := c.l.js.Stream(ctx, c.s.stream)
	if err == nil {
		_, err = st.GetMsg(ctx, seq)
	}
	if errors.Is(err, jetstream.ErrMsgNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		_ = c.l.nc.Publish(c.prefix+"l."+strconv.FormatUint(n, 10), nil)
	}
}

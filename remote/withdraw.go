package remote

import (
	"strconv"
	"strings"
)

// Withdrawing tasks. A task is withdrawn when its future is cancelled or
// times out, when a sibling of its SpawnAll fails, or when the Client
// closes. The future settles at once, on the caller's side; then, without
// waiting, the client removes the batch's queued tasks from the stream
// with one purge of the batch's subject, and tells the workers with one
// line, "<batch> <secret>", on the queue's cancel subject, so that a task
// already delivered is cancelled or dropped. Withdrawing a batch of any
// size costs these two messages. A task of a batch whose siblings still
// run (only for an instant, between a SpawnAll member failing and its
// siblings being cancelled) is withdrawn alone: its message is deleted by
// sequence and the cancel line names it, "<batch> <secret> <id>". A
// single Spawn shares its subject with the client's other single Spawns,
// so it is deleted by sequence too, at once if its acknowledgement has
// come, else when it comes (settleAck); its cancel line is its batch's,
// "<user>.<client>.s<n> <secret>".

// abandon withdraws one task.
func (c *Client) abandon(e *entry) { c.abandonAll([]*entry{e}) }

// abandonAll withdraws several tasks, telling the workers in one message,
// so that a worker whose slot is freed by cancelling one of them already
// knows that the others are cancelled.
func (c *Client) abandonAll(es []*entry) {
	type gone struct {
		e   *entry
		seq uint64
	}
	var purge, whole []*batch
	var seqs []uint64
	var single []*entry
	c.mu.Lock()
	taken := make([]gone, 0, len(es))
	for _, e := range es {
		if c.calls[e.n] != e || e.abandoned {
			continue
		}
		taken = append(taken, gone{e, e.seq})
		m := e.msg
		c.settledLocked(e)
		if taken[len(taken)-1].seq == 0 {
			e.abandoned = true // kept until its acknowledgement arrives
			c.calls[e.n] = e
			if e.b.single {
				// Deleted by the sequence its acknowledgement tells: if that
				// is lost, resendLoop sends the task again (the server
				// stores it once) to learn it.
				e.msg = m
			}
		}
	}
	// Once all of them are out, a batch with no task left is withdrawn
	// whole; the others alone.
	for _, g := range taken {
		b := g.e.b
		switch {
		case b.withdrawn:
		case b.live == 0 && b.single:
			b.withdrawn = true
			whole = append(whole, b)
			if g.seq != 0 {
				seqs = append(seqs, g.seq)
			}
		case b.live == 0:
			b.withdrawn = true
			c.purging[b.n] = b
			purge = append(purge, b)
			whole = append(whole, b)
		default:
			single = append(single, g.e)
			if g.seq != 0 {
				seqs = append(seqs, g.seq)
			}
		}
	}
	c.mu.Unlock()
	for _, b := range purge {
		c.purge(b)
	}
	for _, seq := range seqs {
		c.deleteMsg(seq)
	}
	c.broadcastCancel(whole, single)
}

// purge asks the server to remove the batch's queued tasks; the answer
// comes to onPurged. It writes the JetStream API request by hand (as
// deleteMsg does) because jetstream's Stream.Purge and DeleteMsg wait for
// the answer, and a withdrawal runs inside Cancel, a timer or the reply
// goroutine, which must not wait on the network.
func (c *Client) purge(b *batch) {
	c.purgeSubject(c.id+"."+strconv.FormatUint(b.n, 10), c.prefix+"p."+strconv.FormatUint(b.n, 10))
}

// purgeAll removes every queued task of this client, when it closes.
func (c *Client) purgeAll() { c.purgeSubject(c.id+".>", c.prefix+"p.0") }

// purgeSubject purges vela.<queue>.tasks.<user>.<tail>: itself, or through
// the server's control connection when logged in as a user.
func (c *Client) purgeSubject(tail, reply string) {
	if c.s.secured() {
		_ = c.l.nc.PublishRequest(c.s.control("withdraw"), reply, []byte(tail))
		return
	}
	req := `{"filter":"` + c.s.tasksBase + c.s.user + "." + tail + `"}`
	_ = c.l.nc.PublishRequest("$JS.API.STREAM.PURGE."+c.s.stream, reply, []byte(req))
}

// onPurged notes that a batch's purge has run: a task of it acknowledged
// from now on was stored after the purge, and is purged again.
func (c *Client) onPurged(n uint64) {
	c.mu.Lock()
	if b := c.purging[n]; b != nil {
		b.purged = true
		delete(c.purging, n)
	}
	c.mu.Unlock()
}

// deleteMsg asks the server to delete one task from the stream, without
// waiting for the answer.
func (c *Client) deleteMsg(seq uint64) {
	if c.s.secured() {
		_ = c.l.nc.PublishRequest(c.s.control("delete"), c.prefix+"d", strconv.AppendUint(nil, seq, 10))
		return
	}
	req := `{"seq":` + strconv.FormatUint(seq, 10) + `,"no_erase":true}`
	_ = c.l.nc.PublishRequest("$JS.API.STREAM.MSG.DELETE."+c.s.stream, c.prefix+"d", []byte(req))
}

// broadcastCancel tells every worker of the queue that these batches, and
// these single tasks, are no longer wanted, in messages that fit the
// payload limit.
func (c *Client) broadcastCancel(batches []*batch, single []*entry) {
	if len(batches) == 0 && len(single) == 0 {
		return
	}
	limit := int(c.l.nc.MaxPayload()) - 256
	var b strings.Builder
	line := func(s string) {
		if b.Len() > 0 && b.Len()+len(s) > limit {
			_ = c.l.nc.Publish(c.s.cancels, []byte(b.String()))
			b.Reset()
		}
		b.WriteString(s)
	}
	for _, bt := range batches {
		line(bt.key + " " + bt.secret + "\n")
	}
	for _, e := range single {
		line(e.b.key + " " + e.b.secret + " " + c.taskID(e.n) + "\n")
	}
	if b.Len() > 0 {
		_ = c.l.nc.Publish(c.s.cancels, []byte(b.String()))
	}
}

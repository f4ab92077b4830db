package remote

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// The intake: how a Worker asks for tasks. It writes the JetStream pull
// request by hand instead of using jetstream.Consumer's Fetch or Consume,
// for one measured reason: those keep a buffer of tasks whose AckWait
// clock runs while nobody holds them, and they re-issue a request only
// when the previous one ends, so a worker cannot bound the tasks it holds
// by what it can run (the defect of a worker that took all 40 long tasks
// while another idled). Here every delivered task is held by the Worker
// from the moment it arrives, and each request asks for exactly the free
// part of the window. The request is the JSON body of
// $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>, answered on the Worker's
// inbox with the tasks (each with its $JS.ACK reply subject) and status
// messages without a reply subject (100 heartbeat, 404 no messages, 408
// expired, 409 ended by the server, for example after a leader change).
// intake_test.go checks it against the pinned server.

// Prefetch: a worker whose functions take under shortRun on average holds
// up to shortWindow tasks (when that is more than 2×Slots), so that small
// tasks are not paced by pull round trips. Its requests for them last only
// shortExpiry, so that a request made for the short window cannot deliver
// for long once functions turn long. As soon as a function runs longer
// than longRun (or AckWait/4 if that is shorter) the window is 2×Slots
// again and the waiting tasks beyond it are given back; a task the open
// request still delivers beyond the window is given back with a NAK
// delayed past that request's end (bounceDelay), so it goes to another
// request, not back to the same one. Measured: requests that did not wait
// (no_wait) made a pull for every two tasks of a one-at-a-time round trip,
// and took it from 19 to 30 µs.
const (
	shortRun    = time.Millisecond
	shortWindow = 64
	longRun     = 100 * time.Millisecond
	shortExpiry = 250 * time.Millisecond
	bounceDelay = shortExpiry + 100*time.Millisecond
)

// intake is the Worker's pull request and window, guarded by Worker.mu.
type intake struct {
	req      *pullReq      // the open pull request, or nil
	nreq     uint64        // pull requests made
	runAvg   time.Duration // moving average of the functions' run times
	measured int           // runs in runAvg, up to 8
}

// pullReq is an open pull request: its inbox token, its batch, how many
// tasks it may still deliver, and when the worker last heard of it. The
// server delivers tasks with their own subject, not the request's, so a
// worker keeps one request open at a time to know which one a task answers.
type pullReq struct {
	tok       string
	batch     int
	left      int
	expires   time.Duration
	heartbeat time.Duration // 0: none (short requests)
	heard     time.Time
}

// pullTiming returns how long a waiting pull request lasts at the server
// and the heartbeat it asks for: short enough that a request lost with a
// stream leader is noticed and replaced well within AckWait.
func pullTiming(ackWait time.Duration) (expires, heartbeat time.Duration) {
	expires = min(10*time.Second, max(ackWait/2, 400*time.Millisecond))
	return expires, expires / 4
}

// windowLocked returns the number of tasks the worker may hold, and
// whether its functions are short.
func (w *Worker) windowLocked() (window int, short bool) {
	window = 2 * w.s.Slots
	if w.in.measured >= 8 && w.in.runAvg < shortRun {
		return max(window, shortWindow), true
	}
	return window, false
}

// nextPullLocked decides the next pull request: none while one is open or
// less than half the window is free, else one for the free part. The
// caller sends it with sendPull after unlocking.
func (w *Worker) nextPullLocked() *pullReq {
	if w.stopping || w.in.req != nil || w.needSetup {
		return nil
	}
	window, short := w.windowLocked()
	free := window - w.held
	if free < window/2 || free <= 0 {
		return nil
	}
	w.in.nreq++
	p := &pullReq{tok: strconv.FormatUint(w.in.nreq, 10), batch: free, heard: time.Now()}
	if short {
		p.expires = shortExpiry
	} else {
		p.expires, p.heartbeat = pullTiming(w.s.AckWait)
	}
	p.left = p.batch
	w.in.req = p
	return p
}

// pull sends the next pull request, if one is due.
func (w *Worker) pull() {
	w.mu.Lock()
	p := w.nextPullLocked()
	w.mu.Unlock()
	if p != nil {
		w.sendPull(p)
	}
}

func (w *Worker) sendPull(p *pullReq) {
	var b strings.Builder
	b.WriteString(`{"batch":`)
	b.WriteString(strconv.Itoa(p.batch))
	b.WriteString(`,"expires":`)
	b.WriteString(strconv.FormatInt(int64(p.expires), 10))
	if p.heartbeat > 0 {
		b.WriteString(`,"idle_heartbeat":`)
		b.WriteString(strconv.FormatInt(int64(p.heartbeat), 10))
	}
	b.WriteByte('}')
	_ = w.l.nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT."+w.s.stream+"."+consumerName, w.inbox+p.tok, []byte(b.String()))
}

// forgetQuietLocked drops an open waiting request the server has not
// spoken of for two heartbeats and a margin (its stream or consumer leader
// may have changed without word), so that tick asks again.
func (in *intake) forgetQuietLocked(now time.Time) {
	p := in.req
	if p == nil {
		return
	}
	quiet := 2*p.heartbeat + 200*time.Millisecond
	if p.heartbeat == 0 {
		quiet = p.expires + 500*time.Millisecond
	}
	if now.Sub(p.heard) > quiet {
		in.req = nil
	}
}

// onDelivery runs on the delivery subscription's goroutine, one message
// at a time: a task (it has a $JS.ACK reply subject), or the server's word
// about a pull request (a status, without one). Whatever a publisher put
// in a task's headers or body, it is never taken for the server's word.
func (w *Worker) onDelivery(m *nats.Msg) {
	if m.Reply == "" {
		tok := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		w.onStatus(tok, m.Header.Get("Status"), m.Header.Get("Description"))
		return
	}
	w.mu.Lock()
	// A task comes with its own subject, not the request's: it is counted
	// against the open request (there is at most one).
	if p := w.in.req; p != nil {
		p.heard = time.Now()
		if p.left--; p.left <= 0 {
			w.in.req = nil // fulfilled: the server sends no word
		}
	}
	window, _ := w.windowLocked()
	over := w.held >= window
	w.held++
	stopping := w.stopping
	w.mu.Unlock()
	if stopping || over {
		w.giveBackUnread(m, over && !stopping)
		w.release()
		return
	}
	if !w.accept(m) {
		w.release()
	}
}

// onStatus handles the server's word about pull request tok.
func (w *Worker) onStatus(tok, status, desc string) {
	w.mu.Lock()
	p := w.in.req
	if p == nil || p.tok != tok {
		w.mu.Unlock()
		return
	}
	p.heard = time.Now()
	switch {
	case status == "100": // heartbeat: the request is alive
		w.mu.Unlock()
		return
	case status == "503" || strings.Contains(desc, "Consumer Deleted"):
		// No responders: the consumer is missing, after a server
		// restart without a store. tick sets it up again and pulls.
		w.needSetup = true
	}
	w.in.req = nil
	w.mu.Unlock()
	w.pull()
}

// noteRun adds a function's run time to the moving average.
func (w *Worker) noteRun(d time.Duration) {
	w.mu.Lock()
	if w.in.measured < 8 {
		w.in.measured++
	}
	w.in.runAvg += (d - w.in.runAvg) / time.Duration(w.in.measured)
	w.mu.Unlock()
}

// shrinkLocked ends the short window once a running function has run for
// longer than longRun (or AckWait/4), and returns the waiting runs beyond
// 2×Slots, newest first, marked to be given back; the caller cancels them
// after unlocking.
func (w *Worker) shrinkLocked(now time.Time) []*run {
	if _, short := w.windowLocked(); !short {
		return nil
	}
	limit := min(longRun, w.s.AckWait/4)
	long := false
	var waiting []*run
	for _, r := range w.runs {
		if at := r.startedAt.Load(); at != 0 {
			long = long || now.Sub(time.Unix(0, at)) > limit
		} else if !r.requeue.Load() {
			waiting = append(waiting, r)
		}
	}
	if !long {
		return nil
	}
	w.in.measured, w.in.runAvg = 0, 0
	extra := len(waiting) - w.s.Slots
	if extra <= 0 {
		return nil
	}
	// Give back the newest: the oldest are next on the pool.
	sortRunsNewestFirst(waiting)
	waiting = waiting[:extra]
	for _, r := range waiting {
		r.requeue.Store(true)
	}
	return waiting
}

// release frees the slot of a task that was answered or given back.
func (w *Worker) release() {
	w.mu.Lock()
	w.held--
	if w.held == 0 && w.idle != nil {
		close(w.idle)
		w.idle = nil
	}
	p := w.nextPullLocked()
	w.mu.Unlock()
	if p != nil {
		w.sendPull(p)
	}
}

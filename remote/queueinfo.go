package remote

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// QueueInfo is what a Client can learn about its queue: how many tasks
// wait, how many workers hold, and which workers serve it.
type QueueInfo struct {
	Queue       string // the Config's Queue
	Queued      int    // tasks in the queue that no worker has taken yet
	Held        int    // tasks delivered to a worker and not yet answered: running, or waiting on its pool
	Redelivered int    // of Held, tasks delivered more than once (a worker was lost, or gave them back at Shutdown)
	Workers     int    // Workers serving the queue that answered within the call
	Slots       int    // their Config.Slots, summed
	Running     int    // functions running on them now
}

// infoWindow is how long QueueInfo waits for the workers' answers.
const infoWindow = 50 * time.Millisecond

// QueueInfo asks the server about c's queue and its workers: the
// consumer's counts of queued, held and redelivered tasks, and the answers
// of the Workers serving the queue within 50ms (or until ctx ends, if
// sooner). A task spawned when Workers is 0 waits in the queue until a
// Worker serves it. It blocks for that window; the dashboard calls it from
// its sampler, never from a request. Errors wrap ErrPoolClosed if c is
// closed; a nil ctx gives an error wrapping workers.ErrInvalidArgument.
func (c *Client) QueueInfo(ctx context.Context) (QueueInfo, error) {
	qi := QueueInfo{Queue: c.s.Queue}
	if ctx == nil {
		return qi, invalid("QueueInfo with a nil context")
	}
	c.mu.Lock()
	closed := c.closedErr
	c.mu.Unlock()
	if closed != nil {
		return qi, closed
	}
	cons, err := c.l.js.Consumer(ctx, c.s.stream, consumerName)
	if err != nil {
		return qi, fmt.Errorf("remote: QueueInfo: %w", err)
	}
	ci := cons.CachedInfo()
	qi.Queued, qi.Held, qi.Redelivered = int(ci.NumPending), ci.NumAckPending, ci.NumRedelivered

	inbox := c.prefix + "i." + strconv.FormatInt(time.Now().UnixNano(), 36)
	sub, err := c.l.nc.SubscribeSync(inbox)
	if err != nil {
		return qi, fmt.Errorf("remote: QueueInfo: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := c.l.nc.PublishRequest(workersSubject(&c.s), inbox, nil); err != nil {
		return qi, fmt.Errorf("remote: QueueInfo: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, infoWindow)
	defer cancel()
	for {
		m, err := sub.NextMsgWithContext(wctx)
		if err != nil {
			return qi, nil // the window has passed (or ctx ended): the answers so far
		}
		f := strings.Fields(string(m.Data))
		if len(f) != 2 {
			continue
		}
		slots, _ := strconv.Atoi(f[0])
		running, _ := strconv.Atoi(f[1])
		qi.Workers++
		qi.Slots += slots
		qi.Running += running
	}
}

// workersSubject is where a queue's Workers answer QueueInfo.
func workersSubject(s *settings) string { return "vela." + s.Queue + ".workers" }

// onInfo answers a QueueInfo request: the Worker's slots and its running
// functions.
func (w *Worker) onInfo(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	s := w.pool.Stats()
	_ = w.l.nc.Publish(m.Reply, []byte(strconv.Itoa(s.MaxWorkers)+" "+strconv.Itoa(s.Active)))
}

package remote

import (
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Cancels. A client withdraws a batch of tasks by publishing
// "<batch> <secret>" (or one task of it, "<batch> <secret> <id>") on
// vela.<queue>.cancel.<user>; every worker of the
// queue receives it. A worker cancels the tasks of that batch it holds
// whose secret matches (compared in constant time), and remembers the
// cancel, so that a task of the batch that reaches it later is dropped. A
// cancel whose batch does not belong to the user of its subject is
// ignored.

// maxCancels bounds the cancels a worker remembers: at most 10,000
// batches, each with at most maxSecrets secrets, oldest forgotten first
// (about 1.5 MB at most). A forgotten cancel only matters for a task still
// in flight to the worker, since the client also removes its queued tasks
// from the stream.
const (
	maxCancels = 10000
	maxSecrets = 4
)

// cancelMemory is the cancels a worker remembers, with their arrival, in
// arrival order. It is guarded by Worker.mu.
type cancelMemory struct {
	secrets map[string][]string // batch (or "<batch>/<id>" for one task) -> secrets received for it
	singles int                 // keys of one task in secrets
	order   []cancelMark        // oldest first, from head
	head    int
}

type cancelMark struct {
	batch string
	at    time.Time
}

func (c *cancelMemory) init() { c.secrets = make(map[string][]string) }

func (c *cancelMemory) add(batch, secret string, at time.Time) {
	ss, known := c.secrets[batch]
	for _, s := range ss {
		if sameSecret(s, secret) {
			return
		}
	}
	if !known && len(c.secrets) >= maxCancels {
		c.dropOldest()
	}
	if len(ss) >= maxSecrets {
		ss = ss[1:]
	}
	c.secrets[batch] = append(ss, secret)
	if !known {
		c.order = append(c.order, cancelMark{batch, at})
		if strings.Contains(batch, "/") {
			c.singles++
		}
	}
}

func (c *cancelMemory) dropOldest() {
	if strings.Contains(c.order[c.head].batch, "/") {
		c.singles--
	}
	delete(c.secrets, c.order[c.head].batch)
	c.order[c.head] = cancelMark{}
	c.head++
	if c.head > len(c.order)/2 {
		c.order = append(c.order[:0], c.order[c.head:]...)
		c.head = 0
	}
}

// has reports whether the task id, which came on the subject whose tail
// is tail, was cancelled, alone or with its batch, with this secret.
func (c *cancelMemory) has(tail, id, secret string) bool {
	if len(c.secrets) == 0 {
		return false
	}
	batch := singleBatch(tail, id)
	return c.hasKey(batch, secret) || c.singles > 0 && c.hasKey(batch+"/"+id, secret)
}

func (c *cancelMemory) hasKey(batch, secret string) bool {
	for _, s := range c.secrets[batch] {
		if sameSecret(s, secret) {
			return true
		}
	}
	return false
}

// expire forgets the cancels received before t.
func (c *cancelMemory) expire(t time.Time) {
	for c.head < len(c.order) && c.order[c.head].at.Before(t) {
		c.dropOldest()
	}
}

func (c *cancelMemory) len() int { return len(c.secrets) }

// onCancel runs on the cancel subscription's goroutine.
func (w *Worker) onCancel(m *nats.Msg) {
	user := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	now := time.Now()
	var rs []*run
	w.mu.Lock()
	for line := range strings.SplitSeq(string(m.Data), "\n") {
		batch, secret, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(batch, user+".") {
			continue
		}
		secret, id, one := strings.Cut(secret, " ")
		if secret == "" {
			continue
		}
		for _, r := range w.runs {
			if r.inBatch(batch) && (!one || r.id == id) && sameSecret(r.secret, secret) {
				rs = append(rs, r)
			}
		}
		if one {
			w.cancels.add(batch+"/"+id, secret, now)
		} else {
			w.cancels.add(batch, secret, now)
		}
	}
	w.mu.Unlock()
	// Every cancel of the message is recorded, and every task of it still
	// waiting on the pool is cancelled, before any running one is.
	cancelRuns(rs, errCallerCancelled)
}

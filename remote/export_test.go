package remote

import (
	"context"
	"strings"
)

// QueuedTasks is how many tasks c's queue holds (waiting or running).
func QueuedTasks(c *Client) uint64 {
	st, err := c.l.js.Stream(context.Background(), c.s.stream)
	if err != nil {
		return 0
	}
	return st.CachedInfo().State.Msgs
}

// Connected reports whether c's connection is up.
func Connected(c *Client) bool { return c.l.nc.IsConnected() }

// Reconnected reports whether c has reconnected at least once and is
// connected now.
func Reconnected(c *Client) bool { return c.l.nc.IsConnected() && c.l.nc.Stats().Reconnects > 0 }

var QuickSeq = quickSeq

// decodeTaskMsg decodes a task message as a worker of its queue would,
// from its subject, "vela.<queue>.tasks.<user>.<client>.<batch>", and data.
func decodeTaskMsg(subject string, data []byte) (taskHead, bool) {
	parts := strings.SplitN(subject, ".", 4)
	if len(parts) < 4 || parts[0] != "vela" || parts[2] != "tasks" {
		return taskHead{}, false
	}
	from, ok := senderOf(parts[3])
	if !ok {
		return taskHead{}, false
	}
	h, _, ok := decodeTask(data, parts[1], from)
	return h, ok
}

// FakeReply is what a worker would publish to answer the task message
// (its subject and data) with the encoded result: the subject and the data.
func FakeReply(subject string, task []byte, result []byte) (string, []byte) {
	h, _ := decodeTaskMsg(subject, task)
	return h.reply, encodeReply(statusOK, h.id, h.secret, "", result)
}

// ForgedReply is a reply to the task message without its secret.
func ForgedReply(subject string, task []byte, result []byte) (string, []byte) {
	h, _ := decodeTaskMsg(subject, task)
	return h.reply, encodeReply(statusOK, h.id, "guess", "", result)
}

// TaskEnvelope returns a task message's id, secret and reply subject, as
// a worker reads them.
func TaskEnvelope(subject string, task []byte) (id, secret, reply string, ok bool) {
	h, ok := decodeTaskMsg(subject, task)
	return h.id, h.secret, h.reply, ok
}

// DropAcks makes c ignore its next n publish acknowledgements, as if the
// network had lost them.
func DropAcks(c *Client, n int32) { c.dropAcks.Store(n) }

// RememberedCancels is how many cancels w remembers.
func RememberedCancels(w *Worker) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cancels.len()
}

// MaxCancels is the bound on remembered cancels.
const MaxCancels = maxCancels

// AckPending is how many tasks of c's queue are delivered and not yet
// acknowledged.
func AckPending(c *Client) int {
	cons, err := c.l.js.Consumer(context.Background(), c.s.stream, consumerName)
	if err != nil {
		return -1
	}
	return cons.CachedInfo().NumAckPending
}

// IsStreamLeader reports whether srv leads the stream of queue q.
func IsStreamLeader(srv *Server, q string) bool {
	return srv.ns.JetStreamIsStreamLeader("$G", "VELA_"+q)
}

// IsConsumerLeader reports whether srv leads the consumer of queue q.
func IsConsumerLeader(srv *Server, q string) bool {
	return srv.ns.JetStreamIsConsumerLeader("$G", "VELA_"+q, consumerName)
}

// IsMetaLeader reports whether srv leads the cluster's JetStream.
func IsMetaLeader(srv *Server) bool { return srv.ns.JetStreamIsLeader() }

// DropConnection closes c's connection without withdrawing anything, as
// the exit of its process would.
func DropConnection(c *Client) { c.l.nc.Close() }

// FirstQueued is the stream sequence of the oldest task in c's queue, or
// 0 for none.
func FirstQueued(c *Client) uint64 {
	st, err := c.l.js.Stream(context.Background(), c.s.stream)
	if err != nil || st.CachedInfo().State.Msgs == 0 {
		return 0
	}
	return st.CachedInfo().State.FirstSeq
}

// DropPublishes makes c skip its next n task publishes, as if the server
// had lost them (a stream leader that fell before storing them).
func DropPublishes(c *Client, n int32) { c.dropPubs.Store(n) }

// RoutePeers names the cluster members srv has a route to.
func RoutePeers(srv *Server) map[string]bool {
	peers := map[string]bool{}
	rz, err := srv.ns.Routez(nil)
	if err != nil {
		return peers
	}
	for _, r := range rz.Routes {
		peers[r.RemoteName] = true
	}
	return peers
}

// Stopping reports whether w's Shutdown has begun.
func Stopping(w *Worker) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopping
}

// Deliveries is how many deliveries c's queue's consumer has made, and
// how many pull requests wait at the server.
func Deliveries(c *Client) (delivered uint64, waiting int) {
	cons, err := c.l.js.Consumer(context.Background(), c.s.stream, consumerName)
	if err != nil {
		return 0, -1
	}
	ci := cons.CachedInfo()
	return ci.Delivered.Consumer, ci.NumWaiting
}

// Leads reports whether srv leads the stream (of any name) and its
// consumer.
func Leads(srv *Server, stream, consumer string) (streamLeader, consumerLeader bool) {
	return srv.ns.JetStreamIsStreamLeader("$G", stream), srv.ns.JetStreamIsConsumerLeader("$G", stream, consumer)
}

// ServerName is srv's name (a cluster member's ClusterConfig.Server).
func ServerName(srv *Server) string { return srv.ns.Name() }

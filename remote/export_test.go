package remote

import "context"

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

var QuickSeq = quickSeq

// FakeReply is what a worker would publish to answer the task message
// data with the encoded result: the subject and the data.
func FakeReply(task []byte, result []byte) (string, []byte) {
	h, _, _ := decodeTask(task)
	return h.reply, encodeReply(statusOK, "", result)
}

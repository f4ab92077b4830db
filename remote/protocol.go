package remote

import (
	"crypto/subtle"
	"encoding/binary"
	"time"
)

// The wire format. A task message's data is an envelope, not headers, so
// that neither the server nor the worker parses headers per task (the one
// header, Nats-Msg-Id, is read by the server only):
//
//	"VT3" id secret fn reply deadline runTimeout due attempt retry argument
//
// where id, secret, fn and reply are uvarint-length-prefixed strings (the
// task's id "<client>.<n>", its secret, the function's name, the subject
// for the reply: one per client, "_VELA.<user>.<queue>.<client>.r.0", so
// that the server routes every reply of a client through one cached
// subject), deadline is a varint of Unix nanoseconds on the caller's
// clock (0: no WithTimeout), runTimeout a varint of nanoseconds (0: none),
// due a varint of Unix nanoseconds before which the task must not start (0:
// at once), attempt a uvarint (1 for the first call), retry the WithRetry
// policy as three varints (MaxAttempts, Backoff, MaxBackoff; all 0 for
// none), and the argument, encoded by the Codec, is the rest. A reply's data is
//
//	status id secret extra result
//
// with a one-byte status, the task's id, its secret and an extra string (a
// panic's value), all three uvarint-length-prefixed, and the rest: the
// encoded result, an error's message or a panic's stack. A cancel is one line per task,
// "<id> <secret>\n".
//
// The secret is known only to the client that sent the task and to the
// workers that received it: a reply or a cancel without it is dropped, so
// a party that can publish on a reply or cancel subject but never received
// the task cannot settle or cancel it.

// taskMagic names the version of the envelope and of the reply: VT3 replies
// name their task in the data (VT2 ones in the subject).
const taskMagic = "VT3"

// taskHead is a task message's envelope.
type taskHead struct {
	id, secret, fn, reply string
	deadline              int64         // Unix nanoseconds; 0 means none
	runTimeout            time.Duration // 0 means none
	due                   int64         // Unix nanoseconds; 0 means at once
	attempt               int           // 1 for the first call
	retry                 retryPolicy
}

// retryPolicy is the part of a workers.RetryPolicy that crosses machines.
type retryPolicy struct {
	maxAttempts         int
	backoff, maxBackoff time.Duration
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeTask returns the data of a task message.
func encodeTask(h *taskHead, arg []byte) []byte {
	b := make([]byte, 0, len(taskMagic)+len(h.id)+len(h.secret)+len(h.fn)+len(h.reply)+40+len(arg))
	b = append(b, taskMagic...)
	b = appendString(b, h.id)
	b = appendString(b, h.secret)
	b = appendString(b, h.fn)
	b = appendString(b, h.reply)
	b = binary.AppendVarint(b, h.deadline)
	b = binary.AppendVarint(b, int64(h.runTimeout))
	b = binary.AppendVarint(b, h.due)
	b = binary.AppendVarint(b, int64(h.attempt))
	b = binary.AppendVarint(b, int64(h.retry.maxAttempts))
	b = binary.AppendVarint(b, int64(h.retry.backoff))
	b = binary.AppendVarint(b, int64(h.retry.maxBackoff))
	return append(b, arg...)
}

// reader reads an envelope; ok turns false at the first malformed field.
type reader struct {
	b  []byte
	ok bool
}

// bytes is str without a copy: the result shares the message's data.
func (r *reader) bytes() []byte {
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)-k) {
		r.ok = false
		return nil
	}
	b := r.b[k : k+int(n) : k+int(n)]
	r.b = r.b[k+int(n):]
	return b
}

func (r *reader) varint() int64 {
	v, k := binary.Varint(r.b)
	if k <= 0 {
		r.ok = false
		return 0
	}
	r.b = r.b[k:]
	return v
}

// decodeTask reads a task message's data; ok is false if it is not one.
func decodeTask(data []byte) (h taskHead, arg []byte, ok bool) {
	if len(data) < len(taskMagic) || string(data[:len(taskMagic)]) != taskMagic {
		return h, nil, false
	}
	// The four strings are located first, then converted with one copy of
	// the part of the envelope that holds them, which they share (measured:
	// one allocation instead of four per task).
	body := data[len(taskMagic):]
	r := reader{b: body, ok: true}
	var at [4][2]int
	for i := range at {
		n := len(r.bytes())
		at[i][1] = len(body) - len(r.b)
		at[i][0] = at[i][1] - n
	}
	if r.ok {
		strs := string(body[:len(body)-len(r.b)])
		h.id, h.secret, h.fn, h.reply = strs[at[0][0]:at[0][1]], strs[at[1][0]:at[1][1]], strs[at[2][0]:at[2][1]], strs[at[3][0]:at[3][1]]
	}
	h.deadline = r.varint()
	h.runTimeout = time.Duration(r.varint())
	h.due = r.varint()
	h.attempt = int(r.varint())
	h.retry.maxAttempts = int(r.varint())
	h.retry.backoff = time.Duration(r.varint())
	h.retry.maxBackoff = time.Duration(r.varint())
	if !r.ok || h.id == "" || h.secret == "" || h.reply == "" || h.runTimeout < 0 || h.attempt < 1 ||
		h.retry.maxAttempts < 0 || h.retry.backoff < 0 || h.retry.maxBackoff < 0 {
		return taskHead{}, nil, false
	}
	return h, r.b, true
}

// A reply's status.
const (
	statusOK        byte = 'o' // rest: the encoded result
	statusError     byte = 'e' // rest: the function's error message
	statusPanic     byte = 'p' // extra: the panic's value; rest: the stack
	statusUnknown   byte = 'u' // no such function
	statusLost      byte = 'l' // a NotIdempotent task delivered again
	statusCodec     byte = 'c' // rest: the codec's error message
	statusTimeout   byte = 't' // the worker saw the WithTimeout deadline pass
	statusRunOver   byte = 'r' // the function overran its WithRunTimeout
	statusRetry     byte = 'R' // extra: the stream sequence of the task's next attempt
	statusRetryFull byte = 'F' // the next attempt was refused by MaxQueued; extra: the failed call's attempt; rest: its error message
)

// encodeReply returns the data of a reply message.
func encodeReply(status byte, id, secret, extra string, rest []byte) []byte {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(id)+len(secret)+len(extra)+len(rest))
	b = append(b, status)
	b = appendString(b, id)
	b = appendString(b, secret)
	b = appendString(b, extra)
	return append(b, rest...)
}

// decodeReply reads a reply message's data; id, secret and extra share it.
func decodeReply(data []byte) (status byte, id, secret, extra, rest []byte, ok bool) {
	if len(data) < 4 {
		return 0, nil, nil, nil, nil, false
	}
	r := reader{b: data[1:], ok: true}
	id = r.bytes()
	secret = r.bytes()
	extra = r.bytes()
	return data[0], id, secret, extra, r.b, r.ok
}

// sameSecret compares two secrets in constant time.
func sameSecret(a, b string) bool {
	return len(a) > 0 && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// sameSecretBytes is sameSecret for a secret read from a message.
func sameSecretBytes(a string, b []byte) bool {
	return len(a) > 0 && subtle.ConstantTimeCompare([]byte(a), b) == 1
}

package remote

import (
	"crypto/subtle"
	"encoding/binary"
	"strconv"
	"strings"
	"time"
)

// The wire format. A task message's data is an envelope, not headers, so
// that neither the server nor the worker parses headers per task (the one
// header, Nats-Msg-Id, is read by the server only):
//
//	"VT4" n secret fn deadline runTimeout due attempt retry argument
//
// where n is a uvarint, the task's number among its client's (n >= 1),
// secret and fn are uvarint-length-prefixed strings (the task's secret and
// the function's name), deadline is a varint of Unix nanoseconds on the
// caller's clock (0: no WithTimeout), runTimeout a varint of nanoseconds
// (0: none), due a varint of Unix nanoseconds before which the task must
// not start (0: at once), attempt a uvarint (1 for the first call), retry
// the WithRetry policy as three varints (MaxAttempts, Backoff,
// MaxBackoff; all 0 for none), and the argument, encoded by the Codec, is
// the rest.
//
// The task's id, "<client>.<n>", and the subject for its reply, one per
// client, "_VELA.<user>.<queue>.<client>.r.0" (so that the server routes
// every reply of a client through one cached subject), are not in the
// envelope: the worker derives them from n and from the subject the task
// came on, "vela.<queue>.tasks.<user>.<client>.<batch>" (see sender), on
// which only that user may publish. So a task cannot name another
// client's id or replies at all, and is about 50 bytes smaller (47 plus
// n's digits for the id and reply subject of a 12-character client id on
// the queue "default", against n's 1 to 3 bytes): every byte is copied by
// the client, the server and the worker, and stored.
// A reply's data is
//
//	status id secret extra result
//
// with a one-byte status, the task's id, its secret and an extra string (a
// panic's value), all three uvarint-length-prefixed, and the rest: the
// encoded result, an error's message or a panic's stack. A cancel is a
// line "<batch> <secret>" or "<batch> <secret> <id>" (cancels.go).
//
// The secret is known only to the client that sent the task and to the
// workers that received it: a reply or a cancel without it is dropped, so
// a party that can publish on a reply or cancel subject but never received
// the task cannot settle or cancel it.

// taskMagic names the version of the envelope and of the reply: VT4
// envelopes carry the task's number instead of its id and no reply subject
// (VT3 ones carried both), VT3 replies name their task in the data (VT2
// ones in the subject).
const taskMagic = "VT4"

// taskHead is a task message's envelope, and what a worker derives from
// the task's subject.
type taskHead struct {
	n          uint64 // the task's number among its client's tasks, >= 1
	secret, fn string
	deadline   int64         // Unix nanoseconds; 0 means none
	runTimeout time.Duration // 0 means none
	due        int64         // Unix nanoseconds; 0 means at once
	attempt    int           // 1 for the first call
	retry      retryPolicy
	// id, "<client>.<n>", reply, "_VELA.<user>.<queue>.<client>.r.0",
	// and key, "<user>.<client>.<n>", are not sent: decodeTask derives
	// them from the sender and n. The id names the task to its client; the
	// key names it among a worker's runs and give-backs, where it must be
	// unique across users (the id is not: a user may name one of its
	// clients like another user's).
	id, reply, key string
}

// sender is the client that sent a task, as the subject it came on,
// "vela.<queue>.tasks.<user>.<client>.<batch>", names it. With Users only
// that user may publish on its subjects, so the user is proven; the
// client is whatever that user chose, and can only be one of its own.
type sender struct {
	user, client string
}

// senderOf reads the sender from the tail of a task subject,
// "<user>.<client>.<batch>"; ok is false if a part is missing or empty.
func senderOf(tail string) (s sender, ok bool) {
	user, rest, ok1 := strings.Cut(tail, ".")
	client, batch, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || user == "" || client == "" || batch == "" {
		return sender{}, false
	}
	return sender{user, client}, true
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

// encodeTask returns the data of a task message (h.id and h.reply are
// not part of it).
func encodeTask(h *taskHead, arg []byte) []byte {
	b := make([]byte, 0, len(taskMagic)+len(h.secret)+len(h.fn)+50+len(arg))
	b = append(b, taskMagic...)
	b = binary.AppendUvarint(b, h.n)
	b = appendString(b, h.secret)
	b = appendString(b, h.fn)
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

// bytes reads a length-prefixed field without a copy: the result shares
// the message's data.
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

func (r *reader) uvarint() uint64 {
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.ok = false
		return 0
	}
	r.b = r.b[k:]
	return v
}

// decodeTask reads the data of a task message that came from sender from
// on the queue queue; ok is false if it is not a task envelope. The
// task's id and reply subject are derived from from and n.
func decodeTask(data []byte, queue string, from sender) (h taskHead, arg []byte, ok bool) {
	if len(data) < len(taskMagic) || string(data[:len(taskMagic)]) != taskMagic {
		return h, nil, false
	}
	r := reader{b: data[len(taskMagic):], ok: true}
	h.n = r.uvarint()
	secret := r.bytes()
	fn := r.bytes()
	h.deadline = r.varint()
	h.runTimeout = time.Duration(r.varint())
	h.due = r.varint()
	h.attempt = int(r.varint())
	h.retry.maxAttempts = int(r.varint())
	h.retry.backoff = time.Duration(r.varint())
	h.retry.maxBackoff = time.Duration(r.varint())
	if !r.ok || h.n == 0 || len(secret) == 0 || from.client == "" || h.runTimeout < 0 || h.attempt < 1 ||
		h.retry.maxAttempts < 0 || h.retry.backoff < 0 || h.retry.maxBackoff < 0 {
		return taskHead{}, nil, false
	}
	// The strings, the secret and function's name from the envelope, the
	// key (and the id within it) and reply subject derived, share one
	// allocation (a strings.Builder's; measured: 1 allocation and 103 ns
	// per task, against 2 and 117 ns for a []byte and its string copy).
	var num [20]byte
	digits := strconv.AppendUint(num[:0], h.n, 10)
	var sb strings.Builder
	sb.Grow(len(secret) + len(fn) + 2*len(from.user) + 2*len(from.client) + len(digits) + len(queue) + 12)
	sb.Write(secret)
	sb.Write(fn)
	keyAt := sb.Len()
	sb.WriteString(from.user)
	sb.WriteByte('.')
	sb.WriteString(from.client)
	sb.WriteByte('.')
	sb.Write(digits)
	replyAt := sb.Len()
	// The reply subject is settings.prefix(client) + "r.0", the subject
	// its Client subscribed (Client.replies), written out here so that it
	// shares the allocation.
	sb.WriteString("_VELA.")
	sb.WriteString(from.user)
	sb.WriteByte('.')
	sb.WriteString(queue)
	sb.WriteByte('.')
	sb.WriteString(from.client)
	sb.WriteString(".r.0")
	strs := sb.String()
	h.secret, h.fn = strs[:len(secret)], strs[len(secret):keyAt]
	h.key, h.reply = strs[keyAt:replyAt], strs[replyAt:]
	h.id = h.key[len(from.user)+1:]
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

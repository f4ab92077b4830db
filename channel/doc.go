// Package channel provides typed channels between goroutines, workers and
// the event loop: Channel<T> of the Vela runtime.
//
// [New] makes a channel and returns its two ends, a [Sender] and a
// [Receiver]. A channel is bounded (capacity > 0, sends wait while it is
// full), a rendezvous (capacity 0, a send completes when a receiver takes
// the value) or unbounded ([Unbounded]). Any number of goroutines may use
// one handle at once; Clone makes more handles on the same end.
//
// What Go's built-in channels cannot do, these do: an event loop takes
// values without blocking ([Sender.SendAsync], [Receiver.RecvAsync],
// [OnEach]); senders learn that every receiver has gone (their sends return
// [ErrClosed]); a producer fails the channel with an error
// ([Sender.CloseWithError]) that receivers get after the buffered values;
// and [Select] mixes channel operations with a context.
//
// The rule every operation keeps: one that reports an error, or whose
// future's Cancel returned true, moved no value; one that reports success
// moved exactly one. Nothing is lost and nothing is received twice.
//
// Cost: one mutex per channel and a ring buffer whose size is a power of
// two (it grows for an unbounded channel and shrinks again once drained).
// A send or receive that does not wait takes the mutex once and allocates
// nothing; one that waits parks on a pooled record.
package channel

package workers

// DefaultBuffer is the capacity of the channel of a Stream or Map given no
// WithBuffer option.
const DefaultBuffer = 64

// WithBuffer sets the capacity of the channel that Stream and Map return:
// n values may wait in it for the consumer before the producer waits. 0
// makes a rendezvous channel (each value waits for a receive); the default
// is DefaultBuffer. A negative n is refused with ErrInvalidArgument,
// through the returned receiver's first receive. Spawn and SpawnAll ignore
// it.
func WithBuffer(n int) Option { return Option{kind: optBuffer, n: n} }

package channel

// ring is a FIFO of values in a slice whose length is a power of two. It
// grows by doubling when full and halves once it is three-quarters empty,
// down to its floor, so an unbounded channel that was drained returns its
// memory. Popped slots are zeroed so the ring keeps no value alive. It is
// guarded by the channel's mutex.
type ring[T any] struct {
	buf   []T // len(buf) is 0 or a power of two
	head  int // index of the oldest value
	n     int // number of values
	floor int // the size the ring does not shrink below
}

func newRing[T any](capacity int) ring[T] {
	floor := 64 // unbounded
	if capacity > 0 {
		// a bounded channel keeps room for its capacity (up to a point), so
		// that filling and draining it does not resize it over and over
		floor = pow2(min(capacity, 4096))
	}
	return ring[T]{floor: floor}
}

// pow2 returns the least power of two >= n, for n >= 1.
func pow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

func (r *ring[T]) len() int { return r.n }

// push adds v at the back.
func (r *ring[T]) push(v T) {
	if r.n == len(r.buf) {
		r.resize(max(2*len(r.buf), r.floor))
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = v
	r.n++
}

// pushFront adds v at the front, before every value in the ring.
func (r *ring[T]) pushFront(v T) {
	if r.n == len(r.buf) {
		r.resize(max(2*len(r.buf), r.floor))
	}
	r.head = (r.head - 1) & (len(r.buf) - 1)
	r.buf[r.head] = v
	r.n++
}

// pop removes and returns the front value; the ring must not be empty.
func (r *ring[T]) pop() T {
	var zero T
	v := r.buf[r.head]
	r.buf[r.head] = zero
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	if size := len(r.buf); size > r.floor && r.n <= size/4 {
		r.resize(size / 2)
	}
	return v
}

// clear drops every value and the ring's memory; it returns how many
// values it dropped.
func (r *ring[T]) clear() int {
	n := r.n
	*r = ring[T]{floor: r.floor}
	return n
}

func (r *ring[T]) resize(size int) {
	buf := make([]T, size)
	if end := r.head + r.n; end <= len(r.buf) {
		copy(buf, r.buf[r.head:end])
	} else {
		first := copy(buf, r.buf[r.head:])
		copy(buf[first:], r.buf[:r.n-first])
	}
	r.buf = buf
	r.head = 0
}

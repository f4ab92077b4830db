// Package fuzzinput turns a fuzzer's bytes into the decisions of the
// model-based fuzz targets of packages async and workers.
package fuzzinput

// Reader hands out the input's bytes one at a time; past the end it reads
// zeros, so every input, however short, describes a whole run.
type Reader struct {
	data []byte
	i    int
}

// New returns a Reader of data.
func New(data []byte) *Reader { return &Reader{data: data} }

// Byte returns the next byte, or 0 past the end.
func (r *Reader) Byte() byte {
	if r.i >= len(r.data) {
		return 0
	}
	b := r.data[r.i]
	r.i++
	return b
}

// Intn returns a number in [0, n) taken from the next byte; n must be
// positive.
func (r *Reader) Intn(n int) int { return int(r.Byte()) % n }

// More reports whether bytes are left.
func (r *Reader) More() bool { return r.i < len(r.data) }

package channel

import "testing"

// TestRingGrowsAndShrinks: an unbounded ring keeps FIFO order across
// wrap-arounds and resizes, and returns its memory once drained.
func TestRingGrowsAndShrinks(t *testing.T) {
	r := newRing[int](Unbounded)
	next, want := 0, 0
	for round := range 5 {
		for range 1000 * (round + 1) {
			r.push(next)
			next++
		}
		if size := len(r.buf); size < r.len() || size&(size-1) != 0 {
			t.Fatalf("size %d for %d values, want a power of two >= it", size, r.len())
		}
		for r.len() > 10 {
			if v := r.pop(); v != want {
				t.Fatalf("pop = %d, want %d", v, want)
			}
			want++
		}
	}
	for r.len() > 0 {
		if v := r.pop(); v != want {
			t.Fatalf("pop = %d, want %d", v, want)
		}
		want++
	}
	if len(r.buf) != r.floor {
		t.Fatalf("drained ring holds %d slots, want its floor %d", len(r.buf), r.floor)
	}
}

func TestRingFloorForSmallCapacity(t *testing.T) {
	r := newRing[int](3)
	for i := range 3 {
		r.push(i)
	}
	if len(r.buf) != 4 {
		t.Fatalf("capacity 3 ring has %d slots, want 4", len(r.buf))
	}
}

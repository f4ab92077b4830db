package fuzzinput_test

import (
	"testing"

	"github.com/velalang/runtime/internal/fuzzinput"
)

func TestReaderReadsThenZeros(t *testing.T) {
	r := fuzzinput.New([]byte{7, 200})
	if !r.More() || r.Byte() != 7 || r.Intn(3) != 200%3 || r.More() {
		t.Fatal("the bytes were not read in order")
	}
	if r.Byte() != 0 || r.Intn(5) != 0 || r.More() {
		t.Error("past the end, want zeros and More() == false")
	}
}

package async

import (
	"fmt"
	"testing"
)

func TestStateString(t *testing.T) {
	for _, tc := range []struct {
		s    State
		want string
	}{
		{Pending, "pending"},
		{Fulfilled, "fulfilled"},
		{Rejected, "rejected"},
		{Cancelled, "cancelled"},
		{State(9), "State(9)"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("State(%d).String() = %q, want %q", uint8(tc.s), got, tc.want)
		}
		if got := fmt.Sprint(tc.s); got != tc.want {
			t.Errorf("fmt.Sprint(State(%d)) = %q, want %q", uint8(tc.s), got, tc.want)
		}
	}
}

func TestStateZeroIsPending(t *testing.T) {
	var s State
	if s != Pending {
		t.Fatalf("zero State = %v, want pending", s)
	}
	if Pending != 0 || Fulfilled != 1 || Rejected != 2 || Cancelled != 3 {
		t.Fatalf("State values = %d %d %d %d, want 0 1 2 3", Pending, Fulfilled, Rejected, Cancelled)
	}
}

package channel_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine is left behind once
// they have all run: every waiting operation is woken by close or by its
// context, and FromSeq's goroutine ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

package workers_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine is left behind once
// they have all run: a pool at rest holds no goroutine, and after Shutdown
// returns none of its workers may be left.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

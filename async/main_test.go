package async_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine is left behind once
// they have all run: nothing in package async may start a goroutine that
// outlives the work it was started for.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

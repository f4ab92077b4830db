package observe_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine is left behind: the
// Observer's sampler stops in Close, the pools are shut down, the servers
// and browsers are stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

package workers

import "context"

// ResetDefaultForTest shuts down the default pool, if it exists, and forgets
// it together with the size ConfigurePool set, so that the next Default or
// ConfigurePool call starts afresh. Tests that touch the default pool
// register it with t.Cleanup (and call it first, too, when they need a pool
// that does not exist yet), so they can run in any order.
//
// It waits for the old pool's tasks to finish; a test that leaves a function
// running which ignores its context hangs here, which go test -timeout
// reports.
func ResetDefaultForTest() {
	defaultPool.mu.Lock()
	p := defaultPool.pool.Swap(nil)
	defaultPool.cfg = Config{}
	defaultPool.mu.Unlock()
	if p != nil {
		_ = p.Shutdown(context.Background())
	}
}

package workers

import "sync"

var defaultPool struct {
	mu   sync.Mutex
	size int   // set by ConfigurePool; 0 means GOMAXPROCS
	pool *Pool // made on first use
}

// ConfigurePool sets the size of the default pool (0 means
// runtime.GOMAXPROCS(0)). It must run before the default pool is first
// used; afterwards it returns ErrPoolInUse and changes nothing (use
// Default().Resize instead). A negative n is an error wrapping
// ErrInvalidArgument. Safe for concurrent use.
func ConfigurePool(maxWorkers int) error {
	if maxWorkers < 0 {
		return invalid("ConfigurePool(%d)", maxWorkers)
	}
	defaultPool.mu.Lock()
	defer defaultPool.mu.Unlock()
	if defaultPool.pool != nil {
		return ErrPoolInUse
	}
	defaultPool.size = maxWorkers
	return nil
}

// Default returns the process-wide default pool, creating it on first use
// with the size given to ConfigurePool, or runtime.GOMAXPROCS(0) workers.
// Every call returns the same pool. Like any pool it holds no goroutine
// while idle, so it never needs closing; closing it makes every later Spawn
// without OnPool fail with ErrPoolClosed.
func Default() *Pool {
	defaultPool.mu.Lock()
	defer defaultPool.mu.Unlock()
	if defaultPool.pool == nil {
		defaultPool.pool, _ = NewPool(Config{MaxWorkers: defaultPool.size})
	}
	return defaultPool.pool
}

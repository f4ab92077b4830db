package workers

import (
	"sync"
	"sync/atomic"
)

var defaultPool struct {
	mu   sync.Mutex
	size int                  // set by ConfigurePool; 0 means GOMAXPROCS
	pool atomic.Pointer[Pool] // made on first use; read without the lock by Spawn
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
	if defaultPool.pool.Load() != nil {
		return ErrPoolInUse
	}
	defaultPool.size = maxWorkers
	return nil
}

// Default returns the process-wide default pool, creating it on first use
// with the size given to ConfigurePool, or runtime.GOMAXPROCS(0) workers.
// Every call returns the same pool; after the first, Default is one atomic
// load. Like any pool it holds no goroutine while idle, so it never needs
// closing; closing it makes every later Spawn without OnPool fail with
// ErrPoolClosed.
func Default() *Pool {
	if p := defaultPool.pool.Load(); p != nil {
		return p
	}
	defaultPool.mu.Lock()
	defer defaultPool.mu.Unlock()
	if p := defaultPool.pool.Load(); p != nil {
		return p
	}
	p, _ := NewPool(Config{MaxWorkers: defaultPool.size})
	defaultPool.pool.Store(p)
	return p
}

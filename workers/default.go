package workers

import (
	"sync"
	"sync/atomic"
)

var defaultPool struct {
	mu   sync.Mutex
	cfg  Config               // set by ConfigurePool or ConfigureDefault
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
	defaultPool.cfg.MaxWorkers = maxWorkers
	return nil
}

// ConfigureDefault is ConfigurePool with the whole Config: an event loop
// that hands work to the default pool may, for example, set IdleTimeout so
// that workers and their grown stacks are reused. Like ConfigurePool it
// must run before the default pool is first used, and returns ErrPoolInUse
// afterwards; an invalid cfg is refused as NewPool refuses it.
func ConfigureDefault(cfg Config) error {
	if _, err := NewPool(cfg); err != nil {
		return err
	}
	defaultPool.mu.Lock()
	defer defaultPool.mu.Unlock()
	if defaultPool.pool.Load() != nil {
		return ErrPoolInUse
	}
	defaultPool.cfg = cfg
	return nil
}

// Default returns the process-wide default pool, creating it on first use
// with the configuration given to ConfigurePool or ConfigureDefault, or
// runtime.GOMAXPROCS(0) workers. Every call returns the same pool; after
// the first, Default is one atomic load. Like any pool it holds no goroutine
// while idle (unless configured with an IdleTimeout), so it never needs
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
	p, _ := NewPool(defaultPool.cfg) // validated when it was set
	defaultPool.pool.Store(p)
	return p
}

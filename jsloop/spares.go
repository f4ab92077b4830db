package jsloop

import (
	"runtime"
	"sync"

	"github.com/dop251/goja"
)

// spares keeps a few worker runtimes prepared ahead of the spawnJS calls
// that will use them: made, with the call-stack hook and the harness and
// clone programs installed, and with the intrinsics a
// call touches first (JSON, arrays, objects, functions) already built, so
// a call finds them warm. Each runtime serves exactly one call and is then
// dropped: preparing runs only our own code, which assigns no global a
// script can see, so a call still starts from the state of a fresh
// runtime. One goroutine, started by the first spawnJS and stopped (and
// waited for) by Close, refills the stock after each call takes one; when
// calls come faster than it, a call prepares its own runtime inline.
type spares struct {
	mu      sync.Mutex
	started bool
	closed  bool
	stock   chan *preparedVM
	kick    chan struct{} // capacity 1: "refill"
	quit    chan struct{}
	done    chan struct{} // closed when the refill goroutine has returned
}

// preparedVM is a worker runtime ready for one spawnJS call.
type preparedVM struct {
	vm      *goja.Runtime
	clone   goja.Callable // the worker's toJSON
	parse   goja.Callable // JSON.parse
	harness goja.Callable
}

// warmModule is a module the preparation runs through the harness, so the
// first call's path is built.
var warmModule = goja.MustCompile("vela:warm", `(function (exports, module) {
exports.f = function (a) { return [a.x, { y: a.y }] };
})`, true)

func prepareVM() (*preparedVM, error) {
	vm := goja.New()
	p := &preparedVM{vm: vm}
	if err := installDepthGuard(vm); err != nil {
		return nil, err
	}
	cloneV, err := vm.RunProgram(workerCloneProgram)
	if err != nil {
		return nil, err
	}
	p.clone, _ = goja.AssertFunction(cloneV)
	p.parse, _ = goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("parse"))
	harnessV, err := vm.RunProgram(workerHarnessProgram)
	if err != nil {
		return nil, err
	}
	p.harness, _ = goja.AssertFunction(harnessV)
	return p, nil
}

// warm runs the harness, JSON and a call once on p's own module, building
// the intrinsics a spawnJS call touches first.
func (p *preparedVM) warm() error {
	modFn, err := p.vm.RunProgram(warmModule)
	if err != nil {
		return err
	}
	res, err := p.harness(goja.Undefined(), modFn, p.vm.ToValue("vela:warm"), p.vm.ToValue("f"), p.vm.ToValue(`[{"x":[1,"a",true,null],"y":2.5}]`), goja.Undefined())
	if err != nil {
		return err
	}
	_, err = p.clone(goja.Undefined(), res)
	return err
}

// take returns a prepared runtime: one from the stock, or one made now.
func (s *spares) take() (*preparedVM, error) {
	s.mu.Lock()
	if !s.started && !s.closed {
		s.start()
	}
	stock, closed := s.stock, s.closed
	s.mu.Unlock()
	if !closed {
		select {
		case p := <-stock:
			select {
			case s.kick <- struct{}{}:
			default:
			}
			return p, nil
		default:
		}
	}
	return prepareVM()
}

// start starts the refill goroutine; called with mu held.
func (s *spares) start() {
	n := runtime.GOMAXPROCS(0)
	s.started = true
	s.stock = make(chan *preparedVM, n)
	s.kick = make(chan struct{}, 1)
	s.quit = make(chan struct{})
	s.done = make(chan struct{})
	s.kick <- struct{}{}
	go s.refill()
}

func (s *spares) refill() {
	defer close(s.done)
	for {
		select {
		case <-s.quit:
			return
		case <-s.kick:
		}
		for len(s.stock) < cap(s.stock) {
			select {
			case <-s.quit:
				return
			default:
			}
			p, err := prepareVM()
			if err == nil {
				err = p.warm()
			}
			if err != nil {
				break // calls prepare their own
			}
			s.stock <- p
		}
	}
}

// close stops the refill goroutine and waits for it; the stock is dropped.
func (s *spares) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	if started {
		close(s.quit)
		<-s.done
	}
}

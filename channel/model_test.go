package channel_test

// A model-based test of package channel through its public API, as a fuzz
// target. The input decodes into a channel (its capacity), a few actor
// goroutines, each with a list of operations on its own Sender and
// Receiver clones (Send, TrySend, SendAsync with or without Cancel, Recv,
// TryRecv, RecvAsync with or without Cancel, Select over a receive and a
// send, Clone, Close of either end, CloseWithError), and an OnEach consumer
// on a loop whose fn may panic and which an actor may cancel. Blocking
// operations carry short deadlines, so they also end by their context.
// Then every end is closed, the rest is drained, and the model checks:
// every value received was accepted (its send reported success), none is
// received twice, every accepted value is received unless every receiver
// left (and then the rest was dropped), each receiver sees each sender's
// values in the order sent (unless an OnEach was stopped and put values
// back while others received), nothing hangs and no goroutine is left.
//
// The seeds in testdata/fuzz/FuzzChannelModel run in every go test;
// TestChannelModelSeedsAreValid rewrites them with MODEL_WRITE_SEEDS=1.

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/channel"
	"github.com/velalang/runtime/internal/fuzzinput"
)

type cop uint8

const (
	cSend cop = iota
	cTrySend
	cSendAsync
	cRecv
	cTryRecv
	cRecvAsync
	cSelect
	cClone
	cCloseSender
	cCloseReceiver
	cCloseWithError
	cCancelEach
	nCOps
)

type cstep struct {
	op     cop
	cancel bool          // SendAsync, RecvAsync: Cancel at once
	wait   time.Duration // blocking operations: the deadline
}

type cmodel struct {
	capacity int
	keepMain bool // the checker keeps a receiver open until the end
	each     bool // an OnEach consumer runs
	panicAt  int  // its fn panics at this value (0: never)
	actors   [][]cstep
}

var errCModel = errors.New("cmodel: failed")

func decodeCModel(data []byte) cmodel {
	r := fuzzinput.New(data)
	m := cmodel{capacity: []int{0, 1, 3, channel.Unbounded}[r.Intn(4)]}
	flags := r.Byte()
	m.keepMain = flags&1 == 0
	m.each = flags&2 != 0
	if flags&4 != 0 {
		m.panicAt = 1 + int(flags>>3)%8
	}
	n := 2 + r.Intn(3)
	m.actors = make([][]cstep, n)
	for i := 0; r.More() && i < 64*n; i++ {
		b := r.Byte()
		s := cstep{op: cop(b % byte(nCOps)), cancel: b&0x80 != 0, wait: time.Duration(r.Intn(4)) * 200 * time.Microsecond}
		m.actors[i%n] = append(m.actors[i%n], s)
	}
	return m
}

type val struct{ sender, seq int }

// crun records what happened.
type crun struct {
	mu       sync.Mutex
	accepted map[val]bool
	received map[val]int
	perRecv  map[int][]val // receiver id → values in the order received
	putBack  bool          // an OnEach was stopped with values possibly put back
}

func (r *crun) accept(v val) { r.mu.Lock(); r.accepted[v] = true; r.mu.Unlock() }
func (r *crun) recv(who int, v val) {
	r.mu.Lock()
	r.received[v]++
	r.perRecv[who] = append(r.perRecv[who], v)
	r.mu.Unlock()
}

func runCModel(t *testing.T, data []byte) {
	m := decodeCModel(data)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run := &crun{accepted: map[val]bool{}, received: map[val]int{}, perRecv: map[int][]val{}}
	tx, rx := channel.New[val](m.capacity)

	// The loop and its OnEach consumer, on their own goroutine.
	var loopDone sync.WaitGroup
	eachFuture := make(chan *async.Future[struct{}], 1)
	if m.each {
		erx := rx.Clone()
		l := async.NewLoop()
		n := 0
		f := channel.OnEach(l, erx, func(v val) {
			n++
			run.recv(-1, v) // handed to fn: received, even if fn panics
			if n == m.panicAt {
				panic("cmodel: fn panics")
			}
		})
		eachFuture <- f
		loopDone.Go(func() {
			defer erx.Close()
			for {
				err := func() (err error) {
					defer func() {
						if p := recover(); p != nil {
							run.mu.Lock()
							run.putBack = true
							run.mu.Unlock()
							err = errors.New("panicked")
						}
					}()
					return l.Run(ctx)
				}()
				if err == nil || ctx.Err() != nil {
					return
				}
			}
		})
	} else {
		eachFuture <- nil
	}
	each := <-eachFuture

	var wg sync.WaitGroup
	for id, steps := range m.actors {
		s, r := tx.Clone(), rx.Clone()
		wg.Go(func() {
			defer func() { s.Close(); r.Close() }()
			seq := 0
			next := func() val { seq++; return val{id, seq} }
			for _, st := range steps {
				opCtx, stop := context.WithTimeout(ctx, st.wait)
				switch st.op {
				case cSend:
					v := next()
					if s.Send(opCtx, v) == nil {
						run.accept(v)
					}
				case cTrySend:
					v := next()
					if s.TrySend(v) == nil {
						run.accept(v)
					}
				case cSendAsync:
					v := next()
					f := s.SendAsync(v)
					if st.cancel && f.Cancel() {
						break
					}
					if _, err := awaitOrCancel(opCtx, ctx, f); err == nil {
						run.accept(v)
					}
				case cRecv:
					if v, err := r.Recv(opCtx); err == nil {
						run.recv(id, v)
					}
				case cTryRecv:
					if v, err := r.TryRecv(); err == nil {
						run.recv(id, v)
					}
				case cRecvAsync:
					f := r.RecvAsync()
					if st.cancel && f.Cancel() {
						break
					}
					if v, err := awaitOrCancel(opCtx, ctx, f); err == nil {
						run.recv(id, v)
					}
				case cSelect:
					var got val
					v := next()
					i, err := channel.Select(opCtx, channel.RecvCase(r, &got), channel.SendCase(s, v))
					switch {
					case err != nil:
					case i == 0:
						run.recv(id, got)
					case i == 1:
						run.accept(v)
					}
				case cClone:
					s2, r2 := s.Clone(), r.Clone()
					s.Close()
					r.Close()
					s, r = s2, r2
				case cCloseSender:
					s.Close()
				case cCloseReceiver:
					r.Close()
				case cCloseWithError:
					s.CloseWithError(errCModel)
				case cCancelEach:
					if each != nil && each.Cancel() {
						run.mu.Lock()
						run.putBack = true
						run.mu.Unlock()
					}
				}
				stop()
			}
		})
	}
	var main *channel.Receiver[val]
	if m.keepMain {
		main = rx.Clone()
	}
	rx.Close()
	tx.Close()
	wg.Wait()
	// Every sender is closed now: drain what is left.
	if main != nil {
		for {
			v, err := main.Recv(ctx)
			if err != nil {
				if ctx.Err() != nil {
					t.Fatalf("final drain hangs: %v", err)
				}
				break
			}
			run.recv(-2, v)
		}
	}
	loopDone.Wait()
	if main != nil {
		main.Close()
	}
	if ctx.Err() != nil {
		t.Fatal("the run hung")
	}

	for v, n := range run.received {
		if n != 1 {
			t.Fatalf("%v received %d times", v, n)
		}
		if !run.accepted[v] {
			t.Fatalf("%v received but its send reported failure", v)
		}
	}
	if main != nil {
		for v := range run.accepted {
			if run.received[v] != 1 {
				t.Fatalf("accepted %v never received; received %v", v, run.perRecv)
			}
		}
	}
	if !run.putBack {
		for who, vs := range run.perRecv {
			last := map[int]int{}
			for _, v := range vs {
				if v.seq <= last[v.sender] {
					t.Fatalf("receiver %d got sender %d's %d after %d", who, v.sender, v.seq, last[v.sender])
				}
				last[v.sender] = v.seq
			}
		}
	}
}

// awaitOrCancel waits for f until opCtx ends, then cancels it; if the
// cancel comes too late (false), f has settled and its outcome counts.
func awaitOrCancel[T any](opCtx, ctx context.Context, f *async.Future[T]) (T, error) {
	f.Await(opCtx)
	if f.Cancel() {
		var zero T
		return zero, async.ErrCancelled
	}
	return f.Await(ctx)
}

func FuzzChannelModel(f *testing.F) {
	f.Fuzz(runCModel)
}

func channelModelSeeds() map[string][]byte {
	b := func(ops ...cop) []byte {
		out := make([]byte, len(ops)*2)
		for i, o := range ops {
			out[2*i] = byte(o)
			out[2*i+1] = byte(i % 4)
		}
		return out
	}
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	return map[string][]byte{
		"rendezvous-send-recv": cat([]byte{0, 0, 0}, b(cSend, cRecv, cSend, cRecv, cSendAsync, cRecvAsync, cTrySend, cTryRecv)),
		"bounded-select-mix": cat([]byte{2, 0, 1}, b(cSelect, cSelect, cSend, cSelect, cRecv, cSelect, cTrySend, cTryRecv,
			cSelect, cSelect, cRecvAsync, cSendAsync)),
		"async-cancels": cat([]byte{1, 0, 0}, []byte{byte(cSendAsync) | 0x80, 1, byte(cRecvAsync) | 0x80, 1,
			byte(cSendAsync) | 0x80, 0, byte(cRecvAsync) | 0x80, 0, byte(cSendAsync), 2, byte(cRecv), 2}),
		"each-and-receivers": cat([]byte{3, 2, 2}, b(cSend, cSend, cRecv, cSend, cSendAsync, cTrySend, cSelect, cRecv,
			cSend, cSend, cSend, cSend)),
		"each-panics-and-is-cancelled": cat([]byte{2, 2 | 4 | 2<<3, 1}, b(cSend, cSend, cSend, cSend, cSend, cSend, cCancelEach,
			cSend, cRecv, cSend, cRecv)),
		"close-with-error-and-clones": cat([]byte{1, 0, 1}, b(cSend, cClone, cSend, cRecv, cCloseWithError, cSend, cRecv,
			cClone, cRecv)),
		"receivers-leave":     cat([]byte{2, 1, 0}, b(cSend, cCloseReceiver, cSend, cCloseReceiver, cSend, cSelect, cSendAsync)),
		"senders-close-early": cat([]byte{0, 0, 1}, b(cCloseSender, cRecv, cSend, cRecvAsync, cCloseSender, cSelect)),
	}
}

func TestChannelModelSeedsAreValid(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzChannelModel")
	for name, data := range channelModelSeeds() {
		if m := decodeCModel(data); len(m.actors[0]) == 0 {
			t.Errorf("seed %s decodes to no operation", name)
		}
		fuzzinput.CheckSeedFile(t, dir, name, data)
	}
}

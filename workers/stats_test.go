package workers_test

// The statistics: every task that enters a pool counts once in Submitted and
// once in one outcome, Rejected counts the calls refused before submission,
// Late and Panicked stay within their bounds (ADR-001, section 10).

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// Bad options on the default pool count in its Stats.Rejected, as a nil
// context does.
func TestStatsBadOptionsCountedOnDefaultPool(t *testing.T) {
	workers.ResetDefaultForTest()
	t.Cleanup(workers.ResetDefaultForTest)
	fn := func(context.Context) (int, error) { return 1, nil }
	before := workers.Default().Stats().Rejected
	for _, f := range []*async.Future[int]{
		workers.Spawn(context.Background(), fn, workers.WithTimeout(-1)),
		workers.Spawn(context.Background(), fn, workers.Option{}),
		workers.Spawn(context.Background(), fn, workers.OnPool(nil)),
		workers.Spawn(nilCtx, fn),
		async.Then(workers.SpawnAll(context.Background(), []func(context.Context) (int, error){fn}, workers.WithTimeout(-1)),
			func([]int) (int, error) { return 0, nil }),
	} {
		if _, err := f.Await(context.Background()); !errors.Is(err, workers.ErrInvalidArgument) {
			t.Errorf("err = %v, want ErrInvalidArgument", err)
		}
	}
	if got := workers.Default().Stats().Rejected - before; got != 5 {
		t.Errorf("Default().Stats().Rejected rose by %d, want 5", got)
	}
}

// A function that calls runtime.Goexit after its future was cancelled has
// its outcome dropped, and counted in Stats.Late like one that returns.
func TestStatsLateGoexitCounted(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1})
	started := make(chan struct{})
	f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		runtime.Goexit()
		return 0, nil
	}, workers.OnPool(p))
	<-started
	f.Cancel()
	shutdown(t, p)
	if s := p.Stats(); s.Late != 1 || s.Cancelled != 1 || s.Failed != 0 {
		t.Errorf("Late=%d Cancelled=%d Failed=%d, want 1, 1, 0", s.Late, s.Cancelled, s.Failed)
	}
}

// Once every future has settled and every function has returned,
// Submitted = Completed + Failed + Cancelled + TimedOut; Rejected counts
// calls refused before submission, apart; Late counts outcomes dropped,
// each of a task already counted as Cancelled or TimedOut.
func TestStatsInvariant(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2, QueueSize: 1000})
	parent, cancel := context.WithCancel(context.Background())
	var fs []*async.Future[int]
	release := make(chan struct{})
	fs = append(fs,
		workers.Spawn(context.Background(), func(context.Context) (int, error) { return 1, nil }, workers.OnPool(p)),
		workers.Spawn(context.Background(), func(context.Context) (int, error) { return 0, errBoom }, workers.OnPool(p)),
		workers.Spawn(context.Background(), func(context.Context) (int, error) { panic("x") }, workers.OnPool(p)),
		workers.Spawn(context.Background(), func(context.Context) (int, error) { runtime.Goexit(); return 0, nil }, workers.OnPool(p)),
		workers.Spawn(context.Background(), func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, nil }, workers.OnPool(p), workers.WithTimeout(time.Millisecond)),
		workers.Spawn(parent, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, nil }, workers.OnPool(p)),
		workers.Spawn(context.Background(), func(context.Context) (int, error) { return 1, nil }, workers.OnPool(p), workers.WithTimeout(-1)),
	)
	fs = append(fs, async.Then(workers.SpawnAll(parent, []func(context.Context) (int, error){
		func(context.Context) (int, error) { return 1, nil },
		func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, nil },
	}, workers.OnPool(p)), func([]int) (int, error) { return 0, nil }))
	// A task cancelled once it runs returns late, whatever the machine's
	// load.
	started := make(chan struct{})
	late := workers.Spawn(context.Background(), func(context.Context) (int, error) { close(started); <-release; return 0, nil }, workers.OnPool(p))
	cancel()
	for _, f := range fs[:4] {
		relSettles(t, f, "task")
	}
	relSettles(t, fs[4], "timed out task")
	<-started
	late.Cancel()
	close(release)
	for _, f := range fs[5:] {
		relSettles(t, f, "task")
	}
	shutdown(t, p)
	s := p.Stats()
	if s.Submitted != s.Completed+s.Failed+s.Cancelled+s.TimedOut {
		t.Errorf("Submitted %d != Completed+Failed+Cancelled+TimedOut %d (%+v)", s.Submitted, s.Completed+s.Failed+s.Cancelled+s.TimedOut, s)
	}
	if s.Rejected != 1 || s.TimedOut != 1 || s.Late < 1 || s.Late > s.Cancelled+s.TimedOut {
		t.Errorf("Rejected=%d TimedOut=%d Late=%d Cancelled=%d, want 1, 1, 1..Cancelled+TimedOut", s.Rejected, s.TimedOut, s.Late, s.Cancelled)
	}
}

package workers_test

// The context a task function receives: its deadline, its error and cause,
// the parent's values, contexts derived from it, nothing beyond
// context.Context that a type assertion could reach, and the pprof labels
// that name the worker and the task.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// Deadline reports the earlier of the task's own deadline (Spawn plus its
// timeout) and the parent's, and nothing when there is neither.
func TestContextDeadline(t *testing.T) {
	cases := []struct {
		name        string
		parent, own time.Duration // 0: none
		want        time.Duration // 0: no deadline
	}{
		{"none", 0, 0, 0},
		{"own", 0, 5 * time.Second, 5 * time.Second},
		{"parent", 10 * time.Second, 0, 10 * time.Second},
		{"parent earlier", time.Second, 5 * time.Second, time.Second},
		{"own earlier", 10 * time.Second, 5 * time.Second, 5 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newPool(t, workers.Config{MaxWorkers: 1})
				start := time.Now()
				parent := context.Background()
				if c.parent > 0 {
					var cancel context.CancelFunc
					parent, cancel = context.WithTimeout(parent, c.parent)
					defer cancel()
				}
				type dl struct {
					at time.Time
					ok bool
				}
				f := workers.Spawn(parent, func(ctx context.Context) (dl, error) {
					at, ok := ctx.Deadline()
					return dl{at, ok}, nil
				}, workers.OnPool(p), workers.WithTimeout(c.own))
				got, err := await(f)
				if err != nil {
					t.Fatal(err)
				}
				if c.want == 0 {
					if got.ok {
						t.Errorf("Deadline() = %v, true; want none", got.at)
					}
				} else if !got.ok || !got.at.Equal(start.Add(c.want)) {
					t.Errorf("Deadline() = %v, %v; want %v, true", got.at, got.ok, start.Add(c.want))
				}
				synctest.Wait()
				shutdown(t, p)
			})
		})
	}
}

// The task's context carries the parent's values, before and after it
// ends, and the "worker" label.
func TestContextCarriesParentValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		parent := context.WithValue(context.Background(), ctxKey{}, "request-7")
		type seen struct{ before, after any }
		out := make(chan seen, 1)
		f := workers.Spawn(parent, func(ctx context.Context) (int, error) {
			var s seen
			s.before = ctx.Value(ctxKey{})
			<-ctx.Done()
			s.after = ctx.Value(ctxKey{})
			out <- s
			return 0, nil
		}, workers.OnPool(p))
		synctest.Wait()
		f.Cancel()
		s := <-out
		if s.before != "request-7" || s.after != "request-7" {
			t.Errorf("ctx.Value(key) = %v before the end, %v after; want request-7 both times", s.before, s.after)
		}
		synctest.Wait()
		shutdown(t, p)
	})
}

// Contexts derived from the task's context end with it, carry its cause,
// and deriving them starts no goroutine (the task context implements
// AfterFunc, so package context needs no watcher goroutine).
func TestContextDerivedContextsEndWithTask(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1})
	defer shutdown(t, p)
	const n = 100
	type seen struct {
		goroutines    int // goroutines started while deriving n contexts of each kind
		errs          []error
		causes        []error
		afterFuncRan  bool
		derivedLate   error // Err of a context derived after the task's ended
		stopAfterDone bool
	}
	out := make(chan seen, 1)
	started := make(chan struct{})
	f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
		var s seen
		before := runtime.NumGoroutine()
		var derived []context.Context
		var cancels []func()
		for range n {
			c1, cancel1 := context.WithCancel(ctx)
			c2, cancel2 := context.WithTimeout(ctx, time.Hour)
			c3, cancel3 := context.WithCancelCause(ctx)
			derived = append(derived, c1, c2, c3)
			cancels = append(cancels, cancel1, cancel2, func() { cancel3(nil) })
		}
		afterRan := make(chan struct{})
		stop := context.AfterFunc(ctx, func() { close(afterRan) })
		s.goroutines = runtime.NumGoroutine() - before
		close(started)

		<-ctx.Done()
		for _, d := range derived {
			<-d.Done()
			s.errs = append(s.errs, d.Err())
			s.causes = append(s.causes, context.Cause(d))
		}
		<-afterRan
		s.afterFuncRan = true
		s.stopAfterDone = stop()
		late, cancelLate := context.WithCancel(ctx)
		s.derivedLate = late.Err()
		cancelLate()
		for _, c := range cancels {
			c()
		}
		out <- s
		return 0, nil
	}, workers.OnPool(p), workers.WithName("derive"))
	<-started
	f.Cancel()
	s := <-out
	// A watcher goroutine per derived context would add 3n; allow for
	// unrelated goroutines of the test binary coming and going.
	if s.goroutines > n/2 {
		t.Errorf("deriving %d contexts from the task's started %d goroutines, want none", 3*n, s.goroutines)
	}
	for i, err := range s.errs {
		if err != context.Canceled {
			t.Errorf("derived context %d: Err() = %v, want context.Canceled", i, err)
			break
		}
	}
	for i, c := range s.causes {
		if !errors.Is(c, async.ErrCancelled) {
			t.Errorf("derived context %d: Cause = %v, want it to reach async.ErrCancelled", i, c)
			break
		}
	}
	if !s.afterFuncRan || s.stopAfterDone {
		t.Errorf("context.AfterFunc on the task context: ran = %v, stop() after = %v; want true, false", s.afterFuncRan, s.stopAfterDone)
	}
	if s.derivedLate != context.Canceled {
		t.Errorf("a context derived after the task's ended: Err() = %v, want context.Canceled", s.derivedLate)
	}
}

// A context derived from the task's and cancelled by its own cancel
// function does not disturb the task; context.AfterFunc's stop works before
// the task's context ends; and contexts derived from a task that completed
// leak nothing (checked by goleak in TestMain).
func TestContextDerivedCancelAndStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		f := workers.Spawn(context.Background(), func(ctx context.Context) (bool, error) {
			child, cancel := context.WithCancel(ctx)
			cancel()
			<-child.Done()
			ran := false
			stop := context.AfterFunc(ctx, func() { ran = true })
			if !stop() {
				return false, errors.New("stop() before the context ended = false")
			}
			if stop() {
				return false, errors.New("second stop() = true")
			}
			return ctx.Err() == nil && !ran, nil
		}, workers.OnPool(p))
		live, err := await(f)
		if err != nil || !live {
			t.Errorf("task = %v, %v; want its context live after a derived one was cancelled", live, err)
		}
		synctest.Wait()
		shutdown(t, p)
	})
}

// The context a task function receives obeys the context.Context contract:
// once Err returns non-nil, Done is closed, and Err never changes again.
// Here the parent is cancelled while the function polls Err.
func TestContextErrImpliesDone(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2})
	defer shutdown(t, p)
	const rounds = 200
	violations := 0
	for range rounds {
		violations += errDoneViolation(t, p)
	}
	if violations > 0 {
		libraryBug(t, "in %d of %d rounds, a task's ctx.Err() was non-nil while ctx.Done() was still open "+
			"(parent cancelled; taskBase.Err falls through to parent.Err() before the context.AfterFunc "+
			"goroutine has run cancelContext)", violations, rounds)
	}
}

// errDoneViolation runs one task whose parent is cancelled while it
// polls Err, and reports 1 if it saw Err non-nil with Done open.
func errDoneViolation(t testing.TB, p *workers.Pool) int {
	t.Helper()
	parent, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	result := make(chan bool, 1)
	f := workers.Spawn(parent, func(ctx context.Context) (int, error) {
		close(started)
		for ctx.Err() == nil {
			runtime.Gosched()
		}
		select {
		case <-ctx.Done():
			result <- true
		default:
			result <- false
		}
		return 0, nil
	}, workers.OnPool(p))
	<-started
	cancel()
	ok := <-result
	await(f)
	if !ok {
		return 1
	}
	return 0
}

// When the parent's deadline passes, the task's context reports
// context.DeadlineExceeded, as any context derived from the parent would,
// and keeps reporting it; its future is cancelled with an error that
// reaches DeadlineExceeded.
func TestContextParentDeadlineErr(t *testing.T) {
	var bug string // set inside the bubble, reported outside it
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		parent, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		type seen struct{ first, later, cause error }
		out := make(chan seen, 1)
		f := workers.Spawn(parent, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			var s seen
			s.first = ctx.Err()
			time.Sleep(time.Millisecond)
			s.later = ctx.Err()
			s.cause = context.Cause(ctx)
			out <- s
			return 0, nil
		}, workers.OnPool(p))
		_, err := await(f)
		wantState(t, f, async.Cancelled)
		wantCancelled(t, err, context.DeadlineExceeded)
		s := <-out
		if s.first != s.later {
			t.Errorf("ctx.Err() changed from %v to %v", s.first, s.later)
		}
		if !errors.Is(s.cause, context.DeadlineExceeded) {
			t.Errorf("context.Cause(ctx) = %v, want it to reach DeadlineExceeded", s.cause)
		}
		synctest.Wait()
		shutdown(t, p)
		if s.later != context.DeadlineExceeded {
			bug = fmt.Sprintf("after the parent's deadline passed, the task's ctx.Err() = %v (first %v), want "+
				"context.DeadlineExceeded like any context derived from the parent (taskBase.abort must end the "+
				"context with the parent's own Err once the parent has ended)", s.later, s.first)
		}
	})
	if bug != "" {
		libraryBug(t, "%s", bug)
	}
}

// When the parent is cancelled, the task's context cause reaches both the
// parent's cause and async.ErrCancelled, like the future's error.
func TestContextParentCancelCause(t *testing.T) {
	var bug string // set inside the bubble, reported outside it
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		errStop := errors.New("stop requested")
		parent, cancel := context.WithCancelCause(context.Background())
		causes := make(chan error, 1)
		started := make(chan struct{})
		f := workers.Spawn(parent, func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return 0, nil
		}, workers.OnPool(p))
		<-started
		cancel(errStop)
		_, err := await(f)
		wantCancelled(t, err, errStop)
		cause := <-causes
		if !errors.Is(cause, errStop) {
			t.Errorf("context.Cause(ctx) = %v, want it to reach the parent's cause", cause)
		}
		synctest.Wait()
		shutdown(t, p)
		if !errors.Is(cause, async.ErrCancelled) {
			bug = fmt.Sprintf("after the parent is cancelled, context.Cause(taskCtx) = %q, which does not reach "+
				"async.ErrCancelled, while the future's error %q does (cancelContext builds its inner context "+
				"with context.WithCancelCause(b.parent) after the parent has ended, so the inner context takes "+
				"the parent's cause and the cause given to cancel is ignored)", cause, err)
		}
	})
	if bug != "" {
		libraryBug(t, "%s", bug)
	}
}

// ctx.Value races with the context being cancelled from another goroutine
// without panicking (a task with no name, no timeout and a Background
// parent has no extra state until it is cancelled).
func TestContextValueRacesWithCancel(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 2})
	defer shutdown(t, p)
	const rounds = 300
	var panics atomic.Int32
	var first atomic.Value
	for range rounds {
		started := make(chan struct{})
		f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
			defer func() {
				if r := recover(); r != nil {
					panics.Add(1)
					first.CompareAndSwap(nil, r)
				}
			}()
			close(started)
			for ctx.Err() == nil {
				_ = ctx.Value(ctxKey{})
			}
			_ = ctx.Value(ctxKey{})
			return 0, nil
		}, workers.OnPool(p))
		<-started
		f.Cancel()
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := panics.Load(); n > 0 {
		libraryBug(t, "ctx.Value panicked in %d of %d rounds when the task was cancelled concurrently: %v "+
			"(taskBase.Value loads b.extra before ctxState; if extra was nil then and cancelContext has "+
			"since created it and set ctxState, Value dereferences the nil extra)", n, rounds, first.Load())
	}
}

// The context a function receives offers nothing beyond context.Context
// (and AfterFunc, which package context looks for, and String): no type
// assertion reaches the pool's machinery through it.
func TestTaskContextHasNoExtraMethods(t *testing.T) {
	allowed := map[string]bool{"Deadline": true, "Done": true, "Err": true, "Value": true, "AfterFunc": true, "String": true}
	check := func(ctx context.Context) (int, error) {
		ty := reflect.TypeOf(ctx)
		for i := range ty.NumMethod() {
			if m := ty.Method(i).Name; !allowed[m] {
				t.Errorf("the task context (%v) has method %s", ty, m)
			}
		}
		return 0, nil
	}
	p := newPool(t, workers.Config{})
	defer shutdown(t, p)
	opts := [][]workers.Option{{workers.OnPool(p)}, {workers.OnPool(p), workers.WithTimeout(time.Hour), workers.WithName("n")}}
	for _, o := range opts {
		if _, err := await(workers.Spawn(context.Background(), check, o...)); err != nil {
			t.Fatal(err)
		}
		if _, err := await(workers.SpawnAll(context.Background(), []func(context.Context) (int, error){check}, o...)); err != nil {
			t.Fatal(err)
		}
	}
}

// A task reads its worker's name and its own from pprof labels on its
// context; an unnamed task has no "task" label, also after a named one on
// the same worker.
func TestLabelsWorkerAndTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		label := func(ctx context.Context) ([2]string, error) {
			w, n := pprofLabels(ctx)
			return [2]string{w, n}, nil
		}
		named := workers.Spawn(context.Background(), label, workers.OnPool(p), workers.WithName("resize"))
		unnamed := workers.Spawn(context.Background(), label, workers.OnPool(p))
		if got, _ := await(named); got != [2]string{"vela-worker-1", "resize"} {
			t.Errorf("named task: worker, task = %q, want vela-worker-1, resize", got)
		}
		if got, _ := await(unnamed); got != [2]string{"vela-worker-1", ""} {
			t.Errorf("unnamed task after a named one: worker, task = %q, want vela-worker-1 and no task label", got)
		}
		synctest.Wait()
		shutdown(t, p)
	})
}

// Config.Name prefixes the workers' names; concurrent tasks run on
// distinct workers numbered from 1, and a worker slot freed at rest is
// reused rather than a new name made (which one is not specified).
func TestLabelsCustomPrefixAndNumbering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 3, Name: "img"})
		var names []string
		var mu sync.Mutex
		var fs []*async.Future[int]
		for range 3 {
			fs = append(fs, workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
				w, _ := pprofLabels(ctx)
				mu.Lock()
				names = append(names, w)
				mu.Unlock()
				time.Sleep(time.Second) // all three at once
				return 0, nil
			}, workers.OnPool(p)))
		}
		for _, f := range fs {
			await(f)
		}
		slices.Sort(names)
		if want := []string{"img-1", "img-2", "img-3"}; !slices.Equal(names, want) {
			t.Errorf("workers = %v, want %v", names, want)
		}
		synctest.Wait()
		if w := p.Stats().Workers; w != 0 {
			t.Fatalf("Workers = %d at rest, want 0", w)
		}
		again, _ := await(workers.Spawn(context.Background(), func(ctx context.Context) (string, error) {
			w, _ := pprofLabels(ctx)
			return w, nil
		}, workers.OnPool(p)))
		if !slices.Contains(names, again) {
			t.Errorf("first task after the pool came to rest ran on %q, want one of the freed slots %v", again, names)
		}
		synctest.Wait()
		shutdown(t, p)
	})
}

// Labels of the parent context are kept, and the pool's own "worker" and
// "task" labels win over the parent's.
func TestLabelsParentLabelsKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPool(t, workers.Config{MaxWorkers: 1})
		parent := pprof.WithLabels(context.Background(), pprof.Labels("request", "42", "worker", "impostor", "task", "impostor"))
		for _, name := range []string{"", "encode"} {
			opts := []workers.Option{workers.OnPool(p)}
			if name != "" {
				opts = append(opts, workers.WithName(name))
			}
			got, err := await(workers.Spawn(parent, func(ctx context.Context) ([3]string, error) {
				req, _ := pprof.Label(ctx, "request")
				w, n := pprofLabels(ctx)
				return [3]string{req, w, n}, nil
			}, opts...))
			want := [3]string{"42", "vela-worker-1", name}
			if err != nil || got != want {
				t.Errorf("WithName(%q): request, worker, task = %q, %v; want %q", name, got, err, want)
			}
		}
		synctest.Wait()
		shutdown(t, p)
	})
}

// The labels are on the worker goroutine itself, so CPU and goroutine
// profiles show them: a goroutine profile taken while the task runs lists
// a goroutine labelled with the worker, the task and the parent's labels.
func TestLabelsInGoroutineProfile(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1, Name: "profiled"})
	defer shutdown(t, p)
	parent := pprof.WithLabels(context.Background(), pprof.Labels("request", "42"))
	f := workers.Spawn(parent, func(ctx context.Context) (string, error) {
		var buf bytes.Buffer
		if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
			return "", err
		}
		for line := range strings.Lines(buf.String()) {
			if strings.HasPrefix(line, "# labels:") && strings.Contains(line, `"worker":"profiled-1"`) {
				return line, nil
			}
		}
		return "", nil
	}, workers.OnPool(p), workers.WithName("snapshot"))
	line, err := await(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"worker":"profiled-1"`, `"task":"snapshot"`, `"request":"42"`} {
		if !strings.Contains(line, want) {
			t.Errorf("goroutine profile labels %q lack %s", strings.TrimSpace(line), want)
		}
	}
}

// Once the task's Done channel is closed, Err and Cause report why at
// once, to a function woken by Done while the cancel is still under way.
func TestContextErrOnceDone(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1})
	defer shutdown(t, p)
	for i := range 2000 {
		bad := make(chan string, 1)
		started := make(chan struct{})
		f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			if ctx.Err() == nil || context.Cause(ctx) == nil {
				bad <- fmt.Sprintf("Err() = %v, Cause = %v", ctx.Err(), context.Cause(ctx))
			}
			close(bad)
			return 0, nil
		}, workers.OnPool(p))
		<-started
		f.Cancel()
		if msg := <-bad; msg != "" {
			t.Fatalf("iteration %d: Done() is closed but %s", i, msg)
		}
	}
}

// The task's context must not report an error before its Done channel is
// closed (the context.Context contract), even while a cancel is under way.
func TestContextErrNotBeforeDone(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1})
	defer shutdown(t, p)
	n := 5000
	if testing.Short() {
		n = 500
	}
	for i := range n {
		started := make(chan struct{})
		bad := make(chan bool, 1)
		f := workers.Spawn(context.Background(), func(ctx context.Context) (int, error) {
			done := ctx.Done() // made before the cancel, so that the cancel closes it
			close(started)
			for ctx.Err() == nil {
				runtime.Gosched()
			}
			select {
			case <-done:
				bad <- false
			default:
				bad <- true
			}
			return 0, nil
		}, workers.OnPool(p))
		<-started
		f.Cancel()
		if <-bad {
			t.Fatalf("iteration %d: ctx.Err() != nil while ctx.Done() is still open", i)
		}
	}
}

package workers_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/workers"
)

// flaky returns a function that fails its first fails calls, then returns
// v; calls counts them all.
func flaky(fails int, v int, calls *atomic.Int32) func(context.Context) (int, error) {
	var n atomic.Int32
	return func(context.Context) (int, error) {
		calls.Add(1)
		if int(n.Add(1)) <= fails {
			return 0, &codeError{Code: int(n.Load())}
		}
		return v, nil
	}
}

// SpawnAll with WithRetry retries each task on its own: while one waits
// to retry it holds no worker, and the others run; the batch succeeds if
// every task does within its attempts.
func TestSpawnAllRetriesEachTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 1)
		var calls atomic.Int32
		fns := []func(context.Context) (int, error){flaky(2, 0, &calls), flaky(0, 1, &calls), flaky(1, 2, &calls), flaky(0, 3, &calls)}
		f := workers.SpawnAll(context.Background(), fns, workers.OnPool(p), workers.WithName("part"),
			workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3, Backoff: time.Minute, MaxBackoff: time.Minute}))
		synctest.Wait()
		// Task 0 and task 2 failed once and wait; 1 and 3 ran meanwhile.
		var retrying int
		for _, ti := range p.Tasks() {
			if ti.State == workers.TaskRetrying {
				retrying++
				if ti.Attempt != 1 || ti.Name != "part" || ti.Waiting != 1 {
					t.Errorf("waiting task %+v, want attempt 1, named part", ti)
				}
			}
		}
		if s := p.Stats(); retrying != 2 || s.Active != 0 || s.Queued != 2 || calls.Load() != 4 {
			t.Errorf("during the waits: %d retrying, Stats %+v, %d calls; want 2 retrying, none active, 2 queued, 4 calls", retrying, s, calls.Load())
		}
		vs, err := await(f)
		if err != nil || vs[0] != 0 || vs[1] != 1 || vs[2] != 2 || vs[3] != 3 {
			t.Fatalf("SpawnAll = %v, %v; want [0 1 2 3]", vs, err)
		}
		if s := p.Stats(); s.Retried != 3 || s.Completed != 4 || s.Submitted != 4 || calls.Load() != 7 {
			t.Errorf("Stats %+v after %d calls: want Retried 3, Completed 4, 7 calls", s, calls.Load())
		}
	})
}

// The batch fails fast only on a task's final failure, with that call's
// error; the tasks waiting to retry then are cancelled, never called.
func TestSpawnAllRetryFinalFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 2)
		var calls, waiting atomic.Int32
		fns := []func(context.Context) (int, error){
			flaky(5, 0, &calls),
			func(ctx context.Context) (int, error) { waiting.Add(1); <-ctx.Done(); return 0, ctx.Err() },
		}
		retry := workers.RetryPolicy{MaxAttempts: 2, Backoff: time.Second, MaxBackoff: time.Second,
			Retryable: func(err error) bool { return true }}
		f := workers.SpawnAll(context.Background(), fns, workers.OnPool(p), workers.WithRetry(retry))
		_, err := await(f)
		var te *workers.TaskError
		var ce *codeError
		if !errors.As(err, &te) || te.Index != 0 || !errors.As(err, &ce) || ce.Code != 2 {
			t.Fatalf("SpawnAll = %v, want task 0's second error", err)
		}
		synctest.Wait()
		time.Sleep(time.Hour)
		s := p.Stats()
		if calls.Load() != 2 || s.Failed != 1 || s.Cancelled != 1 || waiting.Load() != 1 {
			t.Errorf("%d calls of task 0, Stats %+v: want 2 calls, task 0 Failed, task 1 Cancelled", calls.Load(), s)
		}
	})
}

// Cancelling a batch while a task waits to retry settles it at once; the
// retry is never made.
func TestSpawnAllRetryCancelDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 1)
		var calls atomic.Int32
		fns := []func(context.Context) (int, error){flaky(5, 0, &calls), flaky(5, 0, &calls)}
		f := workers.SpawnAllSettled(context.Background(), fns, workers.OnPool(p),
			workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3, Backoff: time.Minute, MaxBackoff: time.Minute}))
		synctest.Wait()
		if n := p.CancelAll(); n != 2 {
			t.Errorf("CancelAll() = %d, want 2 (both tasks wait to retry)", n)
		}
		wantState(t, f, async.Cancelled)
		time.Sleep(time.Hour)
		if s := p.Stats(); calls.Load() != 2 || s.Cancelled != 2 || s.Queued != 0 || s.Retried != 0 {
			t.Errorf("%d calls, Stats %+v: want 2 calls, Cancelled 2, Queued 0, Retried 0", calls.Load(), s)
		}
	})
}

// SpawnAllSettled with WithRetry keeps each task's final outcome: the value
// of the call that succeeded, or the last call's error.
func TestSpawnAllSettledRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 2)
		var calls atomic.Int32
		fns := []func(context.Context) (int, error){flaky(1, 10, &calls), flaky(9, 0, &calls), flaky(0, 30, &calls)}
		rs, err := await(workers.SpawnAllSettled(context.Background(), fns, workers.OnPool(p),
			workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3})))
		var ce *codeError
		if err != nil || rs[0].Value != 10 || rs[0].Err != nil || !errors.As(rs[1].Err, &ce) || ce.Code != 3 || rs[2].Value != 30 {
			t.Fatalf("SpawnAllSettled = %+v, %v; want 10, task 1's third error, 30", rs, err)
		}
		if s := p.Stats(); s.Retried != 3 || s.Completed != 2 || s.Failed != 1 {
			t.Errorf("Stats %+v: want Retried 3, Completed 2, Failed 1", s)
		}
	})
}

// A batch's call that runs past its run timeout is retried: its own
// context ends (DeadlineExceeded, the *TimeoutError as cause) while its
// siblings' does not, and the retry gets a live one.
func TestSpawnAllRetryAfterRunTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := scopedPool(t, 2)
		var calls atomic.Int32
		fns := []func(context.Context) (int, error){
			func(ctx context.Context) (int, error) {
				if calls.Add(1) == 1 {
					<-ctx.Done()
					if ctx.Err() != context.DeadlineExceeded || !errors.Is(context.Cause(ctx), workers.ErrTimeout) {
						t.Errorf("overran call: Err %v, Cause %v", ctx.Err(), context.Cause(ctx))
					}
					return 0, nil
				}
				if ctx.Err() != nil {
					t.Errorf("retry's context: %v, want live", ctx.Err())
				}
				return 1, nil
			},
			func(context.Context) (int, error) { time.Sleep(100 * time.Millisecond); return 2, nil },
			func(ctx context.Context) (int, error) {
				// Started after task 1, it runs past task 0's run timeout
				// but within its own.
				time.Sleep(950 * time.Millisecond)
				if ctx.Err() != nil {
					t.Errorf("sibling's context ended: %v", ctx.Err())
				}
				return 3, nil
			},
		}
		vs, err := await(workers.SpawnAll(context.Background(), fns, workers.OnPool(p), workers.WithRunTimeout(time.Second),
			workers.WithRetry(workers.RetryPolicy{MaxAttempts: 2})))
		if err != nil || vs[0] != 1 || vs[1] != 2 || vs[2] != 3 {
			t.Fatalf("SpawnAll = %v, %v; want [1 2 3]", vs, err)
		}
	})
}

// OnTaskDone fires once per task with its final outcome and the number of
// its last call, however many calls it took; OnTaskStart fires per call.
func TestRetryTaskRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var done []workers.TaskRecord
		var starts atomic.Int32
		p := newPool(t, workers.Config{MaxWorkers: 2,
			OnTaskStart: func(ctx context.Context, r workers.TaskRecord) context.Context { starts.Add(1); return ctx },
			OnTaskDone: func(r workers.TaskRecord) {
				mu.Lock()
				done = append(done, r)
				mu.Unlock()
			}})
		retry := workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3, Backoff: time.Second, MaxBackoff: time.Second})
		var calls atomic.Int32
		if _, err := await(workers.Spawn(context.Background(), flaky(2, 1, &calls), workers.OnPool(p), retry)); err != nil {
			t.Fatal(err)
		}
		if _, err := await(workers.SpawnAll(context.Background(), []func(context.Context) (int, error){flaky(1, 1, &calls), flaky(0, 2, &calls)}, workers.OnPool(p), retry)); err != nil {
			t.Fatal(err)
		}
		f := workers.Spawn(context.Background(), flaky(9, 0, &calls), workers.OnPool(p), retry)
		synctest.Wait()
		f.Cancel()
		shutdown(t, p)
		mu.Lock()
		defer mu.Unlock()
		if len(done) != 4 || starts.Load() != 7 {
			t.Fatalf("%d OnTaskDone records, %d OnTaskStart calls; want 4 and 7: %+v", len(done), starts.Load(), done)
		}
		byID := map[uint64]workers.TaskRecord{}
		for _, r := range done {
			byID[r.ID] = r
		}
		for id, want := range map[uint64]struct {
			attempt int
			outcome workers.Outcome
		}{1: {3, workers.Completed}, 2: {2, workers.Completed}, 3: {1, workers.Completed}, 4: {1, workers.Cancelled}} {
			if r := byID[id]; r.Attempt != want.attempt || r.Outcome != want.outcome {
				t.Errorf("record of task %d: Attempt %d, %v; want %d, %v", id, r.Attempt, r.Outcome, want.attempt, want.outcome)
			}
		}
	})
}

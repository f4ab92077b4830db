package workers_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/velalang/runtime/workers"
)

// ReadOptions reports the retry policy and the delay as given, so that
// another backend honours them, and refuses what makes no sense.
func TestReadOptionsRetryAndDelay(t *testing.T) {
	retryable := func(error) bool { return true }
	s, err := workers.ReadOptions(workers.WithRetry(workers.RetryPolicy{MaxAttempts: 3, Backoff: time.Second,
		MaxBackoff: time.Minute, Retryable: retryable}), workers.WithDelay(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	r := s.Retry
	if r.MaxAttempts != 3 || r.Backoff != time.Second || r.MaxBackoff != time.Minute || r.Retryable == nil || s.Delay != 5*time.Second {
		t.Fatalf("ReadOptions = %+v, want the policy and the delay as given", s)
	}
	if s, err := workers.ReadOptions(); err != nil || s.Retry.MaxAttempts != 0 || s.Delay != 0 {
		t.Fatalf("ReadOptions() = %+v, %v; want no retry and no delay", s, err)
	}

	for _, bad := range []struct {
		name string
		opt  workers.Option
	}{
		{"negative attempts", workers.WithRetry(workers.RetryPolicy{MaxAttempts: -1})},
		{"negative backoff", workers.WithRetry(workers.RetryPolicy{MaxAttempts: 2, Backoff: -time.Second})},
		{"negative max backoff", workers.WithRetry(workers.RetryPolicy{MaxAttempts: 2, MaxBackoff: -time.Second})},
		{"max below backoff", workers.WithRetry(workers.RetryPolicy{MaxAttempts: 2, Backoff: time.Second, MaxBackoff: time.Millisecond})},
		{"backoff above the default max", workers.WithRetry(workers.RetryPolicy{MaxAttempts: 2, Backoff: time.Minute})},
		{"max below the default backoff", workers.WithRetry(workers.RetryPolicy{MaxAttempts: 2, MaxBackoff: time.Millisecond})},
		{"negative delay", workers.WithDelay(-time.Nanosecond)},
	} {
		if _, err := workers.ReadOptions(bad.opt); !errors.Is(err, workers.ErrInvalidArgument) {
			t.Errorf("%s: ReadOptions error %v, want ErrInvalidArgument", bad.name, err)
		}
		p := newPool(t, workers.Config{MaxWorkers: 1})
		f := workers.Spawn(context.Background(), returns(1), workers.OnPool(p), bad.opt)
		wantRejectedAtOnce(t, f, workers.ErrInvalidArgument)
		g := workers.SpawnAll(context.Background(), []func(context.Context) (int, error){returns(1)}, workers.OnPool(p), bad.opt)
		wantRejectedAtOnce(t, g, workers.ErrInvalidArgument)
		if s := p.Stats(); s.Rejected != 2 || s.Submitted != 0 {
			t.Errorf("%s: Rejected %d, Submitted %d; want 2 and 0", bad.name, s.Rejected, s.Submitted)
		}
	}
}

// A policy of one call in all, or a zero delay, asks for nothing: Spawn
// runs the task as if they were not given.
func TestRetryOfOneAttemptIsNoRetry(t *testing.T) {
	p := newPool(t, workers.Config{MaxWorkers: 1})
	for _, opt := range []workers.Option{workers.WithRetry(workers.RetryPolicy{}), workers.WithRetry(workers.RetryPolicy{MaxAttempts: 1}), workers.WithDelay(0)} {
		if v, err := await(workers.Spawn(context.Background(), returns(7), workers.OnPool(p), opt)); v != 7 || err != nil {
			t.Errorf("Spawn with %+v = %v, %v; want 7, nil", opt, v, err)
		}
	}
}

// Next applies a policy's rules: the number of calls, Permanent,
// Retryable (a panic in it is a no), and waits that double up to the bound,
// each drawn from (0, bound].
func TestRetryPolicyNext(t *testing.T) {
	boom := errors.New("boom")
	p := workers.RetryPolicy{MaxAttempts: 6, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	for attempt, bound := range map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 3: 40 * time.Millisecond, 4: 50 * time.Millisecond, 5: 50 * time.Millisecond} {
		var longest time.Duration
		for range 2000 {
			wait, retry, final := p.Next(attempt, boom)
			if !retry || final != nil {
				t.Fatalf("Next(%d) = %v, %v, %v; want a retry", attempt, wait, retry, final)
			}
			if wait <= 0 || wait > bound {
				t.Fatalf("Next(%d) waits %v, want within (0, %v]", attempt, wait, bound)
			}
			longest = max(longest, wait)
		}
		if longest < bound*3/4 {
			t.Errorf("Next(%d): longest of 2000 waits %v, want near %v (full jitter)", attempt, longest, bound)
		}
	}
	if _, retry, final := p.Next(6, boom); retry || final != boom {
		t.Errorf("Next after the last attempt: retry %v, final %v; want false, boom", retry, final)
	}
	if _, retry, final := p.Next(1, workers.Permanent(boom)); retry || final != boom {
		t.Errorf("Next(Permanent(boom)): retry %v, final %v; want false, boom itself", retry, final)
	}
	wrapped := fmt.Errorf("context: %w", workers.Permanent(boom))
	if _, retry, final := p.Next(1, wrapped); retry || final != wrapped {
		t.Errorf("Next(wrapped Permanent): retry %v, final %v; want false, the error as returned", retry, final)
	}
	p.Retryable = func(err error) bool { return !errors.Is(err, boom) }
	if _, retry, _ := p.Next(1, boom); retry {
		t.Error("Next retried an error Retryable refused")
	}
	if _, retry, _ := p.Next(1, errors.New("other")); !retry {
		t.Error("Next did not retry an error Retryable accepted")
	}
	p.Retryable = func(error) bool { panic("hostile Retryable") }
	if _, retry, final := p.Next(1, boom); retry || final != boom {
		t.Errorf("Next with a panicking Retryable: retry %v, final %v; want false, boom", retry, final)
	}
	if _, retry, _ := (workers.RetryPolicy{}).Next(1, boom); retry {
		t.Error("the zero policy retried")
	}
}

// Permanent keeps its error reachable and marks nothing when given nil.
func TestPermanent(t *testing.T) {
	if workers.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	err := &codeError{Code: 3}
	pe := workers.Permanent(err)
	var ce *codeError
	if !errors.Is(pe, err) || !errors.As(pe, &ce) || ce != err || pe.Error() != err.Error() {
		t.Errorf("Permanent(%v) = %v: errors.Is/As do not reach the error", err, pe)
	}
}

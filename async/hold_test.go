package async_test

// Loop.Hold: pending work the loop cannot see keeps Run from returning until
// it is released, once, from any goroutine.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/velalang/runtime/async"
)

// TestHoldKeepsRunUntilReleased: Run waits for a hold released by another
// goroutine later, and returns as soon as it is.
func TestHoldKeepsRunUntilReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := async.NewLoop()
		release := l.Hold()
		go func() {
			time.Sleep(3 * time.Second)
			release()
		}()
		start := time.Now()
		if err := l.Run(context.Background()); err != nil {
			t.Fatalf("Run = %v", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Fatalf("Run returned after %v, want 3s (when the hold was released)", d)
		}
	})
}

// TestHoldReleaseIsIdempotent: a second call of one release does not end
// another hold's work: Run still waits for the second hold.
func TestHoldReleaseIsIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := async.NewLoop()
		first, second := l.Hold(), l.Hold()
		first()
		first()
		first()
		go func() {
			time.Sleep(time.Second)
			second()
		}()
		start := time.Now()
		if err := l.Run(context.Background()); err != nil {
			t.Fatalf("Run = %v", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("Run returned after %v, want 1s: repeated releases of one hold ended another", d)
		}
		second() // after Run: still harmless
		if err := l.Run(context.Background()); err != nil {
			t.Fatalf("second Run = %v", err)
		}
	})
}

// TestHoldReleasedConcurrently: many goroutines releasing the same holds at
// once end each hold exactly once (-race checks the rest).
func TestHoldReleasedConcurrently(t *testing.T) {
	l := async.NewLoop()
	const holds, callers = 50, 4
	releases := make([]func(), holds)
	for i := range releases {
		releases[i] = l.Hold()
	}
	extra := l.Hold() // stays held until every release ran
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for _, release := range releases {
				release()
			}
		})
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background()) }()
	wg.Wait()
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while a hold was still held: releases were counted more than once", err)
	case <-time.After(20 * time.Millisecond): // "did not happen": a brief wait
	}
	extra()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// TestHoldCallbacksRunMeanwhile: while held, callbacks posted later run and
// Run keeps waiting; ctx still ends Run.
func TestHoldCallbacksRunMeanwhile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := async.NewLoop()
		release := l.Hold()
		defer release()
		ran := 0
		go func() {
			time.Sleep(time.Second)
			l.Post(func() { ran++ })
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := l.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run = %v, want the ctx's deadline (the hold was never released)", err)
		}
		if ran != 1 {
			t.Fatalf("the callback posted while held ran %d times, want 1", ran)
		}
	})
}

// TestHoldOnClosedLoop: a closed loop holds nothing; its release does
// nothing; Close while held makes Run return ErrLoopClosed.
func TestHoldOnClosedLoop(t *testing.T) {
	l := async.NewLoop()
	release := l.Hold()
	go l.Post(l.Close)
	if err := l.Run(context.Background()); !errors.Is(err, async.ErrLoopClosed) {
		t.Fatalf("Run = %v, want ErrLoopClosed", err)
	}
	release()
	later := l.Hold()
	later()
	later()
	if err := l.Run(context.Background()); !errors.Is(err, async.ErrLoopClosed) {
		t.Fatalf("Run of a closed loop = %v", err)
	}
}

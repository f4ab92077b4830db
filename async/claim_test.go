package async_test

// Promise.Claim: the first step of a settle taken under a caller's lock,
// the rest (and every continuation) after it.

import (
	"errors"
	"testing"

	"github.com/velalang/runtime/async"
)

// TestClaimShutsOutCancel: a claimed future refuses Cancel, Resolve and
// Reject, reads as pending, and runs nothing until the claim is used.
func TestClaimShutsOutCancel(t *testing.T) {
	p, f := async.NewPromise[int]()
	ran := false
	p.OnCancel(func(error) { ran = true })
	c, ok := p.Claim()
	if !ok {
		t.Fatal("Claim of a pending future failed")
	}
	if f.Cancel() || p.Resolve(1) || p.Reject(errors.New("x")) {
		t.Fatal("a claimed future accepted another settle")
	}
	if f.State() != async.Pending {
		t.Fatalf("state %v while claimed, want pending", f.State())
	}
	if _, ok := p.Claim(); ok {
		t.Fatal("second Claim succeeded")
	}
	woken := false
	f.Poll(async.WakerFunc(func() { woken = true }))
	c.Resolve(7)
	if !woken || ran {
		t.Fatalf("woken %v, cancel handler ran %v; want true, false", woken, ran)
	}
	if v, err := f.Await(t.Context()); v != 7 || err != nil {
		t.Fatalf("Await = %v, %v; want 7, nil", v, err)
	}
}

// TestClaimAfterCancelFails: Claim loses to a Cancel that came first, and
// Reject through a claim rejects.
func TestClaimAfterCancelFails(t *testing.T) {
	p, f := async.NewPromise[int]()
	f.Cancel()
	if _, ok := p.Claim(); ok {
		t.Fatal("Claim of a cancelled future succeeded")
	}
	p2, f2 := async.NewPromise[int]()
	c, _ := p2.Claim()
	c.Reject(nil)
	if _, err := f2.Await(t.Context()); !errors.Is(err, async.ErrRejectedNil) {
		t.Fatalf("err %v, want ErrRejectedNil", err)
	}
	async.Claim[int]{}.Resolve(1) // the zero Claim does nothing
}

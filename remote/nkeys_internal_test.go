package remote

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// nkeyUser makes a user key pair; the option logs in with it.
func nkeyUser(t *testing.T) (public string, opt nats.Option) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	public, err = kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return public, nats.Nkey(public, kp.Sign)
}

// Credentials other than a password, through Config.NATS: on a
// nats-server of one's own whose client and worker log in with nkeys
// (with the permissions of their roles, and ServeControl beside it), a
// Worker and a Client work end to end, and a key the server does not know
// is refused within a few seconds. Config.NATS comes last: its login and
// name replace the ones Config implies.
func TestNkeysThroughConfigNATS(t *testing.T) {
	alicePub, aliceKey := nkeyUser(t)
	wkPub, wkKey := nkeyUser(t)
	_, strangerKey := nkeyUser(t)
	users := []User{
		{Name: "alice", Role: RoleClient, Queues: []string{"jobs"}},
		{Name: "wk", Role: RoleWorker, Queues: []string{"jobs"}},
		{Name: "bob", Password: "bob-secret", Role: RoleClient, Queues: []string{"jobs"}},
		{Name: "ops", Password: "ops-secret", Role: RoleAdmin},
	}
	// alice and wk log in with nkeys, bob and ops with passwords.
	url := externalServer(t, users[2:], func(opts *server.Options) {
		opts.Nkeys = []*server.NkeyUser{
			{Nkey: alicePub, Permissions: permissions(users[0])},
			{Nkey: wkPub, Permissions: permissions(users[1])},
		}
	})
	ctx := context.Background()
	ctl, err := ServeControl(ctx, Config{URL: url, User: "ops", Password: "ops-secret"}, users)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctl.Close)

	reg := NewRegistry()
	if err := Register(reg, "inc", func(_ context.Context, n int) (int, error) { return n + 1, nil }); err != nil {
		t.Fatal(err)
	}
	// Config.User names the subjects the user's permissions allow; the
	// nkey is the login.
	w, err := Serve(ctx, Config{URL: url, Queue: "jobs", User: "wk", NATS: []nats.Option{wkKey}}, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(ctx) })
	c, err := Dial(ctx, Config{URL: url, Queue: "jobs", User: "alice", NATS: []nats.Option{aliceKey, nats.Name("alice-app")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	actx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if v, err := Spawn[int](actx, c, "inc", 41).Await(actx); err != nil || v != 42 {
		t.Fatalf("with nkeys: = %v, %v", v, err)
	}
	if got := c.l.nc.Opts.Name; got != "alice-app" {
		t.Errorf("connection name %q: Config.NATS did not come last", got)
	}

	// Config.NATS's login replaces Config's password.
	b, err := Dial(ctx, Config{URL: url, Queue: "jobs", User: "bob", Password: "wrong", NATS: []nats.Option{nats.UserInfo("bob", "bob-secret")}})
	if err != nil {
		t.Fatalf("a password in Config.NATS after a wrong Config.Password: %v", err)
	}
	_ = b.Close()

	for name, cfg := range map[string]Config{
		"an unknown nkey": {URL: url, Queue: "jobs", User: "alice", NATS: []nats.Option{strangerKey}},
		"no credentials":  {URL: url, Queue: "jobs", User: "alice"},
	} {
		start := time.Now()
		dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
		_, err := Dial(dctx, cfg)
		dcancel()
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		if took := time.Since(start); took > 10*time.Second || !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Errorf("%s: %v after %v; want an authorization error within a few seconds", name, err, took)
		}
	}
}

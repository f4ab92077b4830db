package remote_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
)

// testTLS returns a server configuration with a fresh certificate for
// 127.0.0.1, and a client configuration that trusts it.
func testTLS(t testing.TB) (srv, cli *tls.Config) {
	t.Helper()
	ca := newTestCA(t, "vela test")
	srv = &tls.Config{Certificates: []tls.Certificate{ca.issue(t, "server", true)}, MinVersion: tls.VersionTLS12}
	cli = &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}
	return srv, cli
}

const pw = "correct-horse-battery"

var testUsers = []remote.User{
	{Name: "alice", Password: pw + "-a", Role: remote.RoleClient, Queues: []string{"jobs", "idle"}},
	{Name: "bob", Password: pw + "-b", Role: remote.RoleClient, Queues: []string{"jobs", "idle"}},
	{Name: "wk", Password: pw + "-w", Role: remote.RoleWorker, Queues: []string{"jobs"}},
	{Name: "root", Password: pw + "-r", Role: remote.RoleAdmin},
	{Name: "nobody", Password: pw + "-n", Role: remote.RoleClient, Queues: []string{}},
}

// secured is a server with testUsers and a loopback listener, with TLS if
// cli is set.
type secured struct {
	srv *remote.Server
	cli *tls.Config
}

func startSecured(t *testing.T, withTLS bool) *secured {
	t.Helper()
	cfg := remote.ServerConfig{Port: -1, Users: testUsers}
	s := &secured{}
	if withTLS {
		cfg.TLS, s.cli = testTLS(t)
	}
	srv, err := remote.StartServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	s.srv = srv
	return s
}

func (s *secured) config(user, queue string) remote.Config {
	for _, u := range testUsers {
		if u.Name == user {
			return remote.Config{URL: s.srv.URL(), Queue: queue, User: user, Password: u.Password, TLS: s.cli, AckWait: 2 * time.Second}
		}
	}
	return remote.Config{URL: s.srv.URL(), Queue: queue, TLS: s.cli}
}

// probe is a raw connection as a user, with the permission errors the
// server reports to it.
type probe struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	denied chan error
}

func (s *secured) probe(t *testing.T, user string) *probe {
	t.Helper()
	cfg := s.config(user, "")
	p := &probe{denied: make(chan error, 64)}
	opts := []nats.Option{nats.UserInfo(cfg.User, cfg.Password), nats.CustomInboxPrefix("_VELA." + user + "._INBOX"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			p.denied <- err
		}
	})}
	if s.cli != nil {
		opts = append(opts, nats.Secure(s.cli))
	}
	nc, err := nats.Connect(s.srv.URL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	p.nc = nc
	p.js, _ = jetstream.New(nc)
	return p
}

// refused waits for the server to refuse an operation on subject.
func (p *probe) refused(t *testing.T, subject string) {
	t.Helper()
	_ = p.nc.Flush()
	for {
		select {
		case err := <-p.denied:
			if strings.Contains(err.Error(), subject) {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the server did not refuse %s", subject)
		}
	}
}

func TestSecuredQueueRunsAndWithdrawsTasks(t *testing.T) {
	s := startSecured(t, true)
	serveInProcess(t, s.config("wk", "jobs"))
	c := dialURL(t, s.config("alice", "jobs"))
	if v, err := await(t, remote.Spawn[int](context.Background(), c, "add", pair{1, 2})); err != nil || v != 3 {
		t.Fatalf("= %v, %v", v, err)
	}
	// A queue without a worker: a withdrawn batch leaves it, through the
	// server's control connection.
	idle := dialURL(t, s.config("alice", "idle"))
	f := remote.SpawnAll[int](context.Background(), idle, "add", make([]pair, 500))
	eventually(t, "the batch to be queued", func() bool { return remote.QueuedTasks(idle) == 500 })
	f.Cancel()
	eventually(t, "the withdrawn batch to leave the queue", func() bool { return remote.QueuedTasks(idle) == 0 })
	for range 3 {
		remote.Spawn[int](context.Background(), idle, "add", pair{})
	}
	eventually(t, "the tasks to be queued", func() bool { return remote.QueuedTasks(idle) == 3 })
	probe := dialURL(t, s.config("bob", "idle"))
	_ = idle.Close()
	eventually(t, "the closed client's tasks to leave the queue", func() bool { return remote.QueuedTasks(probe) == 0 })
}

// Without credentials, with wrong ones, or in plaintext to a TLS listener,
// Dial and Serve fail within a few seconds, without the password in the
// error.
func TestLoginIsRequired(t *testing.T) {
	s := startSecured(t, true)
	good := s.config("alice", "jobs")
	for name, cfg := range map[string]remote.Config{
		"no credentials": {URL: good.URL, Queue: "jobs", TLS: s.cli},
		"wrong password": {URL: good.URL, Queue: "jobs", TLS: s.cli, User: "alice", Password: "hunter2"},
		"plaintext":      {URL: good.URL, Queue: "jobs", User: "alice", Password: good.Password},
		"in-process":     {Server: s.srv, Queue: "jobs"},
	} {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, derr := remote.Dial(ctx, cfg)
		_, serr := remote.Serve(ctx, cfg, testRegistry())
		cancel()
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: refused after %v", name, took)
		}
		for _, err := range []error{derr, serr} {
			if err == nil {
				t.Fatalf("%s: no error", name)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), pw) {
				t.Fatalf("%s: the error shows the password: %v", name, err)
			}
		}
	}
}

// A queue the user may not use, or a role it does not have: Dial or Serve
// fails at once with ErrNotPermitted, never a hang.
func TestQueueOrRoleNotPermitted(t *testing.T) {
	s := startSecured(t, false)
	for _, c := range []struct {
		user, queue string
		serve       bool
	}{
		{"nobody", "jobs", false},
		{"alice", "other", false},
		{"wk", "other", true},
		{"alice", "jobs", true},
		{"wk", "jobs", false},
	} {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var err error
		if c.serve {
			_, err = remote.Serve(ctx, s.config(c.user, c.queue), testRegistry())
		} else {
			_, err = remote.Dial(ctx, s.config(c.user, c.queue))
		}
		cancel()
		if !errors.Is(err, remote.ErrNotPermitted) || time.Since(start) > 5*time.Second {
			t.Errorf("%s on %q (serve %v): %v after %v; want ErrNotPermitted within 5s", c.user, c.queue, c.serve, err, time.Since(start))
		}
	}
}

func TestServerConfigRefusals(t *testing.T) {
	for name, cfg := range map[string]remote.ServerConfig{
		"beyond loopback without users": {Host: "0.0.0.0", Port: -1},
		"bad user name":                 {Users: []remote.User{{Name: "a.b", Password: "x", Role: remote.RoleClient}}},
		"bad queue":                     {Users: []remote.User{{Name: "a", Password: "x", Role: remote.RoleClient, Queues: []string{"q>"}}}},
		"no password":                   {Users: []remote.User{{Name: "a", Role: remote.RoleClient}}},
		"no role":                       {Users: []remote.User{{Name: "a", Password: "x"}}},
		"twice":                         {Users: []remote.User{{Name: "a", Password: "x", Role: remote.RoleClient}, {Name: "a", Password: "y", Role: remote.RoleWorker}}},
	} {
		srv, err := remote.StartServer(cfg)
		if err == nil {
			srv.Shutdown()
		}
		if !errors.Is(err, workers.ErrInvalidArgument) {
			t.Errorf("%s: %v; want ErrInvalidArgument", name, err)
		}
	}
	srv, err := remote.StartServer(remote.ServerConfig{Host: "0.0.0.0", Port: -1, Users: testUsers})
	if err != nil {
		t.Fatalf("beyond loopback with users: %v", err)
	}
	srv.Shutdown()
}

// The adversarial findings, replayed by another client of the same queue
// (bob), a worker and an admin: each attack is refused, and the victim's
// (alice's) tasks settle with their real values.
func TestAttacksOfOtherUsersFail(t *testing.T) {
	s := startSecured(t, false)
	h := &hooks{started: make(chan string, 10), release: make(chan struct{}), ended: make(chan error, 10)}
	w, err := remote.Serve(context.Background(), s.config("wk", "jobs"), testRegistryWith(h))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(context.Background()) })
	alice := dialURL(t, s.config("alice", "jobs"))
	aliceIdle := dialURL(t, s.config("alice", "idle"))
	running := remote.Spawn[string](context.Background(), alice, "block", "real")
	wait(t, h.started, "alice's task to start")
	queued := remote.Spawn[int](context.Background(), aliceIdle, "add", pair{1, 1})
	eventually(t, "alice's idle task to be queued", func() bool { return remote.QueuedTasks(aliceIdle) == 1 })

	bob := s.probe(t, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()

	// Read the tasks, or alice's replies.
	if _, err := bob.nc.Subscribe("vela.jobs.tasks.>", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	bob.refused(t, "vela.jobs.tasks.>")
	if _, err := bob.nc.Subscribe("_VELA.alice.>", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	bob.refused(t, "_VELA.alice.>")
	// Forge a reply, a cancel, an advisory.
	_ = bob.nc.Publish("_VELA.alice.jobs.x.r.1", []byte("o\x00\x00666"))
	bob.refused(t, "_VELA.alice.jobs.x.r.1")
	_ = bob.nc.Publish("vela.jobs.cancel.alice", []byte("alice.x.1 s"))
	bob.refused(t, "vela.jobs.cancel.alice")
	adv := "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.VELA_idle.workers"
	_ = bob.nc.Publish(adv, []byte(`{"stream_seq":1,"deliveries":3}`))
	bob.refused(t, adv)
	// Take tasks with a consumer of its own, copy them with a stream
	// update, remove alice's task, or withdraw it in alice's name.
	if _, err := bob.js.CreateConsumer(ctx, "VELA_idle", jetstream.ConsumerConfig{Durable: "steal"}); err == nil {
		t.Fatal("bob created a consumer")
	}
	if _, err := bob.js.UpdateStream(ctx, jetstream.StreamConfig{Name: "VELA_idle", Subjects: []string{"vela.idle.tasks.>"}, Retention: jetstream.WorkQueuePolicy, RePublish: &jetstream.RePublish{Source: ">", Destination: "_VELA.bob.copy.>"}}); err == nil {
		t.Fatal("bob updated the stream")
	}
	if err := bob.js.DeleteStream(ctx, "VELA_idle"); err == nil {
		t.Fatal("bob deleted the stream")
	}
	if st, err := bob.js.Stream(ctx, "VELA_idle"); err == nil {
		if err := st.Purge(ctx); err == nil {
			t.Fatal("bob purged the queue")
		}
		if err := st.DeleteMsg(ctx, 1); err == nil {
			t.Fatal("bob deleted alice's task")
		}
		if _, err := st.GetMsg(ctx, 1); err == nil {
			t.Fatal("bob read alice's task")
		}
	}
	if m, err := bob.nc.Request("vela.idle.ctl.bob.delete", []byte("1"), 2*time.Second); err != nil || !strings.Contains(string(m.Data), "not permitted") {
		t.Fatalf("bob's delete of alice's task through the control connection: %v, %v", m, err)
	}
	_ = bob.nc.Publish("vela.idle.ctl.alice.withdraw", []byte("x.>"))
	bob.refused(t, "vela.idle.ctl.alice.withdraw")

	// Nobody, admins included, publishes the server's advisories.
	root := s.probe(t, "root")
	_ = root.nc.Publish(adv, []byte(`{"stream_seq":1,"deliveries":3}`))
	root.refused(t, adv)

	// A worker reads neither the task subjects nor the clients' replies.
	wk := s.probe(t, "wk")
	if _, err := wk.nc.Subscribe("vela.jobs.tasks.>", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	wk.refused(t, "vela.jobs.tasks.>")
	if _, err := wk.nc.Subscribe("_VELA.*.jobs.>", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	wk.refused(t, "_VELA.*.jobs.>")

	// alice's tasks are untouched.
	if remote.QueuedTasks(aliceIdle) != 1 || queued.State() != async.Pending {
		t.Fatalf("alice's queued task: %d queued, %v", remote.QueuedTasks(aliceIdle), queued.State())
	}
	close(h.release)
	if v, err := await(t, running); err != nil || v != "real" {
		t.Fatalf("alice's running task = %q, %v", v, err)
	}
}

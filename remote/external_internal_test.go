package remote

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// externalUsers are the users of the external-server tests: a client
// and a worker of queue "jobs", and an admin for ServeControl.
var externalUsers = []User{
	{Name: "alice", Password: "pa", Role: RoleClient, Queues: []string{"jobs"}},
	{Name: "wk", Password: "pw", Role: RoleWorker, Queues: []string{"jobs"}},
	{Name: "ops", Password: "po", Role: RoleAdmin},
}

// externalServer starts a nats-server of one's own, as an operator would
// run it beside remote (not StartServer): JetStream on a random loopback
// port, users logging in with passwords and the permissions the delivery
// note lists, and whatever more configure sets (nkeys, for one). It
// returns the server's client URL.
func externalServer(t *testing.T, users []User, configure func(*server.Options)) string {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true}
	for _, u := range users {
		opts.Users = append(opts.Users, &server.User{Username: u.Name, Password: u.Password, Permissions: permissions(u)})
	}
	if configure != nil {
		configure(opts)
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	return ns.ClientURL()
}

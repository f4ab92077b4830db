package remote_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
)

// Members authenticate each other with ClusterConfig.Password: a member
// with the right one joins; one with a wrong one, or none, does not,
// though it lists the others' routes.
func TestClusterRoutesNeedThePassword(t *testing.T) {
	const secret = "route-secret-1"
	member := func(name, password string, port int, routes ...int) *remote.Server {
		t.Helper()
		var urls []string
		for _, p := range routes {
			urls = append(urls, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
		}
		srv, err := remote.StartServer(remote.ServerConfig{Port: -1, Cluster: &remote.ClusterConfig{
			Name: "vela-auth", Server: name, Port: port, Routes: urls, Password: password}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Shutdown)
		return srv
	}
	pa, pb := freePort(t), freePort(t)
	a := member("a", secret, pa, pb)
	wrong := member("wrong", "route-secret-2", -1, pa, pb)
	none := member("none", "", -1, pa, pb)
	b := member("b", secret, pb, pa)
	eventually(t, "b to join a", func() bool { return remote.RoutePeers(a)["b"] && remote.RoutePeers(b)["a"] })
	// The refused members try again every second: give them two tries
	// after b has joined (a "did not happen" check waits briefly).
	time.Sleep(2 * time.Second)
	for _, s := range []*remote.Server{a, b} {
		if peers := remote.RoutePeers(s); peers["wrong"] || peers["none"] || len(peers) != 1 {
			t.Fatalf("a member has routes to %v; want only its rightful peer", peers)
		}
	}
	for name, s := range map[string]*remote.Server{"wrong": wrong, "none": none} {
		if peers := remote.RoutePeers(s); len(peers) != 0 {
			t.Fatalf("the member with %s password has routes to %v", name, peers)
		}
	}
}

// The Host rules: beyond loopback, a server needs Users, and a cluster
// member a Password too; the errors wrap ErrInvalidArgument and never
// show a password. On loopback neither is needed.
func TestClusterHostRules(t *testing.T) {
	const secret = "route-secret-3"
	users := []remote.User{{Name: "ops", Password: "ops-secret", Role: remote.RoleAdmin}}
	cluster := func(password string, routes ...string) *remote.ClusterConfig {
		return &remote.ClusterConfig{Name: "vela-hosts", Server: "s", Port: -1, Password: password, Routes: routes}
	}
	for name, cfg := range map[string]remote.ServerConfig{
		"beyond loopback without a cluster password": {Host: "0.0.0.0", Port: -1, Users: users, Cluster: cluster("")},
		"beyond loopback without users":              {Host: "0.0.0.0", Port: -1, Cluster: cluster(secret)},
		"a cluster member without a listener":        {Cluster: cluster(secret)},
		"a cluster member without routes":            {Port: -1, Cluster: cluster(secret)},
		"a route that is not a URL":                  {Port: -1, Cluster: cluster(secret, "nats-route://vela:"+secret+"@127.0.0.1:%zz")},
		"a cluster port out of range":                {Port: -1, Cluster: &remote.ClusterConfig{Name: "c", Server: "s", Port: 70000, Password: secret}},
		"a bad cluster name":                         {Port: -1, Cluster: &remote.ClusterConfig{Name: "c.d", Server: "s", Port: -1}},
	} {
		srv, err := remote.StartServer(cfg)
		if err == nil {
			srv.Shutdown()
		}
		if !errors.Is(err, workers.ErrInvalidArgument) {
			t.Errorf("%s: %v; want ErrInvalidArgument", name, err)
		} else if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "ops-secret") {
			t.Errorf("%s: the error shows a password: %v", name, err)
		}
	}
	for name, cfg := range map[string]remote.ServerConfig{
		"beyond loopback with users and a cluster password": {Host: "0.0.0.0", Port: -1, Users: users, Cluster: cluster(secret, "nats-route://127.0.0.1:1")},
		"on loopback without either":                        {Port: -1, Cluster: cluster("", "nats-route://127.0.0.1:1")},
	} {
		srv, err := remote.StartServer(cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if u := srv.RouteURL(); !strings.HasPrefix(u, "nats-route://127.0.0.1:") {
			t.Errorf("%s: RouteURL() = %q; want a loopback route URL", name, u)
		}
		srv.Shutdown()
	}
}

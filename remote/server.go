package remote

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nuid"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/velalang/runtime/workers"
)

// ServerConfig describes an embedded NATS server with JetStream.
type ServerConfig struct {
	Dir  string // JetStream store directory; "" keeps the store in memory
	Port int    // 0: no listener (in-process connections only); -1: a free loopback port; >0: that port
	// NoSync, with a Dir, lets the server acknowledge a task before its
	// write reaches the disk (the file store then flushes every two
	// minutes, and a power failure or an OS crash can lose acknowledged
	// tasks). By default every write is synced before it is
	// acknowledged; BENCHMARKS.md gives the cost.
	NoSync bool

	// Host is the listener's address; "" means 127.0.0.1. A Host beyond
	// loopback needs Users (secure by default).
	Host string
	// Users, when set, are the only logins the server accepts (in-process
	// connections included), each with the permissions of its Role
	// (security.go; docs/remote-delivery.md says what each may do). A
	// Client or Worker logs in with Config.User and Config.Password.
	Users []User
	// TLS, when set, makes the listener require TLS with this
	// configuration (its certificate; ClientAuth and ClientCAs to verify
	// clients' certificates). In-process connections do not use it.
	TLS *tls.Config

	// Cluster, when set, makes the server one member of a NATS cluster
	// (JetStream clustered): queues with Config.Replicas 3 then survive
	// the loss of one member. Every member needs its own Dir (or none, for
	// memory) and a listener.
	Cluster *ClusterConfig
}

// ClusterConfig is a cluster member's part of ServerConfig.
type ClusterConfig struct {
	Name   string   // the cluster's name, the same on every member; letters, digits, '-' and '_'
	Server string   // this member's name, unique in the cluster; same characters
	Port   int      // the port other members connect to: -1 a free one, >0 that one
	Routes []string // the other members' route URLs ("nats-route://host:port"; Server.RouteURL); at least one
	// Password, the same on every member, authenticates the members to
	// each other; it is required when Host is beyond loopback.
	Password string
}

// Server is a NATS server with JetStream running inside this process.
// Clients and Workers reach it in-process through Config.Server (no socket,
// no port), and other processes through URL when it has a listener.
//
// With Dir == "" the queues' streams are kept in memory (a scratch
// directory is still made for the server and removed by Shutdown); with a
// Dir they are kept in files there and survive a restart of the server.
type Server struct {
	ns      *server.Server
	dir     string            // the store directory
	memory  bool              // Dir was "": streams created through this server are kept in memory
	tmp     string            // scratch directory to remove on Shutdown, or ""
	url     string            // the listener's URL, or the in-process one
	ctl     *control          // the control connection of a server with Users
	secured bool              // the server has Users
	logins  map[string]string // user -> password, to refuse a bad in-process login at once

	mu     sync.Mutex
	closed bool
	users  map[serverUser]struct{} // in-process Clients and Workers
}

// serverUser is a Client or Worker connected in-process, told before the
// server stops so that it can settle what it holds.
type serverUser interface{ serverClosing() }

// StartServer starts an embedded NATS server with JetStream and returns
// once it accepts connections (a few milliseconds). Bad input (a Port
// below -1) gives an error wrapping workers.ErrInvalidArgument. The caller
// owns the server and must call Shutdown.
func StartServer(cfg ServerConfig) (*Server, error) {
	if cfg.Port < -1 || cfg.Port > 65535 {
		return nil, invalid("StartServer: port %d", cfg.Port)
	}
	host := cfg.Host
	if host == "" {
		host = "127.0.0.1"
	}
	if !loopback(host) && len(cfg.Users) == 0 {
		return nil, invalid("StartServer: Host %q beyond loopback without Users", host)
	}
	if err := checkUsers(cfg.Users); err != nil {
		return nil, err
	}
	if c := cfg.Cluster; c != nil {
		switch {
		case !validName(c.Name) || !validName(c.Server):
			return nil, invalid("StartServer: cluster %q, member %q: use letters, digits, '-' and '_'", c.Name, c.Server)
		case c.Port < -1 || c.Port == 0 || c.Port > 65535:
			return nil, invalid("StartServer: cluster port %d", c.Port)
		case cfg.Port == 0:
			return nil, invalid("StartServer: a cluster member needs a listener (Port)")
		case len(c.Routes) == 0:
			// nats-server refuses a clustered JetStream without routes
			// and would not start its listeners.
			return nil, invalid("StartServer: a cluster member needs Routes to the other members")
		case !loopback(host) && c.Password == "":
			return nil, invalid("StartServer: cluster on Host %q beyond loopback without a Password", host)
		}
	}
	s := &Server{dir: cfg.Dir, memory: cfg.Dir == "", users: make(map[serverUser]struct{})}
	if s.memory {
		tmp, err := os.MkdirTemp("", "vela-remote-")
		if err != nil {
			return nil, fmt.Errorf("remote: StartServer: %w", err)
		}
		s.tmp, s.dir = tmp, tmp
	}
	opts := &server.Options{
		ServerName: "vela-remote",
		Host:       host,
		JetStream:  true,
		StoreDir:   s.dir,
		NoLog:      true,
		NoSigs:     true,
		SyncAlways: !s.memory && !cfg.NoSync,
	}
	var ctlUser User
	if len(cfg.Users) > 0 {
		s.secured = true
		s.logins = make(map[string]string, len(cfg.Users)+1)
		ctlUser = User{Name: "_vela_control_" + nuid.Next(), Password: nuid.Next() + nuid.Next(), Role: RoleAdmin}
		for _, u := range append(cfg.Users, ctlUser) {
			opts.Users = append(opts.Users, &server.User{Username: u.Name, Password: u.Password, Permissions: permissions(u)})
			s.logins[u.Name] = u.Password
		}
	}
	if cfg.TLS != nil {
		opts.TLSConfig = cfg.TLS
		opts.TLS = true
	}
	if c := cfg.Cluster; c != nil {
		opts.ServerName = c.Server
		opts.Cluster = server.ClusterOpts{Name: c.Name, Host: host, Port: c.Port, Username: "", Password: ""}
		if c.Port == -1 {
			opts.Cluster.Port = server.RANDOM_PORT
		}
		if c.Password != "" {
			opts.Cluster.Username, opts.Cluster.Password = "vela", c.Password
		}
		for _, r := range c.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, invalid("StartServer: route %s", redact(r))
			}
			if c.Password != "" {
				u.User = url.UserPassword("vela", c.Password)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	switch cfg.Port {
	case 0:
		opts.DontListen = true
	case -1:
		opts.Port = server.RANDOM_PORT
	default:
		opts.Port = cfg.Port
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		s.removeTmp()
		return nil, fmt.Errorf("remote: StartServer: %w", err)
	}
	s.ns = ns
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		ns.WaitForShutdown()
		s.removeTmp()
		return nil, errors.New("remote: StartServer: the server did not become ready (is the port free?)")
	}
	if !opts.DontListen {
		if a, ok := ns.Addr().(*net.TCPAddr); ok {
			h := host
			if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
				h = "127.0.0.1"
			}
			s.url = "nats://" + net.JoinHostPort(h, strconv.Itoa(a.Port))
		}
	} else {
		s.url = registerInProcess(s)
	}
	if ctlUser.Name != "" {
		cs := settings{Config: Config{Server: s, User: ctlUser.Name, Password: ctlUser.Password}, user: ctlUser.Name}
		l, err := dial(context.Background(), &cs, "vela-remote-control")
		if err == nil {
			s.ctl, err = startControl(l, cfg.Users)
			if err != nil {
				l.close()
			}
		}
		if err != nil {
			s.Shutdown()
			return nil, err
		}
	}
	return s, nil
}

// RouteURL returns the URL other members of the cluster give in their
// ClusterConfig.Routes to reach this one, or "" for a server that is not a
// cluster member.
func (s *Server) RouteURL() string {
	a := s.ns.ClusterAddr()
	if a == nil {
		return ""
	}
	h := a.IP.String()
	if a.IP.IsUnspecified() {
		h = "127.0.0.1"
	}
	return "nats-route://" + net.JoinHostPort(h, strconv.Itoa(a.Port))
}

// InProcessConn returns a connection to the server that does not go
// through the network, so that a *Server can be passed to nats.go's
// nats.InProcessServer option to use the embedded server directly.
func (s *Server) InProcessConn() (net.Conn, error) { return s.ns.InProcessConn() }

// URL returns "nats://127.0.0.1:PORT" for a server with a listener. For
// one reachable only in-process it returns "vela-inprocess://<id>", which
// Config.URL accepts in this process only (as it accepts Config.Server),
// so that Config{URL: srv.URL()} never falls back to another server.
func (s *Server) URL() string { return s.url }

// Shutdown first settles what the in-process Clients and Workers of this
// server hold (their pending futures are rejected with an error wrapping
// workers.ErrPoolClosed; Workers stop taking tasks), then stops the server
// and waits until its goroutines have exited, and removes the scratch
// store of a memory server. Tasks still queued in a server with a Dir stay
// in its store for the next start. A second call does nothing.
func (s *Server) Shutdown() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	users := make([]serverUser, 0, len(s.users))
	for u := range s.users {
		users = append(users, u)
	}
	s.mu.Unlock()
	for _, u := range users {
		u.serverClosing()
	}
	if s.ctl != nil {
		s.ctl.stop()
	}
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	s.removeTmp()
	unregisterInProcess(s.url)
}

// checkLogin refuses an in-process login the server would refuse (nats.go
// then only sees a closed pipe, after 10s).
func (s *Server) checkLogin(user, password string) error {
	if !s.secured {
		return nil
	}
	want, ok := s.logins[user]
	if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(password)) != 1 {
		return fmt.Errorf("the embedded server refused the login of user %q: %w", user, ErrNotPermitted)
	}
	return nil
}

func (s *Server) removeTmp() {
	if s.tmp != "" {
		_ = os.RemoveAll(s.tmp)
	}
}

// join registers u as an in-process user; it fails once the server is
// shutting down.
func (s *Server) join(u serverUser) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("remote: embedded server shut down: %w", workers.ErrPoolClosed)
	}
	s.users[u] = struct{}{}
	return nil
}

func (s *Server) leave(u serverUser) {
	s.mu.Lock()
	delete(s.users, u)
	s.mu.Unlock()
}

// The shared server behind Config{URL: "", Server: nil}: started by the
// first Dial or Serve that needs it, shut down when the last Client or
// Worker using it is closed.
var shared struct {
	mu   sync.Mutex
	srv  *Server
	refs int
}

func acquireShared() (*Server, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil {
		s, err := StartServer(ServerConfig{})
		if err != nil {
			return nil, err
		}
		shared.srv = s
	}
	shared.refs++
	return shared.srv, nil
}

func releaseShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.refs--
	if shared.refs == 0 {
		shared.srv.Shutdown()
		shared.srv = nil
	}
}

// The in-process servers by URL, for Config.URL.
const inProcessScheme = "vela-inprocess://"

var inProcess struct {
	mu   sync.Mutex
	next uint64
	srvs map[string]*Server
}

func registerInProcess(s *Server) string {
	inProcess.mu.Lock()
	defer inProcess.mu.Unlock()
	if inProcess.srvs == nil {
		inProcess.srvs = make(map[string]*Server)
	}
	inProcess.next++
	u := fmt.Sprintf("%s%d", inProcessScheme, inProcess.next)
	inProcess.srvs[u] = s
	return u
}

func unregisterInProcess(u string) {
	inProcess.mu.Lock()
	delete(inProcess.srvs, u)
	inProcess.mu.Unlock()
}

func lookupInProcess(u string) (*Server, error) {
	inProcess.mu.Lock()
	defer inProcess.mu.Unlock()
	if s := inProcess.srvs[u]; s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("remote: %s is not an embedded server running in this process: %w", u, workers.ErrPoolClosed)
}

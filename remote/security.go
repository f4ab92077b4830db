package remote

import (
	"fmt"
	"net"

	"github.com/nats-io/nats-server/v2/server"
)

// Role is what a User may do on an embedded server with Users.
type Role int

const (
	// RoleClient may submit and cancel tasks of its queues and read its
	// own replies, nothing else.
	RoleClient Role = iota + 1
	// RoleWorker may take tasks of its queues and answer them, nothing
	// else.
	RoleWorker
	// RoleAdmin may do everything (operators, tests), except publish the
	// server's advisories.
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RoleClient:
		return "client"
	case RoleWorker:
		return "worker"
	case RoleAdmin:
		return "admin"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// User is an account on an embedded server with ServerConfig.Users. A
// Client or Worker logs in as one with Config.User and Config.Password.
type User struct {
	Name, Password string
	Role           Role
	Queues         []string // nil: every queue; empty (not nil): none
}

// validName reports whether s is a user or queue name: letters, digits,
// '-' and '_'.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// checkUsers validates ServerConfig.Users; errors never show a password.
func checkUsers(users []User) error {
	seen := make(map[string]bool, len(users))
	for i, u := range users {
		switch {
		case !validName(u.Name):
			return invalid("ServerConfig.Users[%d]: name %q: use letters, digits, '-' and '_'", i, u.Name)
		case seen[u.Name]:
			return invalid("ServerConfig.Users[%d]: name %q taken twice", i, u.Name)
		case u.Password == "":
			return invalid("ServerConfig.Users[%d] (%s): empty password", i, u.Name)
		case u.Role < RoleClient || u.Role > RoleAdmin:
			return invalid("ServerConfig.Users[%d] (%s): %v", i, u.Name, u.Role)
		}
		for _, q := range u.Queues {
			if !validName(q) {
				return invalid("ServerConfig.Users[%d] (%s): queue %q: use letters, digits, '-' and '_'", i, u.Name, q)
			}
		}
		seen[u.Name] = true
	}
	return nil
}

// mayUse reports whether u may use queue q.
func (u *User) mayUse(q string) bool {
	if u.Queues == nil {
		return true
	}
	for _, x := range u.Queues {
		if x == q {
			return true
		}
	}
	return false
}

// loopback reports whether host names only this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// The permissions each role gets, derived from the queue's subjects
// (config.go) so that nobody writes them by hand. Every user may
// subscribe under its own prefix, _VELA.<user>.>, where its replies, its
// deliveries and its JetStream API answers arrive, and nobody may publish
// the server's advisories ($JS.EVENT.>) or system subjects. Stream and
// consumer administration, purges and deletes are done by the server's
// own control connection (control.go) at the request of users allowed on
// the queue.
func permissions(u User) *server.Permissions {
	qs := u.Queues
	if qs == nil {
		qs = []string{"*"}
	}
	pub := []string{"_VELA." + u.Name + ".>"}
	sub := []string{"_VELA." + u.Name + ".>"}
	deny := []string{"$JS.EVENT.>", "$SYS.>"}
	for _, q := range qs {
		stream, kv := "VELA_"+q, "KV_VELA_GIVEN_"+q
		bucket := "VELA_GIVEN_" + q
		if q == "*" {
			stream, kv, bucket = "*", "*", "*"
		}
		switch u.Role {
		case RoleClient:
			pub = append(pub,
				"vela."+q+".tasks."+u.Name+".>",
				"vela."+q+".cancel."+u.Name,
				"vela."+q+".ctl."+u.Name+".>",
				"vela."+q+".workers",
				"$JS.API.STREAM.INFO."+stream,
				"$JS.API.CONSUMER.INFO."+stream+"."+consumerName,
			)
			sub = append(sub, "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."+stream+"."+consumerName)
		case RoleWorker:
			pub = append(pub,
				"$JS.API.CONSUMER.MSG.NEXT."+stream+"."+consumerName,
				"$JS.API.STREAM.INFO."+stream, // Serve's check that an operator set the queue up
				"vela."+q+".tasks.*.>",        // the next attempt of a task to retry
				"$JS.ACK."+stream+"."+consumerName+".>",
				"_VELA.*."+q+".*.r.*", // replies
				"_VELA.*."+q+".*.i.*", // QueueInfo answers
				"vela."+q+".ctl."+u.Name+".>",
				"$KV."+bucket+".>",
				"$JS.API.DIRECT.GET."+kv+".>",
				"$JS.API.STREAM.MSG.GET."+kv,
				"$JS.API.STREAM.INFO."+kv,
			)
			sub = append(sub, "vela."+q+".cancel.*", "vela."+q+".workers")
		}
	}
	if u.Role == RoleAdmin {
		pub, sub = []string{">"}, []string{">"}
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub, Deny: deny},
		Subscribe: &server.SubjectPermission{Allow: sub},
	}
}

package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The control connection. On an embedded server with Users, clients and
// workers may not create, update or delete streams and consumers, nor
// read, delete or purge tasks through the JetStream API: a client with
// consumer-create rights could deliver a queue's tasks to itself, one with
// stream-update rights could copy them elsewhere, one with delete or purge
// rights could remove another client's task. They ask the server's own
// connection instead, on vela.<queue>.ctl.<user>.<op>, a subject only
// that user may publish to, so the subject proves who asks:
//
//	setup     create the queue's stream, consumer and give-back bucket if
//	          missing (a client sets MaxQueued, a worker AckWait and MaxDeliver)
//	withdraw  purge vela.<queue>.tasks.<user>.<body>, the body being one of
//	          the user's batches, "<client>.<batch>", or "<client>.>"
//	delete    delete the task at sequence <body> if it is one of the user's
//
// The answer is empty, or an error's text ("not permitted: ..." for a
// refusal). The control connection handles one request at a time.

// setupReq is the body of a setup request.
type setupReq struct {
	Worker     bool          `json:"worker,omitempty"`
	MaxQueued  int           `json:"max_queued,omitempty"`
	AckWait    time.Duration `json:"ack_wait,omitempty"`
	MaxDeliver int           `json:"max_deliver,omitempty"`
	Replicas   int           `json:"replicas,omitempty"`
}

const notPermitted = "not permitted: "

type control struct {
	l     *link
	users map[string]User
	sub   *nats.Subscription
}

// startControl serves control requests on l for users.
func startControl(l *link, users []User) (*control, error) {
	c := &control{l: l, users: make(map[string]User, len(users))}
	for _, u := range users {
		c.users[u.Name] = u
	}
	var err error
	if c.sub, err = l.nc.Subscribe("vela.*.ctl.*.*", c.onRequest); err != nil {
		return nil, fmt.Errorf("remote: StartServer: %w", err)
	}
	if err := l.nc.Flush(); err != nil {
		return nil, fmt.Errorf("remote: StartServer: %w", err)
	}
	return c, nil
}

func (c *control) stop() {
	_ = c.sub.Unsubscribe()
	c.l.close()
}

func (c *control) onRequest(m *nats.Msg) {
	tok := strings.Split(m.Subject, ".")
	if len(tok) != 5 {
		return
	}
	answer := c.handle(tok[1], tok[3], tok[4], m.Data)
	if m.Reply != "" {
		_ = c.l.nc.Publish(m.Reply, []byte(answer))
	}
}

func (c *control) handle(queue, user, op string, body []byte) string {
	u, ok := c.users[user]
	if !ok || !u.mayUse(queue) {
		return notPermitted + "queue " + queue
	}
	s, err := Config{Queue: queue}.settings()
	if err != nil {
		return err.Error()
	}
	s.user = user
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch op {
	case "setup":
		var req setupReq
		if json.Unmarshal(body, &req) != nil || req.MaxQueued < 0 || req.AckWait < 0 || req.MaxDeliver < 0 || req.Replicas < 0 || req.Replicas > 5 {
			return "bad setup request"
		}
		if req.Worker && u.Role == RoleClient || !req.Worker && u.Role == RoleWorker {
			return notPermitted + "setup as a " + u.Role.String()
		}
		s.MaxQueued, s.Replicas = req.MaxQueued, req.Replicas
		if req.AckWait > 0 {
			s.AckWait = req.AckWait
		}
		if req.MaxDeliver > 0 {
			s.MaxDeliver = req.MaxDeliver
		}
		if err := c.l.ensureStream(ctx, &s, !req.Worker); err != nil {
			return err.Error()
		}
		if _, err := c.l.ensureConsumer(ctx, &s, req.Worker); err != nil {
			return err.Error()
		}
		if _, err := c.l.ensureBucket(ctx, &s); err != nil {
			return err.Error()
		}
	case "withdraw":
		if u.Role == RoleWorker {
			return notPermitted + "withdraw as a worker"
		}
		client, rest, ok := strings.Cut(string(body), ".")
		if !ok || !validName(client) || (rest != ">" && !validNumber(rest)) {
			return "bad withdraw request"
		}
		st, err := c.l.js.Stream(ctx, s.stream)
		if err != nil {
			return err.Error()
		}
		if err := st.Purge(ctx, jetstream.WithPurgeSubject(s.tasksBase+user+"."+client+"."+rest)); err != nil {
			return err.Error()
		}
	case "delete":
		if u.Role == RoleWorker {
			return notPermitted + "delete as a worker"
		}
		seq, err := strconv.ParseUint(string(body), 10, 64)
		if err != nil {
			return "bad delete request"
		}
		st, err := c.l.js.Stream(ctx, s.stream)
		if err != nil {
			return err.Error()
		}
		msg, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return ""
		}
		if err != nil {
			return err.Error()
		}
		if !strings.HasPrefix(msg.Subject, s.tasksBase+user+".") {
			return notPermitted + "another user's task"
		}
		if err := st.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return err.Error()
		}
	default:
		return "unknown request " + op
	}
	return ""
}

func validNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// controlError turns a control answer into an error.
func controlError(answer []byte) error {
	switch a := string(answer); {
	case a == "":
		return nil
	case strings.HasPrefix(a, notPermitted):
		return fmt.Errorf("remote: %w: %s", ErrNotPermitted, strings.TrimPrefix(a, notPermitted))
	default:
		return errors.New("remote: " + a)
	}
}

// setUp makes sure the queue's stream, consumer and bucket exist: itself,
// or through the server's control connection when logged in as a user.
// A Worker (worker) sets the consumer's AckWait and MaxDeliver, a Client
// the stream's MaxQueued.
//
// In a cluster a request can time out while leaders are elected, and a
// replicated stream finds no place until every member has joined; setUp
// tries five times, each within 5s, 200ms apart, while ctx lasts.
func (l *link) setUp(ctx context.Context, s *settings, worker bool) error {
	var err error
	for range 5 {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = l.setUpOnce(actx, s, worker)
		cancel()
		transient := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
			err != nil && strings.Contains(err.Error(), "no suitable peers")
		if err == nil || ctx.Err() != nil || !transient {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
	return err
}

func (l *link) setUpOnce(ctx context.Context, s *settings, worker bool) error {
	if !s.secured() {
		if err := l.ensureStream(ctx, s, !worker); err != nil {
			return err
		}
		if _, err := l.ensureConsumer(ctx, s, worker); err != nil {
			return err
		}
		if worker {
			_, err := l.ensureBucket(ctx, s)
			return err
		}
		return nil
	}
	req := setupReq{Worker: worker, Replicas: s.Replicas}
	if worker {
		req.AckWait, req.MaxDeliver = s.AckWait, s.MaxDeliver
	} else {
		req.MaxQueued = s.MaxQueued
	}
	body, _ := json.Marshal(req)
	m, err := l.nc.RequestWithContext(ctx, s.control("setup"), body)
	if errors.Is(err, nats.ErrNoResponders) {
		// An external server without a control connection. A Client
		// could not withdraw or delete its tasks: it is refused. A
		// Worker serves a queue an operator has set up.
		if !worker {
			return fmt.Errorf("remote: queue %q: %w answers on this server (run remote.ServeControl beside it; see the delivery note): its withdrawn tasks would stay queued and run", s.Queue, ErrNoControl)
		}
		if _, serr := l.js.Stream(ctx, s.stream); serr == nil {
			return nil
		}
		return fmt.Errorf("remote: setting up queue %q: %w answers and the queue has no stream (run remote.ServeControl beside the server, or set the queue up as an operator; see the delivery note): %w", s.Queue, ErrNoControl, err)
	}
	if err != nil {
		return fmt.Errorf("remote: setting up queue %q: %w", s.Queue, err)
	}
	return controlError(m.Data)
}

// Control is a control connection (see the top of this file) beside a
// NATS server of your own, configured with the permissions that
// docs/remote-delivery.md lists for its users. StartServer runs one inside
// an embedded server with Users; this is the same for an external one.
type Control struct{ c *control }

// ServeControl logs in to the server cfg names as an admin (cfg.User and
// cfg.Password, or cfg.NATS) and answers the control requests of users,
// whose Role and Queues it enforces (their passwords are not needed). It
// runs until Close; ctx bounds the connection only. Several may run at
// once: each request is answered by one of them, and they are idempotent.
func ServeControl(ctx context.Context, cfg Config, users []User) (*Control, error) {
	if ctx == nil {
		return nil, invalid("ServeControl with a nil context")
	}
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	check := make([]User, len(users))
	for i, u := range users {
		check[i] = u
		check[i].Password = "unused"
	}
	if err := checkUsers(check); err != nil {
		return nil, err
	}
	l, err := dial(ctx, &s, "vela-remote-control")
	if err != nil {
		return nil, err
	}
	c, err := startControl(l, users)
	if err != nil {
		l.close()
		return nil, err
	}
	if err := l.checkPermissions(ctx); err != nil {
		c.stop()
		return nil, err
	}
	return &Control{c}, nil
}

// Close stops answering and closes the connection. A second call does
// nothing.
func (c *Control) Close() {
	if c.c != nil {
		c.c.stop()
		c.c = nil
	}
}

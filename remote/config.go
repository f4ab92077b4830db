package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config says which NATS server and which queue a Client or Worker uses,
// and how tasks are delivered. The zero Config uses the process's shared
// embedded server and the queue "default".
//
// The queue's stream and consumer are created by whichever of Dial and
// Serve comes first, and both are safe when they race. The stream's bound
// (MaxQueued) is set by Dial, the consumer's AckWait and MaxDeliver by
// Serve; when Clients or Workers of one queue disagree, the last one to
// start wins.
type Config struct {
	URL        string        // the NATS server to use; "" means an embedded in-process server shared by the process, started on first use
	Server     *Server       // or this embedded server, in-process
	Queue      string        // which queue of tasks; "" means "default"; letters, digits, '-' and '_'
	Slots      int           // Serve: functions run at once; 0 means GOMAXPROCS
	AckWait    time.Duration // a delivered task with no sign of life for this long goes to another worker; 0 means 30s; workers signal progress while a function runs
	MaxDeliver int           // deliveries before a task fails with ErrWorkerLost; 0 means 3
	MaxQueued  int           // queued tasks beyond this are refused with workers.ErrQueueFull; 0 means no bound
	Codec      Codec         // nil means JSON (encoding/json); CBOR is the other one provided
	Replicas   int           // servers that keep a copy of the queue (its stream's replicas), for a cluster; 0 means 1
	Hooks      Hooks         // metrics and traces: what the observe module plugs in; zero means none

	// User and Password log in to a server with users (ServerConfig.Users,
	// or an external server configured as docs/remote-delivery.md says).
	// User is also the name under which this Client's or Worker's
	// subjects live. The password never appears in an error.
	User, Password string
	TLS            *tls.Config   // connect with TLS, verified against this configuration (RootCAs, a client certificate)
	NATS           []nats.Option // anything else nats.go takes (creds files, nkeys, JWTs), applied last
}

// settings is a Config with its defaults applied, and the subjects of
// its queue:
//
//	vela.<queue>.tasks.<user>.<client>.<batch>   a SpawnAll's tasks (the stream holds vela.<queue>.tasks.>)
//	vela.<queue>.tasks.<user>.<client>.s         a client's single Spawns (batch "<user>.<client>.s<n>" each)
//	vela.<queue>.cancel.<user>                   cancels, "<batch> <secret>" per line
//	_VELA.<user>.<queue>.<client>.(a|l|p).<n>    a client's publish acks, loss marks, purge answers
//	_VELA.<user>.<queue>.<client>.r.0            its replies (each names its task in its data)
//	_VELA.<user>.<queue>.<worker>.p.<n>          a worker's deliveries, by pull request
//
// <user> is Config.User, or "_" without one.
type settings struct {
	Config
	user                                  string // the user's token in subjects
	stream, tasksAll, tasksBase, advisory string
	cancels, cancelsAll, bucket           string
}

const consumerName = "workers"

func (c Config) settings() (settings, error) {
	s := settings{Config: c}
	switch {
	case c.URL != "" && c.Server != nil:
		return s, invalid("Config with both URL and Server")
	case c.Slots < 0:
		return s, invalid("Config.Slots %d", c.Slots)
	case c.AckWait < 0:
		return s, invalid("Config.AckWait %v", c.AckWait)
	case c.MaxDeliver < 0:
		return s, invalid("Config.MaxDeliver %d", c.MaxDeliver)
	case c.MaxQueued < 0:
		return s, invalid("Config.MaxQueued %d", c.MaxQueued)
	case c.Replicas < 0 || c.Replicas > 5:
		return s, invalid("Config.Replicas %d (1 to 5)", c.Replicas)
	case c.User != "" && !validName(c.User):
		return s, invalid("Config.User %q: use letters, digits, '-' and '_'", c.User)
	case c.Password != "" && c.User == "":
		return s, invalid("Config.Password without a User")
	}
	if s.Queue == "" {
		s.Queue = "default"
	}
	for _, r := range s.Queue {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return s, invalid("Config.Queue %q: use letters, digits, '-' and '_'", s.Queue)
		}
	}
	if s.Slots == 0 {
		s.Slots = runtime.GOMAXPROCS(0)
	}
	if s.AckWait == 0 {
		s.AckWait = 30 * time.Second
	}
	if s.MaxDeliver == 0 {
		s.MaxDeliver = 3
	}
	if s.Codec == nil {
		s.Codec = JSON
	}
	s.user = "_"
	if s.User != "" {
		s.user = s.User
	}
	s.stream = "VELA_" + s.Queue
	s.tasksBase = "vela." + s.Queue + ".tasks."
	s.tasksAll = s.tasksBase + ">"
	s.cancels = "vela." + s.Queue + ".cancel." + s.user
	s.cancelsAll = "vela." + s.Queue + ".cancel.*"
	s.bucket = "VELA_GIVEN_" + s.Queue
	s.advisory = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + s.stream + "." + consumerName
	return s, nil
}

// link is a connection to the queue's server, with what it needs to be
// released.
type link struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	srv    *Server // the in-process server, or nil for a URL
	shared bool    // srv is the shared embedded server
}

// dial connects to the server cfg names; opts add handlers. An embedded
// server is used in-process, without reconnection; a URL is reconnected to
// for ever.
func dial(ctx context.Context, s *settings, name string, opts ...nats.Option) (*link, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("remote: %s: %w", name, err)
	}
	l := &link{srv: s.Server}
	if s.URL != "" && strings.HasPrefix(s.URL, inProcessScheme) {
		srv, err := lookupInProcess(s.URL)
		if err != nil {
			return nil, fmt.Errorf("remote: %s: %w", name, err)
		}
		l.srv = srv
	}
	if s.URL == "" && s.Server == nil {
		srv, err := acquireShared()
		if err != nil {
			return nil, err
		}
		l.srv, l.shared = srv, true
	}
	url := s.URL
	opts = append(opts, nats.Name(name))
	if l.srv != nil {
		url = ""
		opts = append(opts, nats.InProcessServer(l.srv.ns), nats.NoReconnect())
	} else {
		opts = append(opts, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.ReconnectJitter(0, 0))
	}
	// The connection's handshake, login included, gets at most 5s (a
	// refused in-process login shows only as a closed pipe, at the end).
	timeout := 5 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	opts = append(opts, nats.Timeout(timeout))
	if s.User != "" {
		opts = append(opts, nats.UserInfo(s.User, s.Password), nats.CustomInboxPrefix("_VELA."+s.user+"._INBOX"))
	}
	if s.TLS != nil && l.srv == nil {
		opts = append(opts, nats.Secure(s.TLS))
	}
	opts = append(opts, s.NATS...)
	if l.srv != nil {
		if err := l.srv.checkLogin(s.User, s.Password); err != nil {
			l.release()
			return nil, fmt.Errorf("remote: %s: %w", name, err)
		}
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		l.release()
		return nil, fmt.Errorf("remote: %s: connecting to %q: %w", name, redact(s.URL), err)
	}
	l.nc = nc
	l.js, err = jetstream.New(nc)
	if err != nil {
		l.close()
		return nil, fmt.Errorf("remote: %s: %w", name, err)
	}
	return l, nil
}

func (s *settings) replicas() int { return max(s.Replicas, 1) }

// secured reports whether the connection logs in as a user, who then
// sets up and withdraws through the server's control connection.
func (s *settings) secured() bool { return s.User != "" }

// control is the subject of a control request (control.go).
func (s *settings) control(op string) string {
	return "vela." + s.Queue + ".ctl." + s.user + "." + op
}

// prefix is the subject prefix of a Client's or Worker's own subjects,
// "_VELA.<user>.<queue>.<id>.".
func (s *settings) prefix(id string) string {
	return "_VELA." + s.user + "." + s.Queue + "." + id + "."
}

// checkPermissions waits until the server has seen what was sent so far
// and reports a permission it refused (a subscription or a publish) as
// an error wrapping ErrNotPermitted.
func (l *link) checkPermissions(ctx context.Context) error {
	var err error
	if _, ok := ctx.Deadline(); ok {
		err = l.nc.FlushWithContext(ctx)
	} else {
		err = l.nc.FlushTimeout(5 * time.Second)
	}
	if last := l.nc.LastError(); errors.Is(last, nats.ErrPermissionViolation) {
		return fmt.Errorf("remote: %w: %w", ErrNotPermitted, last)
	}
	if err != nil {
		return fmt.Errorf("remote: %w", err)
	}
	return nil
}

// flush sends what is buffered (acknowledgements, cancels) before the
// connection closes; it does not wait for a server that is away.
func (l *link) flush() {
	if l.nc.IsConnected() {
		_ = l.nc.FlushTimeout(2 * time.Second)
	}
}

// close closes the connection and releases the shared server.
func (l *link) close() {
	if l.nc != nil {
		l.nc.Close()
	}
	l.release()
}

func (l *link) release() {
	if l.shared {
		l.shared = false
		releaseShared()
	}
}

// storage is where the queue's streams are kept: in memory on an embedded
// server without a Dir, in files otherwise.
func (l *link) storage() jetstream.StorageType {
	if l.srv != nil && l.srv.memory {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

func (l *link) streamConfig(s *settings) jetstream.StreamConfig {
	maxMsgs := int64(-1)
	if s.MaxQueued > 0 {
		maxMsgs = int64(s.MaxQueued)
	}
	return jetstream.StreamConfig{
		Name:      s.stream,
		Subjects:  []string{s.tasksAll},
		Retention: jetstream.WorkQueuePolicy,
		Storage:   l.storage(),
		Replicas:  s.replicas(),
		MaxMsgs:   maxMsgs,
		Discard:   jetstream.DiscardNew,
		// Duplicates is the window in which a task published again with
		// the same Nats-Msg-Id (a retry after a lost acknowledgement) is
		// stored once.
		Duplicates: dedupWindow,
	}
}

// dedupWindow is how long the server remembers a task's Nats-Msg-Id.
const dedupWindow = 2 * time.Minute

// ensureStream creates the queue's stream if it is missing. With setBound,
// an existing stream whose bound differs from s.MaxQueued is updated.
func (l *link) ensureStream(ctx context.Context, s *settings, setBound bool) error {
	want := l.streamConfig(s)
	_, err := l.js.CreateStream(ctx, want)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("remote: creating stream %s: %w", s.stream, err)
	}
	st, err := l.js.Stream(ctx, s.stream)
	if err != nil {
		return fmt.Errorf("remote: stream %s: %w", s.stream, err)
	}
	have := st.CachedInfo().Config
	if !setBound || have.MaxMsgs == want.MaxMsgs {
		return nil
	}
	have.MaxMsgs = want.MaxMsgs
	if _, err := l.js.UpdateStream(ctx, have); err != nil {
		return fmt.Errorf("remote: updating stream %s: %w", s.stream, err)
	}
	return nil
}

func consumerConfig(s *settings) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       consumerName,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.AckWait,
		MaxDeliver:    s.MaxDeliver,
		MaxAckPending: -1,
	}
}

// ensureConsumer creates the queue's consumer if it is missing; with
// update, it also sets an existing one's AckWait and MaxDeliver.
func (l *link) ensureConsumer(ctx context.Context, s *settings, update bool) (jetstream.Consumer, error) {
	var c jetstream.Consumer
	var err error
	if update {
		c, err = l.js.CreateOrUpdateConsumer(ctx, s.stream, consumerConfig(s))
	} else {
		c, err = l.js.CreateConsumer(ctx, s.stream, consumerConfig(s))
		if errors.Is(err, jetstream.ErrConsumerExists) {
			c, err = l.js.Consumer(ctx, s.stream, consumerName)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("remote: consumer of %s: %w", s.stream, err)
	}
	return c, nil
}

// redact returns urls, a comma-separated list of server URLs, with any
// password or token replaced by "xxxxx", for error messages.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		switch {
		case err != nil:
			parts[i] = "(unreadable URL)"
		case u.User != nil:
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			} else {
				u.User = url.User("xxxxx") // a token
			}
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

package remote_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/velalang/runtime/remote"
)

// placeLeaders moves the leader of a replicated stream to srvs[s] and the
// leader of its consumer to srvs[c], asking the current leaders to step
// down in favour of those servers, and returns once both are there.
//
// The cluster benchmarks need it: in a three-server cluster the round trip
// of one task at a time depends on where the leaders sit relative to the
// client's and the worker's servers (with the stream in files, 320 µs in
// one placement, up to 1 ms in another, for remote and the raw reference
// alike), and every run elects them at random. Both sides are measured
// with the same placement.
func placeLeaders(tb testing.TB, srvs []*remote.Server, stream, consumer string, s, c int) {
	tb.Helper()
	nc, err := nats.Connect(srvs[s].URL())
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	placed := func() (streamThere, consumerThere bool) {
		streamThere, _ = remote.Leads(srvs[s], stream, consumer)
		_, consumerThere = remote.Leads(srvs[c], stream, consumer)
		return streamThere, consumerThere
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, ct := placed()
		if st && ct {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the leaders of %s did not move to %s and %s", stream, remote.ServerName(srvs[s]), remote.ServerName(srvs[c]))
		}
		subject, to := "$JS.API.STREAM.LEADER.STEPDOWN."+stream, srvs[s]
		if st {
			subject, to = "$JS.API.CONSUMER.LEADER.STEPDOWN."+stream+"."+consumer, srvs[c]
		}
		// A refused or unanswered step-down is asked again next round.
		_, _ = nc.Request(subject, []byte(`{"placement":{"preferred":"`+remote.ServerName(to)+`"}}`), 2*time.Second)
		// The election takes a few hundred milliseconds.
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if s2, c2 := placed(); s2 != st || c2 != ct {
				break
			}
		}
	}
}

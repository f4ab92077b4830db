package remote_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/remote"
)

// TestClusterSpawnWhileStreamLeaderMoves spawns tasks without pause while
// the queue's stream changes leader three times (stepdowns, as in a
// rolling restart). A task published while no server leads the stream is
// answered by NATS with a 503 (no responders); the client sends it again
// instead of failing it, so every future settles with its value.
func TestClusterSpawnWhileStreamLeaderMoves(t *testing.T) {
	srvs := startCluster(t)
	cfg := remote.Config{URL: srvs[2].URL(), Queue: "moves", Replicas: 3, AckWait: 2 * time.Second, Slots: 4}
	eventually(t, "the cluster to accept the queue", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := remote.Dial(ctx, cfg)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	w, err := remote.Serve(context.Background(), cfg, testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(context.Background()) })
	c := dialURL(t, cfg)
	placeLeaders(t, srvs, "VELA_moves", "workers", 0, 1)

	type spawned struct {
		i int
		f *async.Future[int]
	}
	var (
		mu   sync.Mutex
		all  []spawned
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() { // at most 4,000 in flight, until the moves are over
		defer close(done)
		slots := make(chan struct{}, 4000)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case slots <- struct{}{}:
			}
			f := remote.Spawn[int](context.Background(), c, "add", pair{i, i})
			release := async.WakerFunc(func() { <-slots })
			if f.Poll(release).IsReady() {
				release()
			}
			mu.Lock()
			all = append(all, spawned{i, f})
			mu.Unlock()
		}
	}()
	t0 := time.Now()
	for _, to := range []int{1, 2, 0} {
		placeLeaders(t, srvs, "VELA_moves", "workers", to, (to+1)%3)
		mu.Lock()
		t.Logf("moved to %d after %v, %d spawned", to, time.Since(t0), len(all))
		mu.Unlock()
	}
	close(stop)
	<-done

	mu.Lock()
	defer mu.Unlock()
	for _, s := range all {
		v, err := await(t, s.f)
		if err != nil || v != 2*s.i {
			t.Fatalf("task %d of %d = %v, %v", s.i, len(all), v, err)
		}
	}
	t.Logf("%d tasks spawned across three stream leader changes", len(all))
}

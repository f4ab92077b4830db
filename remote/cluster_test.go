package remote_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/remote"
)

// startCluster starts three embedded servers on loopback as one cluster.
func startCluster(t *testing.T) []*remote.Server {
	t.Helper()
	ports := []int{freePort(t), freePort(t), freePort(t)}
	srvs := make([]*remote.Server, 3)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range srvs {
		var routes []string
		for j, p := range ports {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			srvs[i], errs[i] = remote.StartServer(remote.ServerConfig{
				Port: -1, Dir: t.TempDir(), NoSync: true,
				Cluster: &remote.ClusterConfig{Name: "vela-test", Server: fmt.Sprintf("s%d", i), Port: ports[i], Routes: routes},
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srvs[i].Shutdown)
	}
	return srvs
}

// urls lists the servers' URLs, the ones to avoid last.
func urls(srvs []*remote.Server, avoid *remote.Server) string {
	var first, last []string
	for _, s := range srvs {
		if s == avoid {
			last = append(last, s.URL())
		} else {
			first = append(first, s.URL())
		}
	}
	return strings.Join(append(first, last...), ",")
}

// clusterRun spawns 1,000 tasks on an R3 queue, stops the server victim
// picks once a fifth of them are done, and checks that every future
// settles right, NotIdempotent functions ran at most once, and work
// resumes; it returns the time from the stop to the next completed task.
func clusterRun(t *testing.T, queue string, victim func([]*remote.Server) *remote.Server) time.Duration {
	const n = 1000
	srvs := startCluster(t)
	cfg := remote.Config{URL: urls(srvs, nil), Queue: queue, Replicas: 3, AckWait: time.Second, Slots: 4}
	var boot *remote.Client
	eventually(t, "the cluster to accept the queue", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := remote.Dial(ctx, cfg)
		if err == nil {
			boot = c
		}
		return err == nil
	})
	_ = boot.Close()
	stop := victim(srvs)
	// Clients and workers connect to the other servers, so the stop cuts
	// no connection: what is tested is the leaders' change.
	cfg.URL = urls(srvs, stop)
	cfg.NATS = []nats.Option{nats.DontRandomize()}

	var mu sync.Mutex
	runs := map[int]int{}
	var last atomic.Int64 // Unix nanoseconds of the last completion
	reg := remote.NewRegistry()
	work := func(_ context.Context, i int) (int, error) {
		time.Sleep(time.Millisecond)
		last.Store(time.Now().UnixNano())
		return 2 * i, nil
	}
	must(remote.Register(reg, "twice", work))
	must(remote.Register(reg, "twiceOnce", func(ctx context.Context, i int) (int, error) {
		mu.Lock()
		runs[i]++
		mu.Unlock()
		return work(ctx, i)
	}, remote.NotIdempotent()))
	for range 2 {
		w, err := remote.Serve(context.Background(), cfg, reg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Shutdown(context.Background()) })
	}
	c := dialURL(t, cfg)
	fs := make([]*async.Future[int], n)
	var done atomic.Int64
	for i := range fs {
		name := "twice"
		if i%2 == 1 {
			name = "twiceOnce"
		}
		fs[i] = remote.Spawn[int](context.Background(), c, name, i)
		fs[i].Poll(async.WakerFunc(func() { done.Add(1) }))
	}
	eventually(t, "a fifth of the batch", func() bool { return done.Load() >= n/5 })
	stopped := time.Now()
	stop.Shutdown()
	eventually(t, "a task to complete after the stop", func() bool { return last.Load() > stopped.UnixNano() })
	resumed := time.Unix(0, last.Load()).Sub(stopped)

	lost := 0
	for i, f := range fs {
		v, err := await(t, f)
		switch {
		case err == nil && v == 2*i:
		case err != nil && i%2 == 1 && errors.Is(err, remote.ErrWorkerLost):
			lost++
		default:
			t.Fatalf("task %d = %v, %v", i, v, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, k := range runs {
		if k > 1 {
			t.Fatalf("NotIdempotent task %d ran %d times", i, k)
		}
	}
	t.Logf("%s: next task completed %v after the stop; %d NotIdempotent tasks failed as lost", queue, resumed, lost)
	return resumed
}

func TestClusterStreamLeaderStopsMidBatch(t *testing.T) {
	clusterRun(t, "r3s", func(srvs []*remote.Server) *remote.Server {
		for _, s := range srvs {
			if remote.IsStreamLeader(s, "r3s") {
				return s
			}
		}
		t.Fatal("no stream leader")
		return nil
	})
}

func TestClusterMetaLeaderStopsMidBatch(t *testing.T) {
	clusterRun(t, "r3m", func(srvs []*remote.Server) *remote.Server {
		for _, s := range srvs {
			if remote.IsMetaLeader(s) {
				return s
			}
		}
		t.Fatal("no meta leader")
		return nil
	})
}

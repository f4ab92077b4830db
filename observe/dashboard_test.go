package observe_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/velalang/runtime/observe"
	"github.com/velalang/runtime/workers"
)

// The page is self-contained: nothing in it points outside its own origin,
// and its script fetches data.json beside it.
func TestDashboardPageIsSelfContained(t *testing.T) {
	o, err := observe.New(observe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	srv := httptest.NewServer(http.StripPrefix("/vela", observe.Handler(o)))
	defer srv.Close()
	defer http.DefaultClient.CloseIdleConnections()
	res, err := http.Get(srv.URL + "/vela/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("Content-Security-Policy %q: the page may load from elsewhere", csp)
	}
	// The only absolute URL allowed is the SVG namespace, which is a name.
	for _, u := range regexp.MustCompile(`https?://[^\s"'<>)]+`).FindAllString(string(page), -1) {
		if u != "http://www.w3.org/2000/svg" {
			t.Errorf("the page refers to %s", u)
		}
	}
	if !strings.Contains(string(page), `fetch("data.json"`) {
		t.Error("the page does not poll data.json beside it")
	}
	res, err = http.Get(srv.URL + "/vela/elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown path: %d, want 404", res.StatusCode)
	}
}

func TestDataJSONAndWatchPool(t *testing.T) {
	o, err := observe.New(observe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	// A pool made elsewhere: its gauges and counters, no durations.
	p, _ := workers.NewPool(workers.Config{MaxWorkers: 3})
	if err := o.WatchPool("", p); err == nil {
		t.Error("WatchPool without a name was accepted")
	}
	if err := o.WatchPool("elsewhere", nil); err == nil {
		t.Error("WatchPool(nil) was accepted")
	}
	if err := o.WatchPool("elsewhere", p); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	release := make(chan struct{})
	started := make(chan struct{})
	f := workers.Spawn(ctx, func(context.Context) (int, error) { close(started); <-release; return 1, nil },
		workers.OnPool(p), workers.WithName(`<img src=x onerror="alert(1)">`))
	<-started

	res, err := http.Get(httptestURL(t, o) + "/data.json")
	if err != nil {
		t.Fatal(err)
	}
	var s observe.Snapshot
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if len(s.Pools) != 1 || s.Pools[0].Name != "elsewhere" || s.Pools[0].MaxWorkers != 3 || s.Pools[0].RunningTotal != 1 ||
		len(s.Pools[0].Running) != 1 || s.Pools[0].Running[0].Name != `<img src=x onerror="alert(1)">` {
		t.Errorf("data.json: %+v", s.Pools)
	}
	close(release)
	if _, err := f.Await(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(o, "vela_pool_tasks_total"); n != 4 {
		t.Errorf("%d vela_pool_tasks_total series for the watched pool, want 4", n)
	}
	if n := testutil.CollectAndCount(o, "vela_pool_task_run_seconds"); n != 0 {
		t.Errorf("a pool without the Observer's hooks has %d run-time series", n)
	}
}

func httptestURL(t *testing.T, o *observe.Observer) string {
	srv := httptest.NewServer(observe.Handler(o))
	t.Cleanup(srv.Close)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	return srv.URL
}

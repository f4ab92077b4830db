package observe_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/velalang/runtime/observe"
	"github.com/velalang/runtime/observe/internal/demo"
)

// requireBrowser, set by .ci/run, turns the skip of the browser test (no
// Chromium on this machine) into a failure.
const requireBrowser = "VELA_REQUIRE_BROWSER"

// screenshotEnv names the file the browser test writes its screenshot to
// (the README's docs/dashboard.png is made with it); by default it goes to
// the test's temporary directory.
const screenshotEnv = "VELA_SCREENSHOT"

func chromium(t *testing.T) string {
	for _, p := range []string{os.Getenv("VELA_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv(requireBrowser) != "" {
		t.Fatalf("no Chromium found (install Debian's chromium package, or set VELA_CHROMIUM), and %s is set", requireBrowser)
	}
	t.Skip("no Chromium on this machine: install Debian's chromium package to run the dashboard's browser test")
	return ""
}

// TestDashboardInChromium opens the dashboard of the demo workload in
// headless Chromium, waits until its figures have changed twice without a
// reload, checks that every pool and the queue are shown with plausible
// numbers and that the charts have points, and takes a screenshot.
func TestDashboardInChromium(t *testing.T) {
	path := chromium(t)
	o, err := observe.New(observe.Options{Sample: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	d, err := demo.Start(o, demo.Options{Life: 2 * time.Second, Dead: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	srv := httptest.NewServer(observe.Handler(o))
	defer srv.Close()

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1500, 1300),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, stop := context.WithTimeout(ctx, 90*time.Second)
	defer stop()
	if _, err := chromedp.Run(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatalf("opening the dashboard: %v", err)
	}

	// The figures change twice without a reload: three different values
	// of the images pool's completed count, and the page's update count
	// rising with them.
	fig := func(id string) string {
		js := fmt.Sprintf(`(document.querySelector('[data-fig=%q]')||{}).textContent||""`, id)
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("reading %s: %v", id, err)
		}
		return s
	}
	var seen []string
	for len(seen) < 3 {
		if ctx.Err() != nil {
			t.Fatalf("the figures did not change twice: saw %q", seen)
		}
		if v := fig("images/completed"); v != "" && (len(seen) == 0 || seen[len(seen)-1] != v) {
			seen = append(seen, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
	updates, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.updates`))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.Atoi(updates); n < 3 {
		t.Errorf("page updated %s times, want at least 3", updates)
	}

	number := func(id string) int {
		n, err := strconv.Atoi(strings.ReplaceAll(fig(id), ",", ""))
		if err != nil {
			t.Errorf("figure %s is %q, not a number", id, fig(id))
		}
		return n
	}
	for _, p := range []string{"images", "io", "vela-remote-jobs"} {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll('[data-pool=%q]').length`, p)))
		if err != nil || n != 1 {
			t.Errorf("pool %s shown %d times (%v), want once", p, n, err)
		}
		if b := number(p + "/busy"); b < 0 || b > 6 {
			t.Errorf("pool %s: %d workers busy, beyond its bound", p, b)
		}
	}
	if c := number("images/completed"); c < 10 {
		t.Errorf("images: %d completed after several seconds of load", c)
	}
	if f := number("images/failed"); f < 1 {
		t.Errorf("images: no failure shown (the demo fails 9%% of its tasks)")
	}
	if w := number("queue:jobs/workers"); w < 1 || w > 2 {
		t.Errorf("queue jobs: %d workers, want 1 or 2", w)
	}
	if s := number("queue:jobs/slots"); s < 2 {
		t.Errorf("queue jobs: %d slots", s)
	}
	if c := number("vela-remote-jobs/completed"); c < 1 {
		t.Errorf("the queue's worker pool completed nothing")
	}
	// Each chart has a line per outcome with the samples as points.
	js := `[...document.querySelectorAll('svg[data-chart="images"] polyline')].map(p => p.points.numberOfItems)`
	pts, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](js))
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 4 || pts[0] < 3 {
		t.Errorf("images chart: polylines with %v points, want 4 lines of at least 3", pts)
	}

	out := os.Getenv(screenshotEnv)
	if out != "" {
		// For the README's picture, let the charts fill in first.
		for pts[0] < 40 && ctx.Err() == nil {
			time.Sleep(250 * time.Millisecond)
			if pts, err = chromedp.Run(ctx, chromedp.Evaluate[[]int](js)); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		out = t.TempDir() + "/dashboard.png"
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("the screenshot is not a PNG (%d bytes)", len(png))
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot (%d bytes) in %s; figures seen: %q", len(png), out, seen)
}

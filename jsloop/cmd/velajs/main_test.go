package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const examples = "../../examples"

// velajs runs the command in this process and returns its status and
// output.
func velajs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut)
	if ctx.Err() != nil {
		t.Fatalf("velajs %v did not finish", args)
	}
	return code, out.String(), errOut.String()
}

func TestPrimesExample(t *testing.T) {
	code, out, errOut := velajs(t, filepath.Join(examples, "primes.js"), "20000", "4")
	if code != exitOK {
		t.Fatalf("status %d, stderr %s", code, errOut)
	}
	// 2262 primes below 20000.
	if !strings.Contains(out, "primes below 20000: 2262 (4 chunks counted in parallel by spawnJS") {
		t.Errorf("output %q", out)
	}
}

func TestFanOutExample(t *testing.T) {
	code, out, errOut := velajs(t, filepath.Join(examples, "fanout.js"))
	if code != exitOK {
		t.Fatalf("status %d, stderr %s", code, errOut)
	}
	names, err := os.ReadDir(filepath.Join(examples, "data"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range names {
		b, err := os.ReadFile(filepath.Join(examples, "data", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if line := hex.EncodeToString(sum[:]) + "  " + e.Name(); !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

func TestTimeoutExample(t *testing.T) {
	start := time.Now()
	code, out, errOut := velajs(t, filepath.Join(examples, "timeout.js"))
	if code != exitOK {
		t.Fatalf("status %d, stderr %s", code, errOut)
	}
	for _, want := range []string{"spawn timeout: TimeoutError", "spawn abort: AbortError", "spawnJS timeout: TimeoutError", "AbortSignal.timeout: TimeoutError"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Four 10 s sleeps and an endless loop, each cut at 100 ms.
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("took %v: the timeouts did not cut the work", d)
	}
}

func TestErrors(t *testing.T) {
	if code, _, _ := velajs(t); code != exitUsage {
		t.Errorf("no script: status %d", code)
	}
	if code, _, _ := velajs(t, filepath.Join(t.TempDir(), "missing.js")); code != exitError {
		t.Errorf("missing script: status %d", code)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "throws.js")
	if err := os.WriteFile(script, []byte("spawn('readFile', '/no/such/file').then(() => 1)"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := velajs(t, script)
	if code != exitError || !strings.Contains(errOut, "GoError") {
		t.Errorf("rejected spawn: status %d, stderr %q", code, errOut)
	}
	if err := os.WriteFile(script, []byte("spawn('sleep', 'soon')"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := velajs(t, script); code != exitError || !strings.Contains(errOut, "needs a number") {
		t.Errorf("bad argument: status %d, stderr %q", code, errOut)
	}
}

// syncWriter lets the test read what the command writes meanwhile.
type syncWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	seen chan struct{} // closed at the first write
	once sync.Once
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.once.Do(func() { close(w.seen) })
	return w.buf.Write(p)
}

func TestInterruptCancelsEverythingAndExits(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "long.js")
	src := `
		console.log('started');
		Promise.all([spawn('sleep', 60000), spawn('sleep', 60000), spawnJS('spinner', 'spin')])`
	must(t, os.WriteFile(script, []byte(src), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "spinner.js"), []byte("exports.spin = () => { for (;;) {} }"), 0o644))
	out := &syncWriter{seen: make(chan struct{})}
	var errOut bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(context.Background(), []string{script}, out, &errOut) }()
	<-out.seen // the script runs, so the signal handler is installed
	start := time.Now()
	must(t, syscall.Kill(os.Getpid(), syscall.SIGINT))
	select {
	case code := <-done:
		if code != exitInterrupted {
			t.Errorf("status %d, stderr %q", code, errOut.String())
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("exit took %v after Ctrl-C", d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("velajs did not exit after SIGINT")
	}
	// goleak (TestMain) checks that the workers and the spinning runtime
	// are gone.
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestStreamsExample(t *testing.T) {
	code, out, errOut := velajs(t, filepath.Join(examples, "streams.js"), "20000")
	if code != exitOK {
		t.Fatalf("status %d, stderr %s", code, errOut)
	}
	for _, want := range []string{
		"streamed 2262 primes below 20000, the last 19997",
		"a channel between two workers: 100 squares sent, 100 received, sum 338350",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestBrokenSiblingBreaksOnlyItsUsers: a sibling module that does not
// compile fails only the scripts that call it.
func TestBrokenSiblingBreaksOnlyItsUsers(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "broken.js"), []byte("exports.f = ("), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "fine.js"), []byte("exports.f = () => 'fine'"), 0o644))
	script := filepath.Join(dir, "main.js")
	must(t, os.WriteFile(script, []byte("spawnJS('fine', 'f')"), 0o644))
	if code, out, errOut := velajs(t, script); code != exitOK || !strings.Contains(out, `"fine"`) {
		t.Errorf("a script that does not use the broken module: status %d, out %q, stderr %q", code, out, errOut)
	}
	must(t, os.WriteFile(script, []byte("spawnJS('broken', 'f')"), 0o644))
	if code, _, errOut := velajs(t, script); code != exitError || !strings.Contains(errOut, "SyntaxError") {
		t.Errorf("a script that uses it: status %d, stderr %q", code, errOut)
	}
}

// TestReadmeExample runs the README's JavaScript example as printed there,
// in a copy of the examples directory.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## JavaScript on the loop: jsloop")
	if !ok {
		t.Fatal("README has no jsloop section")
	}
	_, rest, ok = strings.Cut(rest, "```js\n")
	if !ok {
		t.Fatal("the jsloop section has no ```js block")
	}
	src, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("the ```js block is not closed")
	}
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "data"), 0o755))
	for _, name := range []string{"primes_worker.js", "stream_worker.js", "data/hello.txt", "data/numbers.txt", "data/vela.txt"} {
		b, err := os.ReadFile(filepath.Join(examples, name))
		if err != nil {
			t.Fatal(err)
		}
		must(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	script := filepath.Join(dir, "readme.js")
	must(t, os.WriteFile(script, []byte(src), 0o644))
	code, out, errOut := velajs(t, script)
	if code != exitOK || errOut != "" {
		t.Fatalf("status %d, stderr %q", code, errOut)
	}
	want := "9592 primes below 100000, 3 files hashed\nfirst prime above 100: 101\nsum of the first 10 squares: 385\n"
	if out != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

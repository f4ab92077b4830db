package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/velalang/runtime/observe"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestVelamon builds and runs the command: it prints a loopback address
// whose dashboard shows the two pools and the queue served by two workers,
// and once the child worker has been killed its tasks are delivered again
// to the worker in the process.
func TestVelamon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	bin := filepath.Join(t.TempDir(), "velamon")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-life", "1500ms", "-dead", "500ms")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the address: %v", err)
	}
	m := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("velamon printed %q, want a loopback URL", line)
	}
	var s observe.Snapshot
	sawTwo := false
	for ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
		res, err := http.Get("http://" + m[1] + "/data.json")
		if err != nil {
			continue
		}
		err = json.NewDecoder(res.Body).Decode(&s)
		res.Body.Close()
		if err != nil || len(s.Queues) != 1 {
			continue
		}
		q := s.Queues[0]
		sawTwo = sawTwo || q.Workers == 2
		if sawTwo && q.Redeliveries > 0 {
			break
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("never saw two workers on the queue and a redelivery after a kill: %+v", s.Queues)
	}
	names := map[string]bool{}
	for _, p := range s.Pools {
		names[p.Name] = p.Completed > 0
	}
	if !names["images"] || !names["io"] || !names["vela-remote-jobs"] {
		t.Errorf("pools with completed tasks: %v, want images, io and vela-remote-jobs", names)
	}
}

func TestVelamonServesLoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:0": true, "[::1]:8080": true, "localhost:0": true,
		":8080": false, "0.0.0.0:0": false, "192.168.1.2:80": false, "example.com:80": false, "nonsense": false} {
		if err := loopbackOnly(addr); (err == nil) != ok {
			t.Errorf("loopbackOnly(%q) = %v", addr, err)
		}
	}
}

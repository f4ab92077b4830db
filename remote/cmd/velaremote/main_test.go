package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// parentEnv makes the test binary run a long demo, for the tests that
// signal it.
const parentEnv = "VELAREMOTE_TEST_PARENT"

func TestMain(m *testing.M) {
	if url := os.Getenv(workerEnv); url != "" {
		os.Exit(serve(url)) // a worker process started by run
	}
	if os.Getenv(parentEnv) != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		if err := run(ctx, os.Stdout, 8, 2, 1<<30, 0); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// The demo, small: every result arrives and is checked although a worker
// process is killed a third of the way through.
func TestDemoSurvivesAKilledWorker(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), &out, 40, 2, 2000, 0.3); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"killed worker", "all 40 results arrived and are correct", "local pool"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDemoRefusesBadFlags(t *testing.T) {
	if err := run(context.Background(), &strings.Builder{}, 0, 1, 1, 0); err == nil {
		t.Fatal("no error for -tasks 0")
	}
}

// A signal to the demo alone (SIGTERM, SIGINT, or SIGKILL, which it cannot
// catch) leaves no worker process behind.
func TestSignalToTheParentStopsTheWorkers(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), parentEnv+"=1")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			pids := make(chan []int, 1)
			go func() {
				re := regexp.MustCompile(`worker processes, 1 slot each: \[([0-9 ]+)\]`)
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if m := re.FindStringSubmatch(sc.Text()); m != nil {
						var ps []int
						for _, f := range strings.Fields(m[1]) {
							p, _ := strconv.Atoi(f)
							ps = append(ps, p)
						}
						pids <- ps
					}
				}
				close(pids)
			}()
			var ps []int
			select {
			case ps = <-pids:
			case <-time.After(30 * time.Second):
				t.Fatal("the demo did not start its workers")
			}
			if len(ps) != 2 {
				t.Fatalf("worker pids %v", ps)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			deadline := time.Now().Add(20 * time.Second)
			for _, p := range ps {
				for alive(p) {
					if time.Now().After(deadline) {
						t.Fatalf("worker process %d still runs after %v to its parent", p, sig)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

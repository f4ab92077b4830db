// Command velaremote shows remote futures at work: it starts an embedded
// NATS server with a loopback listener, starts worker processes (this
// binary, re-executed), runs a CPU-heavy batch across them with a progress
// line, kills one worker with SIGKILL mid-batch, shows that every result
// still arrives, and runs the same batch on a local workers.Pool for
// comparison.
//
//	go run ./remote/cmd/velaremote [-tasks 300] [-workers 3] [-rounds 20000]
//
// SIGINT or SIGTERM stops the demo and its worker processes; a worker
// process also stops when its parent is gone (its stdin, a pipe from the
// parent, reaches end of file), even after a SIGKILL of the parent.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/remote"
	"github.com/velalang/runtime/workers"
)

// workerEnv, when set to a NATS URL, makes this binary a worker process.
const workerEnv = "VELAREMOTE_WORKER_URL"

// queue is the demo's queue; ackWait is short so that the killed worker's
// tasks move on quickly.
const (
	queue   = "velaremote"
	ackWait = time.Second
)

// Job is one task of the batch: hash a seed Rounds times.
type Job struct {
	Seed   int
	Rounds int
}

// Result is a job's digest and the process that computed it.
type Result struct {
	Sum uint64
	PID int
}

// hash is the CPU-heavy function, the same locally and remotely.
func hash(ctx context.Context, j Job) (Result, error) {
	var buf [32]byte
	binary.LittleEndian.PutUint64(buf[:], uint64(j.Seed))
	for i := range j.Rounds {
		if i%1024 == 0 && ctx.Err() != nil {
			return Result{}, context.Cause(ctx)
		}
		buf = sha256.Sum256(buf[:])
	}
	return Result{Sum: binary.LittleEndian.Uint64(buf[:]), PID: os.Getpid()}, nil
}

func main() {
	if url := os.Getenv(workerEnv); url != "" {
		os.Exit(serve(url))
	}
	tasks := flag.Int("tasks", 300, "tasks in the batch")
	nworkers := flag.Int("workers", 3, "worker processes")
	rounds := flag.Int("rounds", 20000, "SHA-256 rounds per task (about 10 ms for 20000)")
	killAt := flag.Float64("kill-at", 0.3, "fraction of the batch after which one worker is killed (0: none)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *tasks, *nworkers, *rounds, *killAt); err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "velaremote:", err)
		os.Exit(1)
	}
}

// serve is a worker process: one slot, until SIGTERM, SIGINT, SIGKILL or
// the end of its stdin (its parent is gone).
func serve(url string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ctx, orphaned := context.WithCancel(ctx)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin) // returns when the parent's end closes
		orphaned()
	}()
	reg := remote.NewRegistry()
	if err := remote.Register(reg, "hash", hash); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	w, err := remote.Serve(ctx, remote.Config{URL: url, Queue: queue, Slots: 1, AckWait: ackWait}, reg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	fmt.Println("ready")
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = w.Shutdown(sctx)
	return 0
}

// worker is a worker process seen from the demo.
type worker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser // held open while the worker should live
	done  chan struct{}  // closed once its stdout is drained
}

func startWorker(url string) (*worker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), workerEnv+"="+url)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w := &worker{cmd: cmd, stdin: in, done: make(chan struct{})}
	ready := make(chan bool, 1)
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(out)
		ready <- sc.Scan() && sc.Text() == "ready"
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			w.stop()
			return nil, fmt.Errorf("worker process %d did not start", cmd.Process.Pid)
		}
	case <-time.After(30 * time.Second):
		w.stop()
		return nil, fmt.Errorf("worker process %d did not start in 30s", cmd.Process.Pid)
	}
	return w, nil
}

// stop ends the process with SIGTERM (a no-op if it is dead) and waits.
func (w *worker) stop() {
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	_ = w.stdin.Close()
	_ = w.cmd.Wait()
	<-w.done
}

// run is the demo; it stops early, with its worker processes, when ctx
// ends.
func run(ctx context.Context, out io.Writer, tasks, nworkers, rounds int, killAt float64) error {
	if tasks <= 0 || nworkers <= 0 || rounds < 0 {
		return fmt.Errorf("-tasks and -workers must be positive, -rounds not negative")
	}
	srv, err := remote.StartServer(remote.ServerConfig{Port: -1})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	fmt.Fprintf(out, "embedded NATS server at %s\n", srv.URL())

	ws := make([]*worker, 0, nworkers)
	defer func() {
		for _, w := range ws {
			w.stop()
		}
	}()
	for range nworkers {
		w, err := startWorker(srv.URL())
		if err != nil {
			return err
		}
		ws = append(ws, w)
	}
	pids := make([]int, len(ws))
	for i, w := range ws {
		pids[i] = w.cmd.Process.Pid
	}
	fmt.Fprintf(out, "%d worker processes, 1 slot each: %v (this process: %d, %d cores)\n", len(ws), pids, os.Getpid(), runtime.NumCPU())

	c, err := remote.Dial(ctx, remote.Config{Server: srv, Queue: queue})
	if err != nil {
		return err
	}
	defer c.Close()

	jobs := make([]Job, tasks)
	for i := range jobs {
		jobs[i] = Job{Seed: i, Rounds: rounds}
	}
	want := make([]uint64, tasks)
	var wg sync.WaitGroup
	for i := range jobs { // the expected digests, computed while nothing else runs
		wg.Add(1)
		go func() { defer wg.Done(); r, _ := hash(ctx, jobs[i]); want[i] = r.Sum }()
	}
	wg.Wait()

	// The remote batch, one Spawn per task so progress can be shown.
	start := time.Now()
	fs := make([]*async.Future[Result], tasks)
	settled := make(chan struct{}, tasks) // one send per settled future
	wake := async.WakerFunc(func() { settled <- struct{}{} })
	for i, j := range jobs {
		fs[i] = remote.Spawn[Result](ctx, c, "hash", j, workers.WithTimeout(2*time.Minute))
		if fs[i].Poll(wake).IsReady() {
			wake()
		}
	}
	killed := 0
	victim := -1
	for n := 0; n < tasks; n++ {
		select {
		case <-settled:
		case <-ctx.Done():
			fmt.Fprintln(out)
			return fmt.Errorf("stopped: %w", context.Cause(ctx))
		}
		fmt.Fprintf(out, "\rremote: %d/%d done", n+1, tasks)
		if victim < 0 && killAt > 0 && float64(n+1) >= killAt*float64(tasks) && len(ws) > 1 {
			victim = len(ws) - 1
			killed = ws[victim].cmd.Process.Pid
			_ = ws[victim].cmd.Process.Signal(syscall.SIGKILL)
			fmt.Fprintf(out, "\nkilled worker %d with SIGKILL after %d results; the tasks it held go to other workers after AckWait (%v)\n", killed, n+1, ackWait)
		}
	}
	remoteTime := time.Since(start)
	fmt.Fprintln(out)

	byPID := map[int]int{}
	for i, f := range fs {
		r, err := f.Await(ctx)
		if err != nil {
			return fmt.Errorf("task %d: %w", i, err)
		}
		if r.Sum != want[i] {
			return fmt.Errorf("task %d: wrong digest", i)
		}
		byPID[r.PID]++
	}
	keys := make([]int, 0, len(byPID))
	for pid := range byPID {
		keys = append(keys, pid)
	}
	sort.Ints(keys)
	fmt.Fprintf(out, "all %d results arrived and are correct; tasks per worker:", tasks)
	for _, pid := range keys {
		note := ""
		if pid == killed {
			note = " (killed)"
		}
		fmt.Fprintf(out, " %d: %d%s", pid, byPID[pid], note)
	}
	fmt.Fprintln(out)

	// The same batch on a local pool of GOMAXPROCS workers.
	start = time.Now()
	fns := make([]func(context.Context) (Result, error), tasks)
	for i, j := range jobs {
		fns[i] = func(ctx context.Context) (Result, error) { return hash(ctx, j) }
	}
	if _, err := workers.SpawnAll(ctx, fns).Await(ctx); err != nil {
		return err
	}
	localTime := time.Since(start)
	fmt.Fprintf(out, "remote: %d tasks in %v (%.0f tasks/s, including the kill and its AckWait)\n", tasks, remoteTime.Round(time.Millisecond), float64(tasks)/remoteTime.Seconds())
	fmt.Fprintf(out, "local pool (%d workers): %d tasks in %v (%.0f tasks/s)\n", runtime.GOMAXPROCS(0), tasks, localTime.Round(time.Millisecond), float64(tasks)/localTime.Seconds())
	return nil
}

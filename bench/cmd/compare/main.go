// Command compare runs every workload of package workloads for this library
// and every peer, interleaved in one process (this library, a peer, this
// library, the next peer, ..., for several rounds), and prints Markdown
// tables of medians and of ratios against this library. With -o it also
// writes them into a file (BENCHMARKS.md).
//
//	go run ./cmd/compare                       # default rounds, stdout
//	go run ./cmd/compare -rounds 9 -o ../BENCHMARKS.md
//	go run ./cmd/compare -only 'FanOut|RoundTrip' -rounds 3
//
// Progress goes to stderr.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/velalang/runtime/bench/workloads"
)

func main() {
	testing.Init() // registers test.benchtime, which each measurement sets
	var (
		rounds    = flag.Int("rounds", 5, "interleaved rounds; medians and ratios are taken over them")
		out       = flag.String("o", "", "also write the report into this Markdown file (between the generated-section markers if it has them)")
		only      = flag.String("only", "", "regexp: run only workloads whose ID matches (IDs: "+ids()+")")
		libs      = flag.String("libs", "", "comma-separated libraries to run besides vela (default all: "+strings.Join(workloads.Libraries[1:], ",")+")")
		benchtime = flag.String("benchtime", "", "override the time budget of each timed measurement (e.g. 500ms); workloads measured once per run (1x) stay so")
	)
	s := &workloads.Sizes
	flag.IntVar(&s.FanOutTasks, "fanout-tasks", s.FanOutTasks, "2: tasks per fan-out batch")
	flag.DurationVar(&s.FanOutWork, "fanout-work", s.FanOutWork, "2: CPU time per fan-out task")
	flag.IntVar(&s.BlockTasks, "block-tasks", s.BlockTasks, "3a: blocking tasks")
	flag.IntVar(&s.BlockLimit, "block-limit", s.BlockLimit, "3a: concurrency limit")
	flag.DurationVar(&s.BlockSleep, "block-sleep", s.BlockSleep, "3a: sleep per task")
	flag.IntVar(&s.AntsTasks, "ants-tasks", s.AntsTasks, "3b: blocking tasks")
	flag.IntVar(&s.AntsLimit, "ants-limit", s.AntsLimit, "3b: concurrency limit")
	flag.DurationVar(&s.AntsSleep, "ants-sleep", s.AntsSleep, "3b: sleep per task")
	flag.DurationVar(&s.CPUWork, "cpu-work", s.CPUWork, "4: CPU time per task")
	flag.IntVar(&s.CPUTasksPerP, "cpu-tasks-per-p", s.CPUTasksPerP, "4: tasks per GOMAXPROCS")
	flag.DurationVar(&s.Timeout, "timeout", s.Timeout, "6: the task timeout")
	flag.IntVar(&s.QueuedTasks, "queued-tasks", s.QueuedTasks, "8: queued tasks")
	flag.IntVar(&s.BigTasks, "big-tasks", s.BigTasks, "10: tasks in the big batch")
	flag.IntVar(&s.CancelBatchTasks, "cancel-batch-tasks", s.CancelBatchTasks, "11: tasks in the cancelled batch")
	flag.Parse()
	if *rounds < 1 {
		fatalf("-rounds must be at least 1")
	}
	var re *regexp.Regexp
	if *only != "" {
		var err error
		if re, err = regexp.Compile(*only); err != nil {
			fatalf("-only: %v", err)
		}
	}
	keep := map[string]bool{workloads.Vela: true}
	if *libs == "" {
		for _, l := range workloads.Libraries {
			keep[l] = true
		}
	} else {
		for _, l := range strings.Split(*libs, ",") {
			keep[strings.TrimSpace(l)] = true
		}
	}

	var plan []*workloads.Workload
	for _, w := range workloads.All {
		if re == nil || re.MatchString(w.ID) {
			plan = append(plan, w)
		}
	}
	if len(plan) == 0 {
		fatalf("-only %q matches no workload (IDs: %s)", *only, ids())
	}

	if *out != "" {
		if err := checkTarget(*out); err != nil {
			fatalf("-o: %v", err)
		}
	}
	start := time.Now()
	res := run(plan, keep, *rounds, *benchtime)
	report := render(plan, keep, res, *rounds, time.Since(start))
	fmt.Print(report)
	if *out != "" {
		if err := writeReport(*out, report); err != nil {
			fatalf("%v", err)
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", *out)
	}
}

func ids() string {
	var s []string
	for _, w := range workloads.All {
		s = append(s, w.ID)
	}
	return strings.Join(s, ", ")
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compare: "+format+"\n", args...)
	os.Exit(2)
}

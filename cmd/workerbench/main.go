// Command workerbench measures the Worker API on the machine it runs on and
// prints the figures beside the seed's benchmark table (the targets and
// figures of the Python implementation described in TASK-050):
//
//	go run ./cmd/workerbench            # the table, in about 10 to 20 seconds
//	go run ./cmd/workerbench -json      # the same results as JSON
//	go run ./cmd/workerbench -h         # the flags that size each measurement
//
// It measures spawn overhead, throughput, cancellation latency (of a
// running and of a queued task), pool startup, timeout precision and the
// parallel speedup of a CPU-bound batch, using only the public API of
// packages workers and async. Progress goes to standard error, one line per
// measurement; the table (or JSON) goes to standard output.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is the whole program: it parses args, measures, and writes the report
// to stdout and progress to stderr. It returns the exit code: 0, or 1 if a
// measurement failed (or, with -strict, if a target was missed), or 2 for
// bad flags (0 for -h).
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	res, err := measureAll(cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "workerbench:", err)
		return 1
	}
	if cfg.JSON {
		err = writeJSON(stdout, res)
	} else {
		err = writeTable(stdout, res)
	}
	if err != nil {
		fmt.Fprintln(stderr, "workerbench:", err)
		return 1
	}
	if cfg.Strict && !res.allPass() {
		return 1
	}
	return 0
}

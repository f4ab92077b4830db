package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
)

// config sizes the measurements. The defaults take about 12 to 22 seconds
// on a 2-core machine, most of it in the timeout and speedup measurements,
// whose samples cost real time (a timeout each, ~20 ms of CPU per task).
type config struct {
	N              int           `json:"n"`               // spawn-overhead and cancellation samples
	Tasks          int           `json:"tasks"`           // tasks in one throughput batch
	Rounds         int           `json:"rounds"`          // throughput batches and speedup rounds
	CPUMs          int           `json:"cpu_ms"`          // CPU time of one speedup task, in ms
	StartupSamples int           `json:"startup_samples"` // pools started
	TimeoutSamples int           `json:"timeout_samples"` // tasks timed out
	Timeout        time.Duration `json:"timeout_ns"`      // the timeout of those tasks
	Ticks          int           `json:"ticks"`           // loop ticks beside a saturated pool
	JSON           bool          `json:"-"`
	Strict         bool          `json:"-"`
}

func defaultConfig() config {
	return config{
		N:              50000,
		Tasks:          100000,
		Rounds:         9,
		CPUMs:          20,
		StartupSamples: 5000,
		TimeoutSamples: 5000,
		Timeout:        time.Millisecond,
		Ticks:          100,
	}
}

// parseFlags reads args into a config. Errors and -h are reported on out.
func parseFlags(args []string, out io.Writer) (config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("workerbench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&cfg.N, "n", cfg.N, "samples of spawn overhead, and of each cancellation latency")
	fs.IntVar(&cfg.Tasks, "tasks", cfg.Tasks, "tiny tasks submitted at once in one throughput batch")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "throughput batches, and serial/parallel rounds of the speedup; the median counts")
	fs.IntVar(&cfg.CPUMs, "cpu-ms", cfg.CPUMs, "CPU time of one task of the speedup batch, in milliseconds")
	fs.IntVar(&cfg.StartupSamples, "startup-samples", cfg.StartupSamples, "pools started (NewPool until the first result)")
	fs.IntVar(&cfg.TimeoutSamples, "timeout-samples", cfg.TimeoutSamples, "tasks run into their timeout, one at a time")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "the WithTimeout of those tasks")
	fs.IntVar(&cfg.Ticks, "ticks", cfg.Ticks, "ticks of a 10 ms loop ticker measured beside a saturated pool (twice: GOMAXPROCS workers, and one fewer)")
	fs.BoolVar(&cfg.JSON, "json", false, "print the results as JSON instead of the table")
	fs.BoolVar(&cfg.Strict, "strict", false, "exit with status 1 if any target is missed")
	fs.Usage = func() {
		fmt.Fprintf(out, "usage: workerbench [flags]\n\n"+
			"Measures the Worker API on this machine and prints it beside the seed's\n"+
			"benchmark table. Progress goes to stderr, the table to stdout.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintln(out, "workerbench:", err)
		return cfg, err
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(out, "workerbench:", err)
		return cfg, err
	}
	return cfg, nil
}

func (c config) validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"-n", c.N}, {"-tasks", c.Tasks}, {"-rounds", c.Rounds}, {"-cpu-ms", c.CPUMs},
		{"-startup-samples", c.StartupSamples}, {"-timeout-samples", c.TimeoutSamples}, {"-ticks", c.Ticks},
	} {
		if f.v < 1 {
			return fmt.Errorf("%s must be at least 1, not %d", f.name, f.v)
		}
	}
	if c.Timeout <= 0 {
		return errors.New("-timeout must be positive")
	}
	return nil
}

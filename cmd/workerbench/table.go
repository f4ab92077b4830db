package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"unicode/utf8"
)

// results is everything the program reports; -json prints it as is.
type results struct {
	Machine machine `json:"machine"`
	Config  config  `json:"config"`
	Rows    []row   `json:"rows"`
	Seconds float64 `json:"seconds"` // wall time of all the measurements
}

func (r *results) allPass() bool {
	for _, row := range r.Rows {
		if !row.Pass {
			return false
		}
	}
	return true
}

type machine struct {
	OS         string `json:"goos"`
	Arch       string `json:"goarch"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Go         string `json:"go_version"`
}

func thisMachine() machine {
	return machine{runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version()}
}

func (m machine) String() string {
	return fmt.Sprintf("%s/%s, %d CPUs, GOMAXPROCS %d, %s", m.OS, m.Arch, m.NumCPU, m.GOMAXPROCS, m.Go)
}

// row is one line of the table: a measurement (filled in by its step)
// beside its target and the seed's figure (filled in by newRow and judge).
type row struct {
	ID      string  `json:"id"`
	Metric  string  `json:"metric"`
	Unit    string  `json:"unit"` // of P50 and P99: "ns", "tasks/s" or "x"
	Samples int     `json:"samples"`
	P50     float64 `json:"p50"` // the median
	P99     float64 `json:"p99,omitempty"`

	Target     string  `json:"target"`                  // as printed, e.g. "< 1 ms"
	TargetOurs bool    `json:"target_is_ours"`          // the seed has no target; this is the project's
	JudgedOn   string  `json:"judged_on"`               // "p50" or "p99": the figure held against the target
	SeedFigure string  `json:"seed_figure"`             // e.g. "~0.5 ms", or "—"
	Ratio      float64 `json:"ratio_vs_seed,omitempty"` // how many times better than the seed's figure (the median's)
	Pass       bool    `json:"pass"`
	Text       string  `json:"measured"` // the "measured here" cell

	Note     string             `json:"note,omitempty"`
	Problems []string           `json:"problems,omitempty"` // wrong behaviour seen while measuring; fails the row
	Extra    map[string]float64 `json:"extra,omitempty"`

	spec spec
}

// spec is what a row is held against.
type spec struct {
	metric     string
	unit       string
	judgedOn   string  // "p50" or "p99"
	op         string  // "<", "<=", ">" or ">="
	limit      float64 // in unit
	target     string
	ours       bool
	seedFigure string
	seedValue  float64 // in unit; 0 if the seed has no figure
}

const ms = 1e6 // ns

func specOf(id string) spec {
	switch id {
	case "spawn":
		return spec{"spawn overhead (Spawn+Await, no-op)", "ns", "p50", "<", 1 * ms, "< 1 ms", false, "~0.5 ms", 0.5 * ms}
	case "throughput":
		return spec{"throughput (tiny tasks, GOMAXPROCS pool)", "tasks/s", "p50", ">", 100, "> 100/s", false, "~200/s", 200}
	case "cancel_running":
		return spec{"cancellation latency, running task", "ns", "p99", "<", 50 * ms, "< 50 ms", false, "~10 ms", 10 * ms}
	case "cancel_queued":
		return spec{"cancellation latency, queued task", "ns", "p99", "<", 50 * ms, "< 50 ms", false, "~10 ms", 10 * ms}
	case "startup":
		return spec{"pool startup (NewPool → first result)", "ns", "p50", "<", 10 * ms, "< 10 ms", false, "~5 ms", 5 * ms}
	case "timeout":
		return spec{"timeout lateness (fn ignores ctx)", "ns", "p99", "<=", 2 * ms, "p99 ≤ 2 ms (ours)", true, "—", 0}
	case "speedup":
		// 0.9 × the cores the pool can use: ≥ 1.8× on 2 cores.
		procs := min(runtime.GOMAXPROCS(0), runtime.NumCPU())
		limit := 0.9 * float64(procs)
		return spec{"parallel speedup (CPU-bound batch)", "x", "p50", ">=", limit,
			"≥ " + fmtFloat(limit) + "× (ours)", true, "—", 0}
	case "loop_lateness":
		// An event loop beside a pool that fills every core still gets its
		// turns from the Go scheduler (which preempts a goroutine after
		// about 10 ms); the target says it is never starved.
		return spec{"loop timer lateness, pool saturated", "ns", "p99", "<", 50 * ms, "p99 < 50 ms (ours)", true, "—", 0}
	case "chan_throughput":
		return spec{"channel throughput (worker → goroutine, capacity 64)", "msgs/s", "p50", ">", 100e3, "> 100k msgs/s", false, "—", 0}
	case "chan_latency":
		return spec{"channel latency (Send → OnEach fn on the loop)", "ns", "p50", "<", 0.1 * ms, "< 100 µs", false, "—", 0}
	}
	panic("workerbench: no spec for " + id)
}

func newRow(id string) row {
	s := specOf(id)
	return row{ID: id, Metric: s.metric, Unit: s.unit, Target: s.target, TargetOurs: s.ours,
		JudgedOn: s.judgedOn, SeedFigure: s.seedFigure, spec: s}
}

// judge holds the measurement against its target and the seed's figure.
func (r *row) judge() {
	s := r.spec
	v := r.P50
	if s.judgedOn == "p99" {
		v = r.P99
	}
	switch s.op {
	case "<":
		r.Pass = v < s.limit
	case "<=":
		r.Pass = v <= s.limit
	case ">":
		r.Pass = v > s.limit
	case ">=":
		r.Pass = v >= s.limit
	}
	if len(r.Problems) > 0 {
		r.Pass = false
	}
	switch {
	case s.seedValue == 0 || r.P50 <= 0:
		r.Ratio = 0
	case s.unit == "ns":
		r.Ratio = s.seedValue / r.P50
	default:
		r.Ratio = r.P50 / s.seedValue
	}
	r.Text = r.measured()
}

// problem records wrong behaviour of the library seen while measuring.
func (r *row) problem(p string) { r.Problems = append(r.Problems, p) }

// measured is the "measured here" cell.
func (r *row) measured() string {
	switch r.Unit {
	case "tasks/s":
		return fmtRate(r.P50)
	case "msgs/s":
		return strings.Replace(fmtRate(r.P50), "tasks/s", "msgs/s", 1)
	case "x":
		return fmtFloat(r.P50) + "×"
	}
	if r.spec.judgedOn == "p50" {
		return "median " + fmtNs(r.P50) + " (p99 " + fmtNs(r.P99) + ")"
	}
	return "p50 " + fmtNs(r.P50) + " · p99 " + fmtNs(r.P99)
}

// vsSeed is the "vs seed figure" cell, e.g. "2300× faster".
func (r *row) vsSeed() string {
	if r.Ratio <= 0 {
		return "—"
	}
	better, worse := "faster", "slower"
	if r.Unit == "tasks/s" || r.Unit == "msgs/s" {
		better, worse = "higher", "lower"
	}
	if r.Ratio >= 1 {
		return fmtRatio(r.Ratio) + "× " + better
	}
	return fmtRatio(1/r.Ratio) + "× " + worse
}

func writeJSON(w io.Writer, res *results) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "< 1 ms", not "\u003c 1 ms"
	return enc.Encode(res)
}

// writeTable prints the machine, the table (as Markdown, so that it can be
// pasted into a document) and what the figures mean.
func writeTable(w io.Writer, res *results) error {
	var b strings.Builder
	fmt.Fprintf(&b, "workerbench: the Worker API measured on this machine, beside the seed's benchmark table\n")
	fmt.Fprintf(&b, "machine: %s\n\n", res.Machine)
	cells := [][]string{{"metric", "seed target", "seed figure", "measured here", "vs seed figure", "result"}}
	passed := 0
	for _, r := range res.Rows {
		result := "FAIL"
		if r.Pass {
			result, passed = "pass", passed+1
		}
		cells = append(cells, []string{r.Metric, r.Target, r.SeedFigure, r.Text, r.vsSeed(), result})
	}
	writeMarkdown(&b, cells)
	fmt.Fprintf(&b, "\n%d of %d targets met, in %.1f s.\n\n", passed, len(res.Rows), res.Seconds)
	b.WriteString("- Results: spawn overhead and pool startup are judged on the median, cancellation and\n" +
		"  timeout on p99, throughput and speedup on the median of the -rounds runs; \"vs seed figure\"\n" +
		"  compares the median with the seed's figure.\n")
	b.WriteString("- Seed: the targets and figures of the Python implementation (TASK-050, \"Performance\").\n" +
		"  \"(ours)\" marks this project's own targets where the seed has none; the speedup target\n" +
		"  is 0.9 × min(GOMAXPROCS, NumCPU).\n")
	b.WriteString("- Cancellation is timed from Cancel() to the return of an Await that was already blocked\n" +
		"  in another goroutine.\n")
	for _, r := range res.Rows {
		if r.Note != "" {
			fmt.Fprintf(&b, "- %s: %s.\n", r.Metric, r.Note)
		}
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "- PROBLEM, %s: %s.\n", r.Metric, p)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMarkdown writes cells as a Markdown table with aligned columns; the
// first row is the header.
func writeMarkdown(b *strings.Builder, cells [][]string) {
	widths := make([]int, len(cells[0]))
	for _, line := range cells {
		for i, c := range line {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cs []string) {
		for i, c := range cs {
			b.WriteString("| " + c + strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)) + " ")
		}
		b.WriteString("|\n")
	}
	line(cells[0])
	rule := make([]string, len(widths))
	for i, n := range widths {
		rule[i] = strings.Repeat("-", n)
	}
	line(rule)
	for _, cs := range cells[1:] {
		line(cs)
	}
}

// fmtNs formats a duration given in ns with three significant digits.
func fmtNs(ns float64) string {
	switch {
	case ns < 1e3:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 1e6:
		return sig3(ns/1e3) + " µs"
	case ns < 1e9:
		return sig3(ns/1e6) + " ms"
	}
	return sig3(ns/1e9) + " s"
}

// fmtRate formats tasks per second.
func fmtRate(r float64) string {
	switch {
	case r >= 1e6:
		return sig3(r/1e6) + " M tasks/s"
	case r >= 1e3:
		return sig3(r/1e3) + " k tasks/s"
	}
	return sig3(r) + " tasks/s"
}

// sig3 formats x ≥ 0 with three significant digits and no exponent.
func sig3(x float64) string {
	switch {
	case x < 10:
		return strconv.FormatFloat(x, 'f', 2, 64)
	case x < 100:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 0, 64)
}

// fmtFloat formats a small ratio such as a speedup: "1.93".
func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }

// fmtRatio rounds a ratio ≥ 1 to two significant digits, grouping the
// thousands of five digits or more: 4.56 → "4.6", 2345 → "2300",
// 23456 → "23,000".
func fmtRatio(x float64) string {
	if x < 10 {
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	p := math.Pow(10, math.Floor(math.Log10(x))-1)
	s := strconv.FormatFloat(math.Round(x/p)*p, 'f', 0, 64)
	if len(s) < 5 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

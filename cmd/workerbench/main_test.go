package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the tests if any goroutine is left behind: every pool the
// program starts must be shut down, every waiter must return.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// tinyArgs sizes every measurement to run in well under a second.
var tinyArgs = []string{"-n", "20", "-tasks", "200", "-rounds", "1", "-cpu-ms", "2",
	"-startup-samples", "5", "-timeout-samples", "5", "-timeout", "1ms", "-ticks", "3"}

var ids = []string{"spawn", "throughput", "cancel_running", "cancel_queued", "startup", "timeout", "speedup", "loop_lateness", "chan_throughput", "chan_latency"}

func TestRunPrintsTable(t *testing.T) {
	var out, progress bytes.Buffer
	if code := run(tinyArgs, &out, &progress); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, &progress)
	}
	table := out.String()
	for _, want := range []string{"machine: ", "| metric ", "| seed target ", "| measured here ", "| vs seed figure ", "targets met"} {
		if !strings.Contains(table, want) {
			t.Errorf("output lacks %q:\n%s", want, table)
		}
	}
	for _, id := range ids {
		s := specOf(id)
		if !strings.Contains(table, "| "+s.metric+" ") || !strings.Contains(table, s.target) || !strings.Contains(table, s.seedFigure) {
			t.Errorf("no row for %s (%q, %q, %q):\n%s", id, s.metric, s.target, s.seedFigure, table)
		}
	}
	if rows := strings.Count(table, "| pass ") + strings.Count(table, "| FAIL "); rows != len(ids) {
		t.Errorf("%d rows with a result, want %d:\n%s", rows, len(ids), table)
	}
	steps := 0
	for _, line := range strings.Split(progress.String(), "\n") {
		if strings.HasPrefix(line, "[") {
			steps++
			if !strings.HasSuffix(line, " s)") {
				t.Errorf("unfinished progress line %q", line)
			}
		}
	}
	if !strings.HasPrefix(progress.String(), "workerbench: ") || steps != len(ids) {
		t.Errorf("progress shows %d steps, want a machine line and %d:\n%s", steps, len(ids), &progress)
	}
}

func TestRunJSON(t *testing.T) {
	var out, progress bytes.Buffer
	if code := run(append([]string{"-json"}, tinyArgs...), &out, &progress); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, &progress)
	}
	var res results
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, &out)
	}
	if res.Machine.NumCPU < 1 || res.Machine.GOMAXPROCS < 1 || res.Machine.Go == "" || res.Machine.OS == "" {
		t.Errorf("machine = %+v", res.Machine)
	}
	if res.Config.N != 20 || res.Config.Timeout != time.Millisecond {
		t.Errorf("config = %+v, want the flags", res.Config)
	}
	if len(res.Rows) != len(ids) {
		t.Fatalf("%d rows, want %d", len(res.Rows), len(ids))
	}
	for i, r := range res.Rows {
		if r.ID != ids[i] {
			t.Errorf("row %d is %q, want %q", i, r.ID, ids[i])
		}
		if r.Samples < 1 || r.P50 <= 0 || r.Text == "" || r.Target == "" || r.JudgedOn == "" {
			t.Errorf("row %s = %+v", r.ID, r)
		}
		switch r.Unit {
		case "ns":
			// Every latency is positive and, even under the race detector
			// on a busy machine, far below a second.
			if r.P99 < r.P50 || r.P99 > float64(time.Second) {
				t.Errorf("%s: p50 %v ns, p99 %v ns", r.ID, r.P50, r.P99)
			}
		case "tasks/s", "msgs/s", "x":
		default:
			t.Errorf("%s: unit %q", r.ID, r.Unit)
		}
		if r.SeedFigure != "—" && r.Ratio <= 0 {
			t.Errorf("%s: ratio %v against seed figure %s", r.ID, r.Ratio, r.SeedFigure)
		}
	}
	if sp := res.Rows[6]; sp.P50 <= 0 || sp.Extra["serial_ns"] <= 0 || sp.Extra["pool_ns"] <= 0 || sp.Extra["goroutines_speedup"] <= 0 {
		t.Errorf("speedup row = %+v", sp)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-n", "0"}, {"-tasks", "-1"}, {"-timeout", "0s"}, {"-nope"}, {"extra"}} {
		var out, errs bytes.Buffer
		if code := run(args, &out, &errs); code != 2 || out.Len() != 0 || errs.Len() == 0 {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want 2, nothing, a message", args, code, &out, &errs)
		}
	}
}

func TestHelp(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run([]string{"-h"}, &out, &errs); code != 0 || !strings.Contains(errs.String(), "-timeout-samples") {
		t.Errorf("run(-h) = %d, stderr %q; want 0 and the flags", code, &errs)
	}
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fmtRatio(4.56), "4.6"}, {fmtRatio(23.4), "23"}, {fmtRatio(2345), "2300"}, {fmtRatio(23456), "23,000"},
		{fmtRatio(1234567), "1,200,000"},
		{fmtNs(850), "850 ns"}, {fmtNs(1500), "1.50 µs"}, {fmtNs(12_345_678), "12.3 ms"}, {fmtNs(2e9), "2.00 s"},
		{fmtRate(1_510_000), "1.51 M tasks/s"}, {fmtRate(200), "200 tasks/s"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	r := newRow("spawn")
	r.P50, r.P99 = 2e3, 9e3 // 2 µs against the seed's 0.5 ms
	r.judge()
	if !r.Pass || r.vsSeed() != "250× faster" {
		t.Errorf("spawn at 2 µs: pass %v, %q", r.Pass, r.vsSeed())
	}
	r = newRow("throughput")
	r.P50 = 50 // below the seed's target of 100/s and its figure of 200/s
	r.judge()
	if r.Pass || r.vsSeed() != "4.0× lower" {
		t.Errorf("throughput at 50/s: pass %v, %q", r.Pass, r.vsSeed())
	}
	r = newRow("timeout")
	r.P50, r.P99 = 1e5, 3e6 // p99 3 ms misses our 2 ms
	r.judge()
	if r.Pass || r.vsSeed() != "—" {
		t.Errorf("timeout p99 3 ms: pass %v, %q", r.Pass, r.vsSeed())
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	if q := quantile(xs, 0.5); q != 3 {
		t.Errorf("median = %v, want 3", q)
	}
	if q := quantile(xs, 0.99); q != 5 {
		t.Errorf("p99 = %v, want 5", q)
	}
	if q := quantile([]float64{}, 0.5); q != 0 {
		t.Errorf("quantile of nothing = %v", q)
	}
}

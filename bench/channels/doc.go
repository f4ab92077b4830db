// Package channels measures package channel against a native Go channel and
// the unbounded channels Go users pick, and workers.Map against an
// errgroup pipeline and conc's stream. Its benchmarks are in
// channels_test.go; BENCHMARKS.md (section "Channels") has the figures and
// the commands.
package channels
